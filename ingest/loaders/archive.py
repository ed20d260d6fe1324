"""Zip-based formats (DOCX) are checked before anything is unpacked: a zip bomb is refused from its
central directory alone, in milliseconds, without inflating a byte.

The sizes checked are the ones the archive declares. Python's zipfile never inflates an entry past its
declared size (it stops there and fails the CRC check), so what the libraries that read the file later
can unpack is bounded by these caps.
"""

from __future__ import annotations

import io
import zipfile

from app.errors import IngestError

# A 300-page Word report with pictures unpacks to tens of MB; these leave room for far bigger ones.
MAX_UNPACKED_BYTES = 256 * 2**20
MAX_ENTRIES = 10_000


def open_zip(data: bytes, kind: str, *, max_unpacked: int = MAX_UNPACKED_BYTES, max_entries: int = MAX_ENTRIES):
    """A `zipfile.ZipFile` over `data` once its declared sizes are within the caps.

    Args:
        data: the file's bytes.
        kind: the format's name for messages ("DOCX").

    Raises:
        IngestError: not a zip archive, too many entries, or it would unpack to more than `max_unpacked`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise IngestError(f"not a readable {kind}: not a zip archive") from exc
    entries = archive.infolist()
    if len(entries) > max_entries:
        archive.close()
        raise IngestError(f"not a readable {kind}: {len(entries):,} files inside (at most {max_entries:,} allowed)")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > max_unpacked:
        archive.close()
        raise IngestError(
            f"the {kind} would unpack to {_mb(unpacked)}, more than the {_mb(max_unpacked)} allowed "
            "(a zip bomb, or far larger than a document needs)"
        )
    return archive


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"
