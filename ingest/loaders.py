"""Turn an uploaded file (name + bytes) into pages of clean text.

`load_document(name, data)` returns a `LoadedDocument`: the pages that have text, plus warnings the
pipeline should show next to the file (e.g. "pages 2, 5 have no text layer (skipped)"). Pages are
numbered from 1 for PDF; other types give a single page with number None. Every page's text has been
through `normalize_text` and is non-empty.

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

import codecs
import io
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePath
from xml.etree import ElementTree

from app.errors import IngestError
from app.models import Page
from ingest.normalize import normalize_text

SUPPORTED_EXTENSIONS = (".pdf", ".txt", ".text", ".md", ".markdown", ".html", ".htm", ".docx")

EMPTY = "the file is empty"
UNDECODABLE = "cannot decode text: not UTF-8 (tried utf-8, utf-16, gb18030)"
PASSWORD_PROTECTED = "the PDF is password-protected"
NO_TEXT_LAYER = "no text layer (scanned/image-only PDF?): OCR is not supported"


@dataclass(frozen=True)
class LoadedDocument:
    """The non-empty pages of a file and the problems worth telling the user that did not stop it.

    `page_count` is the number of pages in the file, skipped ones included; None for non-paged types.
    """

    pages: list[Page]
    warnings: list[str] = field(default_factory=list)
    page_count: int | None = None

    @property
    def paged(self) -> bool:
        """True for paged formats (PDF), whose pages carry 1-based numbers."""
        return self.page_count is not None


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
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{ext}'" if ext else "without extension"
        raise IngestError(f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    if not data:
        raise IngestError(EMPTY)
    if ext == ".pdf":
        return _load_pdf(data)
    if ext == ".docx":
        text = _docx_text(data)
    elif ext in (".html", ".htm"):
        text = _html_text(decode_text(data))
    else:
        text = decode_text(data)
    text = normalize_text(text)
    if not text:
        raise IngestError(EMPTY)
    return LoadedDocument([Page(None, text)])


# --- PDF -------------------------------------------------------------------------------------------


def _load_pdf(data: bytes) -> LoadedDocument:
    # Imported here so that importing this module stays cheap for code that never sees a PDF.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # A PDF with an empty user password opens without asking; anything else needs the password.
            raise IngestError(PASSWORD_PROTECTED)
        texts = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except DependencyError as exc:
        # E.g. AES without the `cryptography` package: the file may be fine, this install cannot read it.
        raise IngestError(f"cannot decrypt the PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many types on malformed input, lazily while reading pages too
        raise IngestError(f"not a readable PDF: {_short_reason(exc)}") from exc

    if not texts:
        raise IngestError(EMPTY)
    pages, skipped = [], []
    for number, raw in enumerate(texts, start=1):
        text = normalize_text(raw)
        if text:
            pages.append(Page(number, text))
        else:
            skipped.append(number)
    if not pages:
        raise IngestError(NO_TEXT_LAYER)
    warnings = []
    if skipped:
        listed = ", ".join(map(str, skipped))
        noun, verb = ("page", "has") if len(skipped) == 1 else ("pages", "have")
        warnings.append(f"{noun} {listed} {verb} no text layer (skipped)")
    return LoadedDocument(pages, warnings, page_count=len(texts))


def _short_reason(exc: Exception) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return reason if len(reason) <= 120 else reason[:117] + "..."


# --- Plain text ------------------------------------------------------------------------------------

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")


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


# --- HTML ------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
# Not "head": browsers close it implicitly, so an unclosed one would hide the page; its text is the title.
_SKIPPED_TAGS = frozenset({"script", "style", "template", "title", "noscript", "svg"})
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th tr ul".split()
)


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become paragraph breaks (normalize_text collapses them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            # Whitespace inside HTML text is insignificant: a source line break is a space.
            self.parts.append(_WHITESPACE.sub(" ", data))


def _html_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


# --- DOCX ------------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_text(data: bytes) -> str:
    """Paragraphs of word/document.xml in document order (tables included), separated by blank lines."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml")
        root = ElementTree.fromstring(xml)
    except zipfile.BadZipFile as exc:
        raise IngestError("not a readable DOCX: not a zip archive") from exc
    except KeyError as exc:
        raise IngestError("not a readable DOCX: word/document.xml is missing") from exc
    except ElementTree.ParseError as exc:
        raise IngestError(f"not a readable DOCX: broken XML ({exc})") from exc
    paragraphs: list[str] = []
    _collect_paragraphs(root, paragraphs)
    return "\n\n".join(paragraphs)


def _collect_paragraphs(element: ElementTree.Element, out: list[str]) -> None:
    for child in element:
        if child.tag == _W + "p":
            _add_paragraph(child, out)
        else:
            _collect_paragraphs(child, out)


def _add_paragraph(paragraph: ElementTree.Element, out: list[str]) -> None:
    nested: list[str] = []  # paragraphs of text boxes anchored in this one: they follow it
    out.append("".join(_run_text(paragraph, nested)))
    out.extend(nested)


def _run_text(element: ElementTree.Element, nested: list[str]):
    for child in element:
        tag = child.tag
        if tag == _W + "t":
            yield child.text or ""
        elif tag == _W + "tab":
            yield "\t"
        elif tag in (_W + "br", _W + "cr"):
            yield "\n"
        elif tag == _W + "p":
            _add_paragraph(child, nested)
        else:
            yield from _run_text(child, nested)
