"""A small pool of parse worker processes: each file parses with a wall-clock and a memory limit.

Parsing (loader + chunking, `ingest.parse`) runs in separate processes started with a fresh interpreter
(not forked: the parent has torch and threads, and RLIMIT_AS counts every mapping a fork inherits). A
worker caps its address space at `KB_PARSE_MAX_MB` and loads only the embedding model's tokenizer; the
parent gives each file `KB_PARSE_TIMEOUT_S` seconds and kills the worker that overruns, or notices the
one that died, and starts another for the next file. Whatever the bytes, one file costs at most that
time and that memory, and its failure is a message: the rest of the batch goes on.

Workers persist between files (starting one costs about half a second; a small file parses in
milliseconds). The pool is safe to share between threads: each `parse_many` call checks workers out.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from app.config import Settings
from app.embed import resolve_model_path
from ingest.parse import MEMORY_MESSAGE, Parsed, ParseFailure, ParseTask, read_peak_rss, receive, send

ROOT = Path(__file__).resolve().parents[1]
_STARTED = object()
WATCH_EVERY_S = 0.25  # how often a busy worker's memory is looked at (for the peak a failure reports)
RECYCLE_AFTER = 2000  # files; a fresh worker returns memory a long run may have fragmented
RECYCLE_RSS = 512 * 2**20
_WORKER_CODE = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from ingest.parse import worker_main; worker_main()"


class ParsePool:
    """Args:
        settings: KB_PARSE_TIMEOUT_S, KB_PARSE_MAX_MB, KB_PARSE_WORKERS, the embedding model (for its
            tokenizer) and the chunk settings come from here.

    Example:
        >>> with ParsePool(load_settings()) as pool:
        ...     [result] = pool.parse_many([ParseTask("a.txt", b"Hello.", "d1")])
        >>> [c.text for c in result.chunks]
        ['Hello.']
    """

    def __init__(self, settings: Settings, tokenizer: Callable[[], dict] | None = None):
        self.timeout_s = settings.parse_timeout_s
        self.max_mb = settings.parse_max_mb
        self._tokenizer = tokenizer or (lambda: tokenizer_spec(settings.embed_model))
        self._setup: dict | None = None
        self._settings = settings
        self._slots: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(max(1, settings.parse_workers)):
            self._slots.put(None)  # started on first use
        self._all: set[_Worker] = set()
        self._guard = threading.Lock()
        self._closed = False

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def parse_many(self, tasks: list[ParseTask], on_done=None) -> list[Parsed | ParseFailure]:
        """Parse every task, several at a time; results in task order. `on_done(index, result)` is called
        as each one finishes. Never raises for a bad file."""
        results: list[Parsed | ParseFailure | None] = [None] * len(tasks)
        todo = deque(enumerate(tasks))
        busy: dict[_Worker, tuple[int, float, float]] = {}  # worker -> (task index, started, deadline)
        while todo or busy:
            while todo:
                worker = self._checkout(block=not busy)
                if worker is None:
                    break
                index, task = todo.popleft()
                started = time.monotonic()
                if worker.submit(task):
                    busy[worker] = (index, started, started + self.timeout_s)
                else:  # it died on the way in: treat like a crash of this file
                    self._finish(results, on_done, index, worker.failure(self.max_mb, time.monotonic() - started))
                    self._checkin(None, worker)
            if not busy:
                continue
            now = time.monotonic()
            wait = max(0.0, min(deadline for _, _, deadline in busy.values()) - now)
            ready = _readable([w.stdout for w in busy], min(wait, WATCH_EVERY_S))
            for worker in busy:
                worker.watch()
            by_fd = {w.stdout: w for w in busy}
            for fd in ready:
                worker = by_fd[fd]
                result = worker.collect()
                if result is _STARTED:  # the worker finished starting; its answer comes next
                    continue
                index, started, _ = busy.pop(worker)
                if result is None:
                    result = worker.failure(self.max_mb, time.monotonic() - started)
                    self._checkin(None, worker)
                else:
                    self._checkin(worker if worker.healthy() else None, worker)
                self._finish(results, on_done, index, result)
            now = time.monotonic()
            for worker, (index, started, deadline) in list(busy.items()):
                if now >= deadline and worker.stdout not in ready:
                    del busy[worker]
                    peak = worker.kill()
                    self._checkin(None, worker)
                    message = f"parsing took longer than {self.timeout_s:g} s, the limit (KB_PARSE_TIMEOUT_S): stopped"
                    self._finish(results, on_done, index, ParseFailure(message, now - started, peak))
        return results  # type: ignore[return-value]

    def close(self) -> None:
        with self._guard:
            self._closed = True
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.stop()

    # ---- slots ---------------------------------------------------------------------------------------

    def _checkout(self, block: bool) -> _Worker | None:
        try:
            worker = self._slots.get(block=block)
        except queue.Empty:
            return None
        if worker is None or not worker.alive():
            worker = _Worker(self._worker_setup())
            with self._guard:
                if self._closed:
                    worker.stop()
                    raise RuntimeError("the parse pool is closed")
                self._all.add(worker)
        return worker

    def _checkin(self, worker: _Worker | None, old: _Worker) -> None:
        if worker is None:
            old.stop()
            with self._guard:
                self._all.discard(old)
        self._slots.put(worker)

    def _worker_setup(self) -> dict:
        with self._guard:
            if self._setup is None:
                s = self._settings
                self._setup = {"max_mb": s.parse_max_mb, "tokenizer": self._tokenizer(),
                               "chunk_tokens": s.chunk_tokens, "overlap": s.chunk_overlap, "ocr": s.ocr}
            return self._setup

    @staticmethod
    def _finish(results, on_done, index, result) -> None:
        results[index] = result
        if on_done is not None:
            on_done(index, result)


class _Worker:
    """One worker process and its pipes; its stderr goes to a temporary file, read when it dies."""

    def __init__(self, setup: dict):
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ, TOKENIZERS_PARALLELISM="false", MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1",
                   RUST_BACKTRACE="0")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, close_fds=True,
            bufsize=0,
        )
        self.stdout = self.proc.stdout.fileno()
        # Read with os.read: a buffered reader could hold an answer that poll() then never reports.
        self._reader = _FdReader(self.stdout)
        self.tasks = 0
        self.started = False  # True once it has said "ready" (startup overlaps the first file's wait)
        self.peak = 0  # the highest resident size seen while the current file parses (bytes)
        try:
            send(self.proc.stdin, setup)
        except OSError:
            pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def submit(self, task: ParseTask) -> bool:
        self.peak = 0
        try:
            send(self.proc.stdin, task)
        except OSError:
            return False
        self.tasks += 1
        return True

    def collect(self):
        """The answer to the file submitted (a Parsed or ParseFailure), `_STARTED` for the start-up
        message, or None if the worker died."""
        try:
            result = receive(self._reader)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            return None
        if result == "ready" and not self.started:
            self.started = True
            return _STARTED
        return result if isinstance(result, Parsed | ParseFailure) else None

    def healthy(self) -> bool:
        return self.alive() and self.tasks < RECYCLE_AFTER and read_peak_rss(self.proc.pid) < RECYCLE_RSS

    def failure(self, max_mb: int, seconds: float) -> ParseFailure:
        """Why the worker died while parsing a file (its exit status and last words)."""
        self._reap()
        code = self.proc.returncode
        self._stderr.seek(0)
        said = self._stderr.read(8000).decode("utf-8", "replace")
        peak = self.peak
        if "memory allocation" in said or "MemoryError" in said or code == -signal.SIGKILL:
            return ParseFailure(MEMORY_MESSAGE.format(mb=max_mb), seconds, peak)
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if code == -signal.SIGABRT:
                return ParseFailure(f"the parser stopped on this file ({name}): most likely it ran out of the "
                                    f"{max_mb} MB of memory allowed (KB_PARSE_MAX_MB)", seconds, peak)
            return ParseFailure(f"the parser crashed on this file ({name}): the file is damaged or hostile",
                                seconds, peak)
        return ParseFailure(f"the parser stopped on this file (exit status {code})", seconds, peak)

    def watch(self) -> None:
        """Note the worker's peak resident size (read while it runs: a process that died has none)."""
        self.peak = max(self.peak, read_peak_rss(self.proc.pid))

    def kill(self) -> int:
        """Kill the worker; returns its peak resident size in bytes."""
        self.watch()
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self._reap()
        return self.peak

    def stop(self) -> None:
        if self.alive():
            try:
                self.proc.stdin.close()  # the worker exits at EOF
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._reap()
        for stream in (self.proc.stdout, self._stderr):
            try:
                stream.close()
            except OSError:
                pass

    def _reap(self) -> None:
        if self.proc.returncode is not None:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _FdReader:
    def __init__(self, fd: int):
        self.fd = fd

    def read(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            part = os.read(self.fd, min(left, 1 << 20))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        return b"".join(parts)


def tokenizer_file(model: str) -> str | None:
    """The tokenizer.json of the embedding model (a local folder or the Hugging Face cache), or None."""
    path = Path(resolve_model_path(model)) / "tokenizer.json"
    if path.is_file():
        return str(path)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "tokenizer.json")
    except Exception:  # noqa: BLE001 (no cache, odd id)
        return None
    return cached if isinstance(cached, str) else None


def tokenizer_spec(model: str) -> dict:
    """How a worker loads the embedding model's tokenizer: its tokenizer.json if there is one, else the
    tokenizer of the model loaded with AutoTokenizer here, serialized (the worker loads no model)."""
    path = tokenizer_file(model)
    if path:
        return {"file": path}
    from transformers import AutoTokenizer

    return serialized(AutoTokenizer.from_pretrained(resolve_model_path(model)))


def serialized(tokenizer) -> dict:
    """A Hugging Face fast tokenizer (or a `tokenizers.Tokenizer`) as a worker's tokenizer spec."""
    return {"json": getattr(tokenizer, "backend_tokenizer", tokenizer).to_str()}


def _readable(fds: list[int], timeout_s: float) -> list[int]:
    """The fds with an answer or an end of file within `timeout_s`. poll(), not select(), which refuses
    descriptors of 1024 and above, and a long-lived app process (Chroma, the indexes, sockets) opens that many."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(timeout_s * 1000)]
