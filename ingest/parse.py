"""Parsing one file: loader (archive check and OCR included), chunks. What runs inside a parse worker (`ingest.pool`).

`parse_bytes` is the whole CPU- and memory-heavy part of ingest, and nothing else: it needs no embedding
model, only its tokenizer (and the OCR model, loaded in the worker the first time a page needs it), and
touches no store. It sends back what the pipeline stores and says: the chunks, the page count, the
warnings and the document's parse details (encoding, pages read by OCR, running headers and footers,
tables, sections: `ingest.details`). `worker_main` is the worker process: it caps
its own address space (RLIMIT_AS), loads the tokenizer, then answers requests on stdin/stdout until the
parent closes the pipe or goes away.

Chunking tokenizes each page whole, and a tokenizer's offsets cost a few hundred bytes a token, so very
long pages are chunked in segments of about `SEGMENT_CHARS` characters cut at paragraph breaks (else at
the last space): memory stays proportional to one segment, not the page. Only where a segment is cut
can a chunk break earlier than it would have.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import resource
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field

from app.errors import IngestError
from app.models import Chunk, Page, Section
from ingest.chunking import chunk_pages
from ingest.details import DocumentDetails
from ingest.loaders import load_document

SEGMENT_CHARS = 250_000
MEMORY_MESSAGE = "parsing it needs more than the {mb} MB of memory allowed (KB_PARSE_MAX_MB)"
_HEADER = struct.Struct(">Q")


@dataclass(frozen=True)
class ParseTask:
    name: str
    data: bytes
    doc_id: str


@dataclass(frozen=True)
class Parsed:
    """A file's chunks and what the outcome line says about it."""

    chunks: list[Chunk]
    page_count: int | None  # pages in the file (paged formats), skipped ones included
    warnings: list[str] = field(default_factory=list)
    details: DocumentDetails = DocumentDetails()
    seconds: float = 0.0
    peak_rss: int = 0  # bytes, of the worker while it parsed this file (0 when parsed in-process)


@dataclass(frozen=True)
class ParseFailure:
    message: str  # one line, in the user's words
    seconds: float = 0.0
    peak_rss: int = 0


@dataclass(frozen=True)
class ChunkSettings:
    chunk_tokens: int
    overlap: int
    ocr: str = "on"  # KB_OCR: how PDF pages without a text layer are read


def parse_bytes(task: ParseTask, tokenizer, settings: ChunkSettings) -> Parsed:
    """Load and chunk one file. Raises IngestError (and, on hostile input, whatever the libraries raise)."""
    started = time.perf_counter()
    loaded = load_document(task.name, task.data, ocr=settings.ocr)
    chunks = chunk_bounded(loaded.pages, task.doc_id, task.name, tokenizer, settings)
    if not chunks:
        raise IngestError("no text to index")
    return Parsed(chunks, loaded.page_count, list(loaded.warnings), DocumentDetails.of(loaded),
                  time.perf_counter() - started)


def chunk_bounded(pages: list[Page], doc_id: str, name: str, tokenizer, settings: ChunkSettings) -> list[Chunk]:
    """`chunk_pages` over `pages`, a group of pages or a segment of a long page at a time."""
    out: list[Chunk] = []
    group: list[Page] = []
    size = 0

    def flush(pages: list[Page], shift: int = 0) -> None:
        for c in chunk_pages(pages, doc_id=doc_id, doc_name=name, tokenizer=tokenizer,
                             chunk_tokens=settings.chunk_tokens, overlap=settings.overlap):
            position = len(out)
            out.append(dataclasses.replace(
                c, chunk_id=f"{doc_id}:{position}", position=position,
                char_start=c.char_start + shift, char_end=c.char_end + shift,
            ))

    for page in pages:
        if len(page.text) <= SEGMENT_CHARS:
            if size + len(page.text) > SEGMENT_CHARS and group:
                flush(group)
                group, size = [], 0
            group.append(page)
            size += len(page.text)
            continue
        if group:
            flush(group)
            group, size = [], 0
        for start, end in segments(page.text, SEGMENT_CHARS):
            flush([Page(page.number, page.text[start:end], _sections_within(page.sections, start, end))],
                  shift=start)
    if group:
        flush(group)
    return out


