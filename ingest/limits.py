"""Checks that run before a file's bytes are read or unpacked, so that no input can exhaust the machine.

- `read_file(path, max_bytes)`: refuses what is not a regular file (a FIFO would block the read forever,
  `/dev/zero` never ends) from `os.stat` alone, without opening it; refuses a file over `max_bytes`
  (a sparse 9 GiB file is refused by its size, not read); reads at most `max_bytes + 1` bytes, so a
  file that grows while it is read is refused too.
  (Zip archives, DOCX, are checked from their directory before anything is inflated, by the loader:
  `ingest.loaders.archive.open_zip`.)

Every refusal is an `IngestError` whose message says what is wrong in the user's words.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app.errors import IngestError

MB = 2**20


def read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path` (symbolic links followed), at most `max_bytes` of them.

    Raises:
        IngestError: missing, unreadable, not a regular file, or larger than `max_bytes`.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise IngestError(f"cannot read the file: {_strerror(exc)}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise IngestError(f"not a regular file ({_kind(info.st_mode)}): only files can be ingested")
    if info.st_size > max_bytes:
        raise IngestError(too_large(info.st_size, max_bytes))
    try:
        # O_NONBLOCK: had it been swapped for a FIFO since the stat, opening it must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise IngestError("not a regular file: only files can be ingested")
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise IngestError(f"cannot read the file: {_strerror(exc)}") from exc
    if len(data) > max_bytes:
        raise IngestError(too_large(len(data), max_bytes))
    return data


def too_large(size: int, max_bytes: int) -> str:
    return (
        f"the file is {_mb(size)}, more than the {_mb(max_bytes)} allowed per file "
        "(KB_MAX_FILE_MB)"
    )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _mb(size: int) -> str:
    if size >= 10 * 2**30:
        return f"{size / 2**30:.0f} GB"
    if size >= 2**30:
        return f"{size / 2**30:.1f} GB"
    return f"{size / MB:.1f} MB" if size < 10 * MB else f"{size / MB:.0f} MB"


def _strerror(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else "unknown error"
