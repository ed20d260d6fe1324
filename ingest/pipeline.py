"""Files in, chunks stored: parse -> chunk (worker processes) -> embed -> store, many files at a time.

Visibility is all-or-nothing. A document is recorded as `pending` in the catalog, its chunks are
written to Chroma and the BM25 index, and only then is it flipped to `ready` in one SQLite
transaction. Search hides every document that is not ready, and `recover()` removes what a failure
or crash left behind (`ingest.cleanup`).

Parsing and chunking run in worker processes with a time and a memory limit (`ingest.pool`), so no file
can hang or exhaust the process, and a failure is a one-line message: the rest of the batch goes on.
Neither parsing nor embedding holds the data dir's write lock (`app.locks`); the lock is taken only to
store, and what another writer stored meanwhile is checked again under it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from app.catalog import READY, KnowledgeBase
from app.config import Settings
from app.display import one_line
from app.errors import BatchTooLarge, IngestError, KBError, NothingToIngest
from app.ids import chunk_id, version_key
from app.models import Chunk
from app.runtime import Runtime
from ingest.cleanup import (
    delete_document,
    discard,
    discard_generation,
    discard_quietly,
    drop_kb,
    recover,
    recover_data_dir,
    remove_kb,
    source_path,
)
from ingest.details import write_details
from ingest.limits import read_file, too_large
from ingest.parse import Parsed, ParseFailure, ParseTask
from ingest.paths import Found, expand_paths

log = logging.getLogger(__name__)

# stage name, units done, units in all; the stages are parse, embed, store
Progress = Callable[[str, int, int], None]
EMBED_BATCH = 256
# `kb ingest` reads and embeds files in groups this large, so many small files share embedding batches.
PATH_BATCH_FILES = 64
PATH_BATCH_BYTES = 64 * 2**20

__all__ = [
    "IngestOutcome", "IngestStatus", "Progress", "delete_document", "drop_kb", "expand_paths", "failed",
    "ingest_bytes", "ingest_many", "ingest_paths", "open_for_writing", "recover", "reingest_document",
    "remove_kb", "source_path",
]


class IngestStatus(str, Enum):
    """What happened to one file; the value is the word the CLI and the pages print."""

    ADDED = "added"
    UNCHANGED = "unchanged"  # the same bytes are stored already
    REPLACED = "replaced"  # a new version of a file with the same name
    REINGESTED = "re-ingested"  # parsed, chunked and embedded again from the kept original
    SKIPPED = "skipped"  # not read at all (a link out of the folder)
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

    def line(self) -> str:
        """'report.pdf: added, 12 pages (3 by OCR), 25 chunks' or 'scan.pdf: failed: <reason>', names as they are."""
        if self.status in (IngestStatus.FAILED, IngestStatus.SKIPPED):
            return f"{self.name}: {self.status.value}: {self.message}"
        ocr = f" ({self.ocr_pages} by OCR)" if self.ocr_pages else ""
        detail = f"{self.chunks} chunks" if self.pages is None else f"{self.pages} pages{ocr}, {self.chunks} chunks"
        note = f" ({self.message})" if self.message else ""
        return f"{self.name}: {self.status.value}, {detail}{note}"

    def summary(self) -> str:
        """`line()` for a terminal: control characters in names escaped (`app.display`), so it stays one line."""
        return one_line(self.line())

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


def open_for_writing(rt: Runtime, kb_name: str) -> KnowledgeBase:
    """The knowledge base to write into, created if missing (two processes creating it at once get the
    same one), after finishing what crashes left in the data dir and in it."""
    try:
        rt.open_kb(kb_name)
    except KBError:
        rt.embedder  # noqa: B018 (a new knowledge base records the model's dimension: load it before the lock)
    with rt.lock.write():
        recover_data_dir(rt)
        kb = rt.open_or_create_kb(kb_name)
        recover(rt, kb)
    return kb


def ingest_bytes(
    rt: Runtime, kb: KnowledgeBase, name: str, data: bytes, progress: Progress | None = None
) -> IngestOutcome:
    """Ingest one file's bytes under `name`. Never raises for a bad file: the outcome says why."""
    return ingest_many(rt, kb, [(name, data)], progress)[0]


@dataclass(frozen=True)
class _Prepared:
    """A parsed and chunked file, not yet stored."""

    name: str
    data: bytes
    doc_id: str
    parsed: Parsed


