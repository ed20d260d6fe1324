"""Turn an uploaded file (name + bytes) into pages of clean text: one module per format.

`load_document(name, data)` picks the loader by extension (`pdf`, `docx`, `html`, `markdown`, `text`) and
returns a `LoadedDocument`: the pages that have text, what was learnt on the way (the encoding, the pages
read by OCR, running headers and footers, how many tables), plus warnings the pipeline should show next
to the file (e.g. "pages 2, 5 have no text layer (skipped)"). Pages are numbered from 1 for PDF; other
types give a single page with number None. Every page's text has been through `normalize_text` and is
non-empty; where the format has headings, `Page.sections` says where each section starts.

What each format gets:

| format | running headers/footers | tables | sections | other |
|---|---|---|---|---|
| PDF | detected, removed, kept as metadata | pdfplumber, one line per row | bookmarks | OCR of scanned pages |
| DOCX | header/footer parts kept as metadata | one line per row | Heading styles | footnotes after their paragraph |
| HTML | navigation, menus, footers dropped | one line per row | h1-h6 | `<meta charset>` honoured |
| Markdown | - | one line per row | `#` headings | markup dropped |
| text | - | - | - | legacy encodings detected |

Anything that makes a file unusable raises `IngestError` with a message meant for the user:

- "unsupported file type '.xyz' (supported: .pdf, .txt, ...)"
- "the file is empty"
- "not a readable PDF: <short reason>"
- "the PDF is password-protected"
- "no text layer (scanned/image-only PDF?) and OCR is off (KB_OCR=off)"
- "no text layer, and OCR found no text on any page (...)"
- "no text on any page: no text layer, and no picture or lettering for OCR to read (only drawings?)"
- "cannot decode text: not UTF-8, and no known encoding (...) fits"
- "not a readable DOCX: <short reason>", "the DOCX would unpack to N MB, more than the 256 MB allowed (...)"

Example:
    >>> load_document("a.txt", b"Hello.\\r\\n\\r\\nWorld.").pages
    [Page(number=None, text='Hello.\\n\\nWorld.', sections=())]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from app.errors import IngestError
from ingest.loaders.document import EMPTY, LoadedDocument
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import NO_TEXT_LAYER, NOTHING_TO_READ, OCR_FOUND_NOTHING, PASSWORD_PROTECTED, load_pdf
from ingest.loaders.text import UNDECODABLE, decode_text, load_text

__all__ = [
    "EMPTY",
    "NOTHING_TO_READ",
    "NO_TEXT_LAYER",
    "OCR_FOUND_NOTHING",
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
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
}
SUPPORTED_EXTENSIONS = tuple(_LOADERS)


def load_document(name: str, data: bytes, *, ocr: str = "on") -> LoadedDocument:
    """Extract the text of `data`, choosing the format by the extension of `name` (case-insensitive).

    Args:
        name: the file name as uploaded; only its extension is used.
        data: the file's bytes.
        ocr: how PDF pages without a text layer are read (the KB_OCR setting): "on" (RapidOCR),
            "tesseract", or "off" (skipped).

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
    if ext == ".pdf":
        return load_pdf(data, ocr=ocr)
    return _LOADERS[ext](data)
