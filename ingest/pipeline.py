"""Files in, chunks stored: parse -> chunk -> embed -> store, one document at a time.

Visibility is all-or-nothing. A document is recorded as `pending` in the catalog, its chunks are
written to Chroma and the BM25 index, and only then is it flipped to `ready` in one SQLite
transaction. Search hides every document that is not ready, and `recover()` removes what a failure
or crash left behind. A per-knowledge-base file lock keeps two writers (the CLI and the app, say)
from interleaving, and keeps recovery from removing a document another process is still writing.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from app.catalog import READY, KnowledgeBase
from app.errors import IngestError
from app.models import Chunk, Document
from app.runtime import Runtime
from ingest.chunking import chunk_pages
from ingest.details import details_path, write_details
from ingest.loaders import SUPPORTED_EXTENSIONS, LoadedDocument, load_document

# stage name, units done, units in all; the stages are parse, chunk, embed, store
Progress = Callable[[str, int, int], None]
EMBED_BATCH = 256
# `kb ingest` reads and embeds files in groups this large, so many small files share embedding batches.
PATH_BATCH_FILES = 64
PATH_BATCH_BYTES = 64 * 2**20


class IngestStatus(str, Enum):
    """What happened to one file; the value is the word the CLI and the pages print."""

    ADDED = "added"
    UNCHANGED = "unchanged"  # the same bytes are stored already
    REPLACED = "replaced"  # a new version of a file with the same name
    FAILED = "failed"


@dataclass(frozen=True)
class IngestOutcome:
    name: str
    status: IngestStatus
    doc_id: str | None = None
    pages: int | None = None
    chunks: int = 0
    message: str = ""  # the failure reason, or warnings (pages without text, ...)
    ocr_pages: int = 0  # pages whose text was recognised by OCR

    @property
    def ok(self) -> bool:
        return self.status != IngestStatus.FAILED

    def summary(self) -> str:
        if not self.ok:
            return f"{self.name}: failed: {self.message}"
        ocr = f" ({self.ocr_pages} by OCR)" if self.ocr_pages else ""
        detail = f"{self.chunks} chunks" if self.pages is None else f"{self.pages} pages{ocr}, {self.chunks} chunks"
        note = f" ({self.message})" if self.message else ""
        return f"{self.name}: {self.status.value}, {detail}{note}"

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status.value,
            "doc_id": self.doc_id,
            "pages": self.pages,
            "chunks": self.chunks,
            "message": self.message,
            "ocr_pages": self.ocr_pages,
        }


def failed(name: str, message: str, doc_id: str | None = None) -> IngestOutcome:
    return IngestOutcome(name, IngestStatus.FAILED, doc_id, message=message)


def document_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest_bytes(
    rt: Runtime, kb: KnowledgeBase, name: str, data: bytes, progress: Progress | None = None
) -> IngestOutcome:
    """Ingest one file's bytes under `name`. Never raises for a bad file: the outcome says why."""
    return ingest_many(rt, kb, [(name, data)], progress)[0]


def ingest_many(
    rt: Runtime,
    kb: KnowledgeBase,
    files: Iterable[tuple[str, bytes]],
    progress: Progress | None = None,
    batch_chunks: int = 2048,
) -> list[IngestOutcome]:
    """Ingest many (name, bytes) files, embedding the chunks of several small files together.

    Each document still becomes visible on its own, once all its chunks are stored. Outcomes come
    back in the order of `files`.
    """
    progress = progress or _no_progress
    outcomes: dict[int, IngestOutcome] = {}
    batch: list[tuple[int, _Prepared]] = []
    batched_chunks = 0
    with kb_write_lock(rt, kb):
        seen: set[str] = set()
        for i, (name, data) in enumerate(files):
            prepared = _prepare(rt, kb, name, data, seen, progress)
            if isinstance(prepared, IngestOutcome):
                outcomes[i] = prepared
                continue
            batch.append((i, prepared))
            batched_chunks += len(prepared.chunks)
            if batched_chunks >= batch_chunks:
                outcomes.update(_store_batch(rt, kb, batch, progress))
                batch, batched_chunks = [], 0
        if batch:
            outcomes.update(_store_batch(rt, kb, batch, progress))
    return [outcomes[i] for i in sorted(outcomes)]