def ingest_many(
    rt: Runtime,
    kb: KnowledgeBase,
    files: Iterable[tuple[str, bytes]],
    progress: Progress | None = None,
    batch_chunks: int = 2048,
) -> list[IngestOutcome]:
    """Ingest many (name, bytes) files: parsed side by side in the workers, embedded together.

    Each document still becomes visible on its own, once all its chunks are stored. Outcomes come
    back in the order of `files`.
    """
    progress = progress or _no_progress
    files = list(files)
    outcomes: dict[int, IngestOutcome] = {}
    tasks: list[tuple[int, ParseTask]] = []
    first_of: dict[str, int] = {}  # doc id -> index of its first file in this batch
    copies: dict[int, int] = {}  # index -> index of the file with the same bytes earlier in the batch
    max_bytes = rt.settings.max_file_mb * 2**20
    for i, (name, data) in enumerate(files):
        doc_id = document_id(data)
        if len(data) > max_bytes:
            outcomes[i] = failed(name, too_large(len(data), max_bytes), doc_id)
        elif doc_id in first_of:
            copies[i] = first_of[doc_id]
        elif (existing := rt.catalog.get_document(kb, doc_id)) is not None and existing.status == READY:
            outcomes[i] = IngestOutcome(name, IngestStatus.UNCHANGED, doc_id, existing.pages, existing.chunks)
        else:
            first_of[doc_id] = i
            tasks.append((i, ParseTask(name, data, doc_id)))

    done = 0

    def parsed_one(_index, _result) -> None:
        nonlocal done
        done += 1
        progress("parse", done, len(tasks))

    if tasks:
        progress("parse", 0, len(tasks))
    results = rt.parser.parse_many([t for _, t in tasks], on_done=parsed_one) if tasks else []
    batch: list[tuple[int, _Prepared]] = []
    batched_chunks = 0
    for (i, task), result in zip(tasks, results, strict=True):
        if isinstance(result, ParseFailure):
            outcomes[i] = failed(task.name, result.message, task.doc_id)
            continue
        batch.append((i, _Prepared(task.name, task.data, task.doc_id, result)))
        batched_chunks += len(result.chunks)
        if batched_chunks >= batch_chunks:
            outcomes.update(_embed_and_store(rt, kb, batch, progress))
            batch, batched_chunks = [], 0
    if batch:
        outcomes.update(_embed_and_store(rt, kb, batch, progress))
    for i, first in copies.items():
        outcomes[i] = _copy_outcome(files[i][0], outcomes[first])
    return [outcomes[i] for i in range(len(files))]


def _copy_outcome(name: str, first: IngestOutcome) -> IngestOutcome:
    if not first.ok:
        return dataclasses.replace(first, name=name)
    note = f"the same bytes as {first.name}"
    return IngestOutcome(name, IngestStatus.UNCHANGED, first.doc_id, first.pages, first.chunks, note)


def _embed_and_store(
    rt: Runtime, kb: KnowledgeBase, batch: list[tuple[int, _Prepared]], progress: Progress
) -> dict[int, IngestOutcome]:
    try:
        vectors = _embed(rt, [c for _, p in batch for c in p.parsed.chunks], progress)
    except Exception as exc:  # noqa: BLE001 (a failed write is a message per file; the batch goes on)
        log.warning("embedding failed", exc_info=True)
        return {i: failed(p.name, store_reason(exc), p.doc_id) for i, p in batch}
    offsets = np.cumsum([0] + [len(p.parsed.chunks) for _, p in batch])
    with rt.lock.write():
        return _store(rt, kb, [(i, p, vectors[offsets[n] : offsets[n + 1]]) for n, (i, p) in enumerate(batch)],
                      progress)


def _embed(rt: Runtime, chunks: list[Chunk], progress: Progress) -> np.ndarray:
    texts = [c.text for c in chunks]
    vectors = []
    for start in range(0, len(texts), EMBED_BATCH):
        progress("embed", start, len(texts))
        vectors.append(rt.embedder.encode_documents(texts[start : start + EMBED_BATCH]))
    progress("embed", len(texts), len(texts))
    return np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)


