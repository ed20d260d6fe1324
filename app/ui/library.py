"""Knowledge-base and document operations behind the pages (no Streamlit here).

Thin compositions of the catalog, the store and the ingest pipeline, so that each page calls one
function and the logic is testable without a browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from app.catalog import KnowledgeBase
from app.models import Chunk, Document
from app.runtime import Runtime
from ingest.pipeline import IngestOutcome, Progress, delete_document, ingest_bytes, recover, source_path


@dataclass(frozen=True)
class KBSummary:
    name: str
    documents: int
    chunks: int
    embed_model: str
    created_at: float


def kb_summaries(rt: Runtime) -> list[KBSummary]:
    out = []
    for kb in rt.catalog.list_kbs():
        docs = rt.catalog.documents(kb)
        out.append(KBSummary(kb.name, len(docs), sum(d.chunks for d in docs), kb.embed_model, kb.created_at))
    return out


def create_kb(rt: Runtime, name: str) -> KnowledgeBase:
    """A new, empty knowledge base on the configured embedding model (loads it to learn its dimension)."""
    return rt.catalog.create_kb(name, rt.settings.embed_model, rt.embedder.dim)


def open_for_upload(rt: Runtime, name: str) -> KnowledgeBase:
    """The knowledge base to ingest into, created if missing, cleared of debris from interrupted writes."""
    kb = rt.open_or_create_kb(name)
    recover(rt, kb)
    return kb


def document_rows(rt: Runtime, kb_name: str) -> list[dict]:
    """One row per ready document, for the library table."""
    kb = rt.catalog.get_kb(kb_name)
    return [
        {
            "name": d.name,
            "pages": "-" if d.pages is None else str(d.pages),  # text: no 3.0 / NaN in the table
            "chunks": d.chunks,
            "added": time.strftime("%Y-%m-%d %H:%M", time.localtime(d.added_at)),
            "size": human_size(d.size),
            "id": d.doc_id[:12],
        }
        for d in rt.catalog.documents(kb)
    ]


def documents(rt: Runtime, kb_name: str) -> list[Document]:
    return rt.catalog.documents(rt.catalog.get_kb(kb_name))


def original_file(rt: Runtime, kb_name: str, doc: Document) -> Path:
    """Where the uploaded bytes of `doc` are kept (may be missing if someone removed them)."""
    return source_path(rt, rt.catalog.get_kb(kb_name), doc.doc_id, doc.name)


def download_path(rt: Runtime, kb_name: str, doc_id: str) -> Path | None:
    """The kept original of a ready document, or None if the document or its file is gone."""
    kb = rt.catalog.get_kb(kb_name)
    doc = rt.catalog.get_document(kb, doc_id)
    if doc is None:
        return None
    path = source_path(rt, kb, doc.doc_id, doc.name)
    return path if path.exists() else None


def document_chunks(rt: Runtime, kb_name: str, doc_id: str) -> list[Chunk]:
    return rt.store.document_chunks(rt.open_kb(kb_name), doc_id)


def delete(rt: Runtime, kb_name: str, doc_id: str) -> Document:
    return delete_document(rt, kb_name, doc_id)


def reingest(rt: Runtime, kb_name: str, doc: Document, progress: Progress | None = None) -> IngestOutcome:
    """Parse, chunk and embed a document again from its kept original (e.g. after changing chunk size).

    The id is the hash of the bytes, so the old version must go before the new one can be written:
    between the two steps the document is briefly absent from search.
    """
    path = original_file(rt, kb_name, doc)
    if not path.exists():
        return IngestOutcome(doc.name, "failed", doc.doc_id, message="the original file is missing")
    data = path.read_bytes()
    delete_document(rt, kb_name, doc.doc_id)
    return ingest_bytes(rt, rt.open_kb(kb_name), doc.name, data, progress)


def neighbours(rt: Runtime, kb_name: str, chunk: Chunk) -> tuple[Chunk | None, Chunk | None]:
    """The chunks just before and after `chunk` in its document (None at either end)."""
    # Chunk ids are "<doc_id>:<position>" (ingest.chunking), so neighbours are two lookups by id.
    before, after = f"{chunk.doc_id}:{chunk.position - 1}", f"{chunk.doc_id}:{chunk.position + 1}"
    found = {c.chunk_id: c for c in rt.store.get(rt.open_kb(kb_name), [before, after])}
    return found.get(before), found.get(after)


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'."""
    units = ("B", "KB", "MB", "GB")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {units[unit]}"
