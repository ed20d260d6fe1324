"""Plain text and Markdown (kept as written), and the charset guessing that HTML shares."""

from __future__ import annotations

import codecs

from app.errors import IngestError
from ingest.loaders.document import LoadedDocument, single_page

UNDECODABLE = "cannot decode text: not UTF-8 (tried utf-8, utf-16, gb18030)"

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")


def load_text(data: bytes) -> LoadedDocument:
    """A text or Markdown file as one page.

    Raises:
        IngestError: undecodable, or empty after normalization.
    """
    return single_page(decode_text(data))


def decode_text(data: bytes) -> str:
    """Decode text bytes: UTF-8 (BOM or not), UTF-16 with a BOM, else GB18030 if the result is plausible.

    Raises:
        IngestError: binary data, or an encoding other than these.
    """
    if data.startswith(_UTF16_BOMS):
        text = _try_decode(data, "utf-16")
    else:
        text = _try_decode(data, "utf-8-sig")
        if text is None:
            text = _try_decode(data, "gb18030")
            if text is not None and not _looks_like_chinese(text):
                text = None
    if text is None or not _looks_like_text(text):
        raise IngestError(UNDECODABLE)
    return text


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_like_text(text: str) -> bool:
    """Binary junk decodes to NULs and other control characters; real text has (almost) none."""
    controls = sum(1 for ch in text if ch < " " and ch not in _ALLOWED_CONTROLS)
    return controls == 0 or controls <= len(text) // 1000


def _looks_like_chinese(text: str) -> bool:
    """GB18030 decodes most byte soup (e.g. Latin-1 prose) into rare ideographs; real Chinese text is
    mostly made of the ~7,000 common characters of GB2312."""
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    if not non_ascii:
        return True
    common = sum(1 for ch in non_ascii if _in_gb2312(ch))
    return common >= 0.9 * len(non_ascii)


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True
