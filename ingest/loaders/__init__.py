"""Turn an uploaded file (name + bytes) into pages of clean text: one module per format.

`load_document(name, data)` picks the loader by extension (`pdf`, `docx`, `html`, `text` for text and Markdown)
and returns a `LoadedDocument`: the pages that have text, plus warnings the pipeline should show next to the
file (e.g. "pages 2, 5 have no text layer (skipped)"). Pages are numbered from 1 for PDF; other types give a
single page with number None. Every page's text has been through `normalize_text` and is non-empty.

Anything that makes a file unusable raises `IngestError` with a message meant for the user:

- "unsupported file type '.xyz' (supported: .pdf, .txt, ...)"
- "the file is empty"
- "not a readable PDF: <short reason>"
- "the PDF is password-protected"
- "cannot decrypt the PDF: <reason from pypdf>"  (an encryption the installed crypto cannot handle)
- "no text layer (scanned/image-only PDF?): OCR is not supported"
- "cannot decode text: not UTF-8 (tried utf-8, utf-16, gb18030)"
- "not a readable DOCX: <short reason>"

Example:
    >>> load_document("a.txt", b"Hello.\\r\\n\\r\\nWorld.")
    LoadedDocument(pages=[Page(number=None, text='Hello.\\n\\nWorld.')], warnings=[], page_count=None)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from app.errors import IngestError
from ingest.loaders.document import EMPTY, LoadedDocument
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.pdf import NO_TEXT_LAYER, PASSWORD_PROTECTED, load_pdf
from ingest.loaders.text import UNDECODABLE, decode_text, load_text

__all__ = [
    "EMPTY",
    "NO_TEXT_LAYER",
    "PASSWORD_PROTECTED",
    "SUPPORTED_EXTENSIONS",
    "UNDECODABLE",
    "LoadedDocument",
    "decode_text",
    "load_document",
]

_LOADERS: dict[str, Callable[[bytes], LoadedDocument]] = {
    ".pdf": load_pdf,
    ".txt": load_text,
    ".text": load_text,
    ".md": load_text,
    ".markdown": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
}
SUPPORTED_EXTENSIONS = tuple(_LOADERS)


def load_document(name: str, data: bytes) -> LoadedDocument:
    """Extract the text of `data`, choosing the format by the extension of `name` (case-insensitive).

    Args:
        name: the file name as uploaded; only its extension is used.
        data: the file's bytes.

    Returns:
        A `LoadedDocument` with at least one page.

    Raises:
        IngestError: the type is unsupported or the file cannot be read; the message says why.
    """
    ext = PurePath(name).suffix.lower()
    if ext not in _LOADERS:
        shown = f"'{ext}'" if ext else "without extension"
        raise IngestError(f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    if not data:
        raise IngestError(EMPTY)
    return _LOADERS[ext](data)
