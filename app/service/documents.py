"""Documents of a knowledge base: ingest (uploads and paths), list, preview, download, delete, re-ingest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.catalog import KnowledgeBase
from app.models import Chunk, Document
from app.runtime import Runtime
from app.service import access
from ingest.details import DocumentDetails, read_details
from ingest.pipeline import (
    IngestOutcome,
    Progress,
    delete_document,
    failed,
    ingest_bytes,
    ingest_many,
    ingest_paths,
    recover,
    source_path,
)


@dataclass(frozen=True)
class DocumentRow:
    """One document as the Library table shows it (all text, so the table has no 3.0 / NaN)."""

    name: str
    pages: str
    chunks: int
    added: str
    size: str
    id: str


def open_for_upload(rt: Runtime, kb_name: str) -> KnowledgeBase:
    """The knowledge base to ingest into, created if missing, cleared of debris from interrupted writes."""
    kb = _writable(rt, kb_name)
    recover(rt, kb)
    return kb


def _writable(rt: Runtime, kb_name: str) -> KnowledgeBase:
    """The knowledge base, if the user may add documents to it; created (and audited) if missing."""
    created = access.require_writer(rt, kb_name)
    kb = rt.open_or_create_kb(kb_name)
    if created:
        access.record(rt, "kb create", kb.name)
    return kb


def ingest_upload(
    rt: Runtime, kb_name: str, name: str, data: bytes, progress: Progress | None = None
) -> IngestOutcome:
    """One uploaded file into the knowledge base (created if missing). Never raises for a bad file."""
    kb = _writable(rt, kb_name)
    return _logged(rt, kb, [ingest_bytes(rt, kb, name, data, progress)])[0]


def ingest_uploads(
    rt: Runtime, kb_name: str, files: Iterable[tuple[str, bytes]], progress: Progress | None = None
) -> list[IngestOutcome]:
    """Many uploaded (name, bytes) files, embedded together; one outcome per file, in order."""
    kb = open_for_upload(rt, kb_name)
    return _logged(rt, kb, ingest_many(rt, kb, list(files), progress))


def ingest_files(
    rt: Runtime, kb_name: str, paths: Iterable[Path], progress_for: Callable[[str], Progress] | None = None
) -> Iterator[IngestOutcome]:
    """Files and folders on this machine (recursively), in groups; one outcome per file, in order."""
    _writable(rt, kb_name)
    for outcome in ingest_paths(rt, kb_name, paths, progress_for):
        yield _logged(rt, rt.catalog.get_kb(kb_name), [outcome])[0]


def ingest_history(rt: Runtime, kb_name: str, limit: int = 200) -> list[dict]:
    """What happened to the files given to the knowledge base, newest first (time, file, outcome, detail)."""
    access.require(rt, kb_name, access.VIEWER, "see its ingest history")
    return rt.catalog.ingest_log(rt.catalog.get_kb(kb_name), limit)


def _logged(
    rt: Runtime, kb: KnowledgeBase, outcomes: list[IngestOutcome], action: str = "upload"
) -> list[IngestOutcome]:
    rt.catalog.log_ingest(kb, [(o.name, o.status.value, o.summary()) for o in outcomes])
    access.record_ingest(rt, kb.name, outcomes, action)
    return outcomes


def listing(rt: Runtime, kb_name: str) -> list[Document]:
    """The ready documents, by name."""
    access.require(rt, kb_name, access.VIEWER, "see its documents")
    return rt.catalog.documents(rt.catalog.get_kb(kb_name))


def rows(docs: list[Document]) -> list[DocumentRow]:
    return [
        DocumentRow(
            name=d.name,
            pages="-" if d.pages is None else str(d.pages),
            chunks=d.chunks,
            added=time.strftime("%Y-%m-%d %H:%M", time.localtime(d.added_at)),
            size=human_size(d.size),
            id=d.doc_id[:12],
        )
        for d in docs
    ]


def chunks(rt: Runtime, kb_name: str, doc_id: str) -> list[Chunk]:
    """A document's chunks in order."""
    access.require(rt, kb_name, access.VIEWER, "see its documents")
    return rt.store.document_chunks(rt.open_kb(kb_name), doc_id)


def details(rt: Runtime, kb_name: str, doc_id: str) -> DocumentDetails | None:
    """What parsing learnt about a document (encoding, OCR'd pages, running headers and footers, tables,
    sections); None for documents stored before these were recorded, or whose original is gone."""
    path = original(rt, kb_name, doc_id)
    return None if path is None else read_details(path)


def original(rt: Runtime, kb_name: str, doc_id: str) -> Path | None:
    """The kept original of a ready document, or None if the document or its file is gone."""
    access.require(rt, kb_name, access.VIEWER, "see its documents")
    kb = rt.catalog.get_kb(kb_name)
    doc = rt.catalog.get_document(kb, doc_id)
    return None if doc is None else kept_originals(rt, kb, {doc.doc_id: doc.name}).get(doc.doc_id)


def kept_originals(rt: Runtime, kb: KnowledgeBase, names: dict[str, str]) -> dict[str, Path]:
    """doc id -> path of its kept original, for the given (doc id -> file name) whose file still exists."""
    paths = {doc_id: source_path(rt, kb, doc_id, name) for doc_id, name in names.items()}
    return {doc_id: path for doc_id, path in paths.items() if path.exists()}


def delete(rt: Runtime, kb_name: str, name_or_id: str) -> Document:
    """Delete a document by file name or id; returns what was deleted."""
    access.require(rt, kb_name, access.EDITOR, "delete documents")
    doc = delete_document(rt, kb_name, name_or_id)
    access.record(rt, "delete", kb_name, doc.name, doc.doc_id)
    return doc


def reingest(rt: Runtime, kb_name: str, doc: Document, progress: Progress | None = None) -> IngestOutcome:
    """Parse, chunk and embed a document again from its kept original (e.g. after changing chunk size).

    The id is the hash of the bytes, so the old version must go before the new one can be written:
    between the two steps the document is briefly absent from search.
    """
    access.require(rt, kb_name, access.EDITOR, "re-ingest documents")
    path = original(rt, kb_name, doc.doc_id)
    kb = rt.open_kb(kb_name)
    if path is None:
        return _logged(rt, kb, [failed(doc.name, "the original file is missing", doc.doc_id)])[0]
    data = path.read_bytes()
    delete_document(rt, kb_name, doc.doc_id)
    return _logged(rt, kb, [ingest_bytes(rt, kb, doc.name, data, progress)], "reingest")[0]


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'."""
    units = ("B", "KB", "MB", "GB")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {units[unit]}"
