"""One writer per data dir, across processes and threads, and readers that only ever see whole writes.

Every change to a data dir (catalog rows, vectors, the BM25 index, kept files) happens while holding
`write()`, an exclusive `flock` on `<data dir>/write.lock`; a search holds `read()`, a shared lock on the
same file, while it recalls. So two `kb` processes (or the web app and the CLI) never write beside each
other, and a search never sees a write half done: it runs before the write step or after it. Write steps
are short (parsing and embedding happen before the lock is taken), so readers wait milliseconds.

Locks are re-entrant per thread: a thread holding either lock may take either again (a thread holding
only `read()` may not take `write()`: that is a programming error and raises). There is one lock object
per data dir per process (`data_dir_lock`), because two `flock`s of one process on two descriptors of the
same file exclude each other like two processes do.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# A reader holds the lock for milliseconds: a writer that cannot get it at once tries this long before it
# says it is waiting (for another writer, most likely).
QUIET_WAIT_S = 1.0
LOCK_FILE = "write.lock"

_locks: dict[Path, DataDirLock] = {}
_locks_guard = threading.Lock()


def data_dir_lock(data_dir: Path) -> DataDirLock:
    """The process's lock object for `data_dir` (created on first use)."""
    key = Path(data_dir).resolve()
    with _locks_guard:
        if key not in _locks:
            _locks[key] = DataDirLock(key / LOCK_FILE)
        return _locks[key]


class DataDirLock:
    """Args:
        path: the lock file (created, with its folder, on first use).

    `on_wait`, when set, is called once with a message when `write()` has to wait for another process
    (the CLI prints it on stderr).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.on_wait: Callable[[str], None] | None = None
        self._held = threading.local()  # .mode ("read" | "write" | None), .depth, .fd

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._hold("write"):
            yield

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._hold("read"):
            yield

    def held(self) -> str | None:
        """'read' or 'write' if this thread holds the lock, else None."""
        return getattr(self._held, "mode", None)

    @contextmanager
    def _hold(self, mode: str) -> Iterator[None]:
        held = self.held()
        if held is not None:
            if held == "read" and mode == "write":
                raise RuntimeError("write() inside read(): take the write lock first")
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._acquire(fd, mode)
            self._held.mode, self._held.depth, self._held.fd = mode, 0, fd
            try:
                yield
            finally:
                self._held.mode = None
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int, mode: str) -> None:
        flag = fcntl.LOCK_EX if mode == "write" else fcntl.LOCK_SH
        if mode == "read":
            fcntl.flock(fd, flag)
            return
        deadline = time.monotonic() + QUIET_WAIT_S
        while True:
            try:
                fcntl.flock(fd, flag | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
        if self.on_wait is not None:
            self.on_wait(f"waiting for another kb process writing to {self.path.parent}...")
        fcntl.flock(fd, flag)