@dataclass(frozen=True)
class _Prepared:
    """A parsed and chunked file, not yet stored."""

    name: str
    data: bytes
    doc_id: str
    loaded: LoadedDocument
    chunks: list[Chunk]
    older: list[str]  # ids of the versions with the same name that this one replaces


def _prepare(
    rt: Runtime, kb: KnowledgeBase, name: str, data: bytes, seen: set[str], progress: Progress
) -> _Prepared | IngestOutcome:
    doc_id = document_id(data)
    existing = rt.catalog.get_document(kb, doc_id)
    if doc_id in seen or (existing is not None and existing.status == READY):
        chunks = existing.chunks if existing else 0
        return IngestOutcome(name, IngestStatus.UNCHANGED, doc_id, existing.pages if existing else None, chunks)
    seen.add(doc_id)
    try:
        progress("parse", 0, 1)
        loaded = load_document(name, data, ocr=rt.settings.ocr)
        progress("chunk", 0, 1)
        chunks = chunk_pages(
            loaded.pages,
            doc_id=doc_id,
            doc_name=name,
            tokenizer=rt.embedder.tokenizer,
            chunk_tokens=rt.settings.chunk_tokens,
            overlap=rt.settings.chunk_overlap,
        )
        if not chunks:
            raise IngestError("no text to index")
    except Exception as exc:
        return failed(name, _reason(exc), doc_id)
    older = [d.doc_id for d in rt.catalog.documents(kb) if d.name == name]
    return _Prepared(name, data, doc_id, loaded, chunks, older)


def _store_batch(
    rt: Runtime, kb: KnowledgeBase, batch: list[tuple[int, _Prepared]], progress: Progress
) -> dict[int, IngestOutcome]:
    docs = [p for _, p in batch]
    try:
        for p in docs:
            rt.catalog.begin_document(kb, p.doc_id, p.name, len(p.data))
            source = source_path(rt, kb, p.doc_id, p.name)
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(p.data)
            write_details(source, p.loaded)  # encoding, OCR pages, headers/footers: the Library shows them

        chunks = [c for p in docs for c in p.chunks]
        texts = [c.text for c in chunks]
        vectors = []
        for start in range(0, len(texts), EMBED_BATCH):
            progress("embed", start, len(texts))
            vectors.append(rt.embedder.encode_documents(texts[start : start + EMBED_BATCH]))
        progress("embed", len(texts), len(texts))

        progress("store", 0, 1)
        rt.store.add(kb, chunks, np.concatenate(vectors))
        # one fsync for the whole batch, not one per document
        rt.lexical(kb).add_many((p.doc_id, [c.chunk_id for c in p.chunks], [c.text for c in p.chunks]) for p in docs)
    except Exception as exc:
        for p in docs:
            _discard(rt, kb, p.doc_id)
        return {i: failed(p.name, _reason(exc), p.doc_id) for i, p in batch}

    outcomes = {}
    for i, p in batch:
        pages = p.loaded.page_count if p.loaded.paged else None
        rt.catalog.commit_document(kb, p.doc_id, pages, len(p.chunks), replaces=p.older)
        for old in p.older:
            _discard(rt, kb, old)
        status = IngestStatus.REPLACED if p.older else IngestStatus.ADDED
        outcomes[i] = IngestOutcome(
            p.name, status, p.doc_id, pages, len(p.chunks), "; ".join(p.loaded.warnings), len(p.loaded.ocr_pages)
        )
    progress("store", 1, 1)
    return outcomes


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"


