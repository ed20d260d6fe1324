"""Documents of a knowledge base: ingest (uploads and paths), list, preview, download, delete, re-ingest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.catalog import KnowledgeBase
from app.errors import KnowledgeBaseNotFound
from app.ids import version_key, version_of
from app.models import Chunk, Document
from app.runtime import Runtime
from app.service import access
from ingest.details import DocumentDetails, read_details
from ingest.limits import too_large
from ingest.pipeline import (
    IngestOutcome,
    Progress,
    check_batch,
    delete_document,
    failed,
    ingest_bytes,
    ingest_many,
    ingest_paths,
    open_for_writing,
    reingest_document,
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


def check_upload(rt: Runtime, sizes: list[int]) -> None:
    """Refuse an upload batch over the limits (KB_MAX_BATCH_FILES, KB_MAX_BATCH_MB) before any of it is
    ingested; the message says which limit and how to get past it. Files over KB_MAX_FILE_MB are refused
    one by one when ingested (`ingest_upload`), so they do not count here."""
    max_bytes = rt.settings.max_file_mb * 2**20
    check_batch(rt.settings, len(sizes), sum(s for s in sizes if s <= max_bytes))


def file_limit_message(rt: Runtime, size: int) -> str | None:
    """Why a file of `size` bytes is refused (KB_MAX_FILE_MB), or None."""
    max_bytes = rt.settings.max_file_mb * 2**20
    return too_large(size, max_bytes) if size > max_bytes else None


def open_for_upload(rt: Runtime, kb_name: str) -> KnowledgeBase:
    """The knowledge base to ingest into, created if missing, cleared of debris from interrupted writes."""
    created = access.require_writer(rt, kb_name)
    kb = open_for_writing(rt, kb_name)
    if created:
        access.record(rt, "kb create", kb.name)
    return kb


def ingest_upload(
    rt: Runtime, kb_name: str, name: str, data: bytes, progress: Progress | None = None
) -> IngestOutcome:
    """One uploaded file into the knowledge base (created if missing). Never raises for a bad file."""
    created = access.require_writer(rt, kb_name)
    kb = rt.open_or_create_kb(kb_name)
    if created:
        access.record(rt, "kb create", kb.name)
    return _logged(rt, kb, [ingest_bytes(rt, kb, name, data, progress)])[0]


def ingest_uploads(
    rt: Runtime, kb_name: str, files: Iterable[tuple[str, bytes]], progress: Progress | None = None
) -> list[IngestOutcome]:
    """Many uploaded (name, bytes) files, embedded together; one outcome per file, in order. Raises
    BatchTooLarge (a KBError) for a batch over the limits, before ingesting any of it."""
    files = list(files)
    check_upload(rt, [len(data) for _, data in files])
    kb = open_for_upload(rt, kb_name)
    return _logged(rt, kb, ingest_many(rt, kb, files, progress))


def ingest_files(
    rt: Runtime,
    kb_name: str,
    paths: Iterable[Path],
    progress_for: Callable[[str], Progress] | None = None,
    follow_symlinks: bool = False,
) -> Iterator[IngestOutcome]:
    """Files and folders on this machine (recursively), in groups; one outcome per file, in order. Links
    that leave a folder are skipped unless `follow_symlinks`."""
    created = access.require_writer(rt, kb_name)
    kb = None
    for outcome in ingest_paths(rt, kb_name, paths, progress_for, follow_symlinks=follow_symlinks):
        try:
            if kb is None:
                kb = rt.catalog.get_kb(kb_name)
                if created:
                    access.record(rt, "kb create", kb.name)
        except KnowledgeBaseNotFound:  # links skipped where nothing is left to ingest: no KB is made
            yield outcome
            continue
        yield _logged(rt, kb, [outcome])[0]


def ingest_history(rt: Runtime, kb_name: str, limit: int = 200) -> list[dict]:
    """What happened to the files given to the knowledge base, newest first (time, file, outcome, detail)."""
    access.require(rt, kb_name, access.VIEWER, "see its ingest history")
    return rt.catalog.ingest_log(rt.catalog.get_kb(kb_name), limit)


def _logged(
    rt: Runtime, kb: KnowledgeBase, outcomes: list[IngestOutcome], action: str = "upload"
) -> list[IngestOutcome]:
    with rt.lock.write():  # a write to the data dir like any other (app.locks)
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
    """A document's chunks in order (those of its visible generation: a re-ingest may be writing others)."""
    access.require(rt, kb_name, access.VIEWER, "see its documents")
    kb = rt.open_kb(kb_name)
    doc = rt.catalog.get_document(kb, doc_id)
    if doc is None:
        return []
    visible = version_key(doc_id, doc.generation)
    return [c for c in rt.store.document_chunks(kb, doc_id) if version_of(c.chunk_id) == visible]


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

    The new chunks are written beside the old ones and one transaction switches to them, so the old
    version answers searches until then, and stays if anything fails.
    """
    access.require(rt, kb_name, access.EDITOR, "re-ingest documents")
    if original(rt, kb_name, doc.doc_id) is None:
        outcome = failed(doc.name, "the original file is missing", doc.doc_id)
    else:
        outcome = reingest_document(rt, kb_name, doc.doc_id, progress)
    return _logged(rt, rt.open_kb(kb_name), [outcome], "reingest")[0]


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'."""
    units = ("B", "KB", "MB", "GB")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {units[unit]}"