def _sections_within(sections: tuple[Section, ...], start: int, end: int) -> tuple[Section, ...]:
    """The sections of text[start:end], offsets from `start`: the one running at `start` (if any) at 0."""
    running = [s for s in sections if s.start <= start]
    inside = [Section(s.start - start, s.path) for s in sections if start < s.start < end]
    return ((Section(0, running[-1].path),) if running else ()) + tuple(inside)


def segments(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) spans of at most about `size` characters covering `text`, cut after a paragraph
    break, else after the last whitespace, else (a "word" longer than `size`) anywhere."""
    spans, start = [], 0
    while len(text) - start > size:
        limit = start + size
        cut = text.rfind("\n\n", start + size // 2, limit)
        if cut < 0:
            cut = max(text.rfind(" ", start + size // 2, limit), text.rfind("\n", start + size // 2, limit))
        cut = limit if cut < 0 else cut + 1
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return spans


def describe(exc: BaseException, max_mb: int) -> str:
    """A one-line reason for a failure, in the user's words (no exception type names)."""
    if isinstance(exc, IngestError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return MEMORY_MESSAGE.format(mb=max_mb)
    if isinstance(exc, RecursionError):
        return "the document is nested too deeply to read"
    if isinstance(exc, OverflowError):
        return "the file declares sizes too large to handle (damaged or hostile)"
    if isinstance(exc, zlib.error):
        return "compressed data in the file is damaged"
    if isinstance(exc, UnicodeError):
        return "cannot decode text in the file"
    reason = " ".join(str(exc).split())[:120]
    return f"could not read the file ({reason})" if reason else "could not read the file"


# ---- the worker process ---------------------------------------------------------------------------------


def send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream):
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def worker_main() -> None:
    """Serve parse requests: the first message is the setup (tokenizer, chunk settings, memory limit)."""
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library that prints must not corrupt the protocol
    _exit_with_parent(os.getppid())
    setup = receive(protocol_in)
    max_mb = setup["max_mb"]
    try:
        limit = max_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        tokenizer = _load_tokenizer(setup["tokenizer"])
        settings = ChunkSettings(setup["chunk_tokens"], setup["overlap"], setup["ocr"])
        import logging

        logging.getLogger("pypdf").setLevel(logging.ERROR)  # what pypdf tolerates, the outcome line says
    except Exception as exc:  # noqa: BLE001 (every file then fails with this reason)
        send(protocol_out, ParseFailure(f"the parser could not start: {describe(exc, max_mb)}"))
        return
    send(protocol_out, "ready")
    while True:
        try:
            task = receive(protocol_in)
        except EOFError:
            return
        _reset_peak()
        _truncate_stderr()
        started = time.perf_counter()
        try:
            result = parse_bytes(task, tokenizer, settings)
            result = dataclasses.replace(result, peak_rss=_peak_rss())
        except BaseException as exc:  # noqa: BLE001 (everything becomes a message; the worker goes on)
            result = ParseFailure(describe(exc, max_mb), time.perf_counter() - started, _peak_rss())
            if isinstance(exc, MemoryError | KeyboardInterrupt | SystemExit):
                send(protocol_out, result)
                return  # a fresh worker takes over: this one's heap may be fragmented or in a bad state
        del task
        send(protocol_out, result)


def _load_tokenizer(spec: dict):
    """{"file": path to a tokenizer.json} or {"json": its text}: a `tokenizers.Tokenizer`, no model."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(spec["file"]) if "file" in spec else Tokenizer.from_str(spec["json"])


def _exit_with_parent(parent: int) -> None:
    """Exit when the parent is gone (we are re-parented), so no worker outlives a killed `kb`."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _truncate_stderr() -> None:
    """The parent reads this file when the worker dies: keep only what the current file caused."""
    try:
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
    except OSError:
        pass


def _reset_peak() -> None:
    try:  # "5" resets the peak resident set size (VmHWM) that _peak_rss reads
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss() -> int:
    return read_peak_rss("self")


def read_peak_rss(pid: int | str) -> int:
    """VmHWM of a process in bytes (0 if unknown)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