def ingest_paths(
    rt: Runtime,
    kb_name: str,
    paths: Iterable[Path],
    progress_for: Callable[[str], Progress] | None = None,
) -> Iterator[IngestOutcome]:
    """Ingest files and folders (recursively, supported types only), yielding one outcome a file, in order.

    Files go through `ingest_many` in groups (PATH_BATCH_FILES files or PATH_BATCH_BYTES), so small files
    share embedding batches; `progress_for(label)` gives the progress callback of one group.
    """
    kb = rt.open_or_create_kb(kb_name)
    recover(rt, kb)
    group: list[tuple[Path, bytes]] = []
    size = 0

    def flush() -> Iterator[IngestOutcome]:
        if not group:
            return
        label = group[0][0].name if len(group) == 1 else f"{len(group)} files"
        progress = progress_for(label) if progress_for else None
        yield from ingest_many(rt, kb, [(path.name, data) for path, data in group], progress)

    for path in expand_paths(paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield from flush()  # the files before it keep their place in the output
            group, size = [], 0
            yield failed(path.name, f"cannot read file: {exc.strerror}")
            continue
        group.append((path, data))
        size += len(data)
        if len(group) >= PATH_BATCH_FILES or size >= PATH_BATCH_BYTES:
            yield from flush()
            group, size = [], 0
    yield from flush()


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given (whatever their type: the loader explains what it refuses); folders recursively,
    keeping only the types we can load."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_EXTENSIONS:
                    yield child
        else:
            yield path


def delete_document(rt: Runtime, kb_name: str, name_or_id: str) -> Document:
    kb = rt.open_kb(kb_name)
    with kb_write_lock(rt, kb):
        doc = rt.catalog.find_document(kb, name_or_id)
        rt.catalog.mark_deleting(kb, doc.doc_id)
        _discard(rt, kb, doc.doc_id)
    return doc


def drop_kb(rt: Runtime, kb_name: str) -> None:
    kb = rt.catalog.get_kb(kb_name)
    with kb_write_lock(rt, kb):
        remove_kb(rt, kb)


def remove_kb(rt: Runtime, kb: KnowledgeBase) -> None:
    """Vectors, BM25 index, original files and catalog rows of a knowledge base."""
    rt.store.drop(kb)
    rt.forget_lexical(kb)
    rt.catalog.delete_kb(kb)
    shutil.rmtree(rt.settings.kb_dir(kb.key), ignore_errors=True)


def recover(rt: Runtime, kb: KnowledgeBase) -> list[str]:
    """Remove what interrupted writes left behind; returns the ids of the documents removed.

    Skipped while another writer holds the knowledge base: its pending document is not debris.
    """
    try:
        with kb_write_lock(rt, kb, wait=False):
            hidden = rt.catalog.hidden_doc_ids(kb)
            for doc_id in hidden:
                _discard(rt, kb, doc_id)
            ready = {d.doc_id for d in rt.catalog.documents(kb)}
            lexical = rt.lexical(kb)
            for stray in lexical.doc_ids() - ready:
                lexical.remove(stray)
            return hidden
    except BlockingIOError:
        return []


def source_path(rt: Runtime, kb: KnowledgeBase, doc_id: str, name: str) -> Path:
    """Where the original bytes are kept (for download and re-indexing)."""
    return rt.settings.kb_dir(kb.key) / "files" / f"{doc_id}{Path(name).suffix.lower()}"


def _discard(rt: Runtime, kb: KnowledgeBase, doc_id: str) -> None:
    """Remove every trace of a document; each step tolerates the ones a crash never reached."""
    doc = rt.catalog.get_document(kb, doc_id)
    rt.store.delete_document(kb, doc_id)
    rt.lexical(kb).remove(doc_id)
    if doc is not None:
        source_path(rt, kb, doc_id, doc.name).unlink(missing_ok=True)
        details_path(source_path(rt, kb, doc_id, doc.name)).unlink(missing_ok=True)
    rt.catalog.forget_document(kb, doc_id)


@contextmanager
def kb_write_lock(rt: Runtime, kb: KnowledgeBase, wait: bool = True):
    path = rt.settings.kb_dir(kb.key) / "write.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _no_progress(stage: str, done: int, total: int) -> None:
    pass
