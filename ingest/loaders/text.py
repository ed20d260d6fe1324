"""Plain text (kept as written) and the charset detection that Markdown and HTML share.

UTF-8 (with or without a BOM) and UTF-16 with a BOM are read as such. Anything else is handed to
charset-normalizer, which recognises the legacy encodings company archives are full of: Windows-1252 and
Latin-1, GBK/GB18030, Big5, Shift-JIS, and the other code pages Python knows. The encoding used is
recorded on the `LoadedDocument`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from app.errors import IngestError
from ingest.loaders.document import LoadedDocument, single_page

UNDECODABLE = "cannot decode text: not UTF-8, and no known encoding (cp1252, GB18030, Big5, Shift-JIS...) fits"

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")
# Single-byte code pages decode any bytes, so charset-normalizer's scores for Western text are close and
# its first pick is often a Baltic or Central European page (cp1257, cp1250). Windows-1252 is by far the
# most common of them: it wins when it is nearly as plausible as the best (mess ratio within this margin).
_CP1252_MARGIN = 0.1
_C1_BYTES = frozenset(range(0x80, 0xA0))  # where cp1252 and Latin-1 differ


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # a Python codec name: "utf-8", "utf-16", "cp1252", "latin-1", "gb18030", "big5", "cp932"...


def load_text(data: bytes) -> LoadedDocument:
    """A text file as one page.

    Raises:
        IngestError: undecodable, or empty after normalization.
    """
    decoded = decode(data)
    return single_page(decoded.text, decoded.encoding)


def decode_text(data: bytes) -> str:
    """The text of `data` (see `decode`)."""
    return decode(data).text


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """Decode text bytes: UTF-8 (BOM or not), UTF-16 with a BOM, a `declared` charset (an HTML meta tag)
    that decodes them cleanly, else the legacy encoding charset-normalizer finds most plausible.

    Raises:
        IngestError: binary data, or no encoding fits.
    """
    if data.startswith(_UTF16_BOMS):
        found = _try(data, "utf-16")
    else:
        found = _try(data, "utf-8-sig")
        if found is None and declared:
            found = _try(data, declared)
        if found is None:
            found = _detect(data)
    if found is None or not _looks_like_text(found.text):
        raise IngestError(UNDECODABLE)
    return found


def _try(data: bytes, encoding: str) -> Decoded | None:
    try:
        name = codecs.lookup(encoding).name
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return None
    return Decoded(text, "utf-8" if name == "utf-8-sig" else name)


def _detect(data: bytes) -> Decoded | None:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    western = next((m for m in matches if m.encoding == "cp1252"), None)
    if western is not None and western.chaos <= best.chaos + _CP1252_MARGIN:
        best = western
    encoding = best.encoding
    if encoding == "cp1252" and not _C1_BYTES.intersection(data):
        encoding = "latin-1"  # the same text either way; without C1 bytes the file is valid Latin-1
    return Decoded(str(best), encoding)


def _looks_like_text(text: str) -> bool:
    """Binary junk decodes to NULs and other control characters; real text has (almost) none."""
    controls = sum(1 for ch in text if ch < " " and ch not in _ALLOWED_CONTROLS)
    return controls == 0 or controls <= len(text) // 1000