def _store(
    rt: Runtime, kb: KnowledgeBase, batch: list[tuple[int, _Prepared, np.ndarray]], progress: Progress
) -> dict[int, IngestOutcome]:
    """Write the batch and commit it; the caller holds the write lock."""
    outcomes: dict[int, IngestOutcome] = {}
    todo = []
    for i, p, vectors in batch:
        existing = rt.catalog.get_document(kb, p.doc_id)
        if existing is not None and existing.status == READY:  # another process stored it meanwhile
            outcomes[i] = IngestOutcome(p.name, IngestStatus.UNCHANGED, p.doc_id, existing.pages, existing.chunks)
            continue
        if existing is not None:  # a leftover of an interrupted write: its chunks must not mix with ours
            discard(rt, kb, p.doc_id)
        todo.append((i, p, vectors))
    if not todo:
        return outcomes
    progress("store", 0, 1)
    try:
        rt.catalog.begin_documents(kb, [(p.doc_id, p.name, len(p.data)) for _, p, _ in todo])
        for _, p, _ in todo:
            source = source_path(rt, kb, p.doc_id, p.name)
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(p.data)
            write_details(source, p.parsed.details)  # encoding, OCR pages, headers/footers: the Library shows them
        rt.store.add(kb, [c for _, p, _ in todo for c in p.parsed.chunks], np.concatenate([v for _, _, v in todo]))
        # one fsync for the whole batch, not one per document
        rt.lexical(kb).add_many(
            (p.doc_id, [c.chunk_id for c in p.parsed.chunks], [c.text for c in p.parsed.chunks]) for _, p, _ in todo
        )
        older = {
            p.doc_id: [d.doc_id for d in rt.catalog.documents_named(kb, p.name)
                       if d.status == READY and d.doc_id != p.doc_id]
            for _, p, _ in todo
        }
        commits = [(p.doc_id, _pages(p.parsed), len(p.parsed.chunks), older[p.doc_id]) for _, p, _ in todo]
        rt.catalog.commit_documents(kb, commits)
    except Exception as exc:  # noqa: BLE001
        log.warning("storing a batch failed", exc_info=True)
        discard_quietly(rt, kb, [p.doc_id for _, p, _ in todo])
        outcomes.update({i: failed(p.name, store_reason(exc), p.doc_id) for i, p, _ in todo})
        return outcomes
    for i, p, _ in todo:
        for old in older[p.doc_id]:
            discard_quietly(rt, kb, [old])
        status = IngestStatus.REPLACED if older[p.doc_id] else IngestStatus.ADDED
        outcomes[i] = IngestOutcome(
            p.name, status, p.doc_id, _pages(p.parsed), len(p.parsed.chunks), "; ".join(p.parsed.warnings),
            len(p.parsed.details.ocr_pages),
        )
    progress("store", 1, 1)
    return outcomes


def _pages(parsed: Parsed) -> int | None:
    return parsed.page_count


def store_reason(exc: BaseException) -> str:
    """Why storing failed, in one line without exception names."""
    if isinstance(exc, MemoryError):
        return "ran out of memory while storing it"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not store it: {exc.strerror.lower()}"
    if isinstance(exc, KBError):
        return str(exc)
    detail = " ".join(str(exc).split())[:160]
    return f"could not store it: {detail}" if detail else "could not store it (details in the log)"


def reingest_document(rt: Runtime, kb_name: str, doc_id: str, progress: Progress | None = None) -> IngestOutcome:
    """Parse, chunk and embed a ready document again from its kept original, as a new chunk generation
    written beside the visible one; one transaction switches to it. Until then (and if anything fails)
    the old version answers searches."""
    progress = progress or _no_progress
    kb = rt.open_kb(kb_name)
    doc = rt.catalog.get_document(kb, doc_id)
    if doc is None or doc.status != READY:
        return failed(doc.name if doc else doc_id[:12], "the document is no longer in the knowledge base", doc_id)
    try:
        data = read_file(source_path(rt, kb, doc_id, doc.name), rt.settings.max_file_mb * 2**20)
    except IngestError as exc:
        return failed(doc.name, f"the kept original: {exc}", doc_id)
    progress("parse", 0, 1)
    [result] = rt.parser.parse_many([ParseTask(doc.name, data, doc_id)])
    progress("parse", 1, 1)
    if isinstance(result, ParseFailure):
        return failed(doc.name, result.message, doc_id)
    try:
        vectors = _embed(rt, result.chunks, progress)
    except Exception as exc:  # noqa: BLE001
        return failed(doc.name, store_reason(exc), doc_id)
    with rt.lock.write():
        recover(rt, kb)  # e.g. a generation an interrupted re-ingest of this document left
        current = rt.catalog.get_document(kb, doc_id)
        if current is None or current.status != READY:
            return failed(doc.name, "the document was deleted meanwhile", doc_id)
        progress("store", 0, 1)
        generation = rt.catalog.begin_generation(kb, doc_id)
        chunks = [dataclasses.replace(c, chunk_id=chunk_id(doc_id, generation, c.position)) for c in result.chunks]
        try:
            rt.store.add(kb, chunks, vectors)
            rt.lexical(kb).add_many(
                [(version_key(doc_id, generation), [c.chunk_id for c in chunks], [c.text for c in chunks])]
            )
            replaced = rt.catalog.commit_generation(kb, doc_id, generation, _pages(result), len(chunks))
        except Exception as exc:  # noqa: BLE001
            log.warning("storing a re-ingest failed", exc_info=True)
            try:
                discard_generation(rt, kb, doc_id, generation)
            except Exception:  # noqa: BLE001 (it stays hidden; recover() removes it)
                log.warning("cleaning up a failed re-ingest failed", exc_info=True)
            return failed(doc.name, store_reason(exc), doc_id)
        discard_generation(rt, kb, doc_id, replaced)
        write_details(source_path(rt, kb, doc_id, doc.name), result.details)  # e.g. OCR now on
        progress("store", 1, 1)
    return IngestOutcome(doc.name, IngestStatus.REINGESTED, doc_id, _pages(result), len(chunks),
                         "; ".join(result.warnings), len(result.details.ocr_pages))


def check_batch(s: Settings, count: int, total_bytes: int) -> None:
    """Refuse a batch (an upload, a `kb ingest`) over KB_MAX_BATCH_FILES or KB_MAX_BATCH_MB, whole."""
    if count > s.max_batch_files:
        raise BatchTooLarge(
            f"{count:,} files is more than the {s.max_batch_files:,} one batch may add (KB_MAX_BATCH_FILES): "
            "add them in smaller batches, or raise the limit"
        )
    if total_bytes > s.max_batch_mb * 2**20:
        raise BatchTooLarge(
            f"{total_bytes / 2**20:,.0f} MB is more than the {s.max_batch_mb:,} MB one batch may add "
            "(KB_MAX_BATCH_MB): add them in smaller batches, or raise the limit"
        )


def ingest_paths(
    rt: Runtime,
    kb_name: str,
    paths: Iterable[Path],
    progress_for: Callable[[str], Progress] | None = None,
    follow_symlinks: bool = False,
) -> Iterator[IngestOutcome]:
    """Ingest files and folders (recursively, supported types only), yielding one outcome a file, in order.

    Links that leave a folder are skipped (an outcome says so) unless `follow_symlinks`. Raises
    NothingToIngest when no file is left, BatchTooLarge over the batch limits (before reading anything).
    Files go through `ingest_many` in groups (PATH_BATCH_FILES files or PATH_BATCH_BYTES), so small files
    share embedding batches; `progress_for(label)` gives the progress callback of one group.
    """
    paths = list(paths)
    found = plan_paths(rt.settings, paths, follow_symlinks)
    if not any(not f.skipped for f in found):
        yield from (skipped(f) for f in found)
        raise nothing_to_ingest(paths)
    max_bytes = rt.settings.max_file_mb * 2**20
    kb = open_for_writing(rt, kb_name)
    group: list[tuple[Path, bytes]] = []
    size = 0

    def flush() -> Iterator[IngestOutcome]:
        if not group:
            return
        label = one_line(group[0][0].name) if len(group) == 1 else f"{len(group)} files"
        progress = progress_for(label) if progress_for else None
        yield from ingest_many(rt, kb, [(path.name, data) for path, data in group], progress)

    for entry in found:
        if entry.skipped:
            yield from flush()  # the files before it keep their place in the output
            group, size = [], 0
            yield skipped(entry)
            continue
        try:
            data = read_file(entry.path, max_bytes)
        except IngestError as exc:
            yield from flush()
            group, size = [], 0
            yield failed(entry.path.name, str(exc))
            continue
        group.append((entry.path, data))
        size += len(data)
        if len(group) >= PATH_BATCH_FILES or size >= PATH_BATCH_BYTES:
            yield from flush()
            group, size = [], 0
    yield from flush()


def plan_paths(settings: Settings, paths: Iterable[Path], follow_symlinks: bool = False) -> list[Found]:
    """What `kb ingest PATH...` will read (`expand_paths`), refused whole (BatchTooLarge) over the batch
    limits before anything is read; files over KB_MAX_FILE_MB are refused one by one, so they do not count."""
    found = list(expand_paths(paths, follow_symlinks))
    max_bytes = settings.max_file_mb * 2**20
    sizes = [_size(f.path) for f in found if not f.skipped]
    check_batch(settings, len(sizes), sum(s for s in sizes if s <= max_bytes))
    return found


def skipped(entry: Found) -> IngestOutcome:
    return IngestOutcome(entry.path.name, IngestStatus.SKIPPED, message=entry.skipped)


def nothing_to_ingest(paths: list[Path]) -> NothingToIngest:
    shown = ", ".join(one_line(str(p)) for p in paths)
    return NothingToIngest(f"nothing to ingest in {shown}: no files of a supported type ({', '.join(_supported())})")


def _size(path: Path) -> int:
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if path.is_file() else 0


def _supported() -> list[str]:
    from ingest.loaders import SUPPORTED_EXTENSIONS

    return list(SUPPORTED_EXTENSIONS)


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


__all__ += [
    "BatchTooLarge", "Found", "NothingToIngest", "check_batch", "nothing_to_ingest", "plan_paths", "skipped",
    "store_reason",
]
