"""PDFium (pypdfium2) for everything a PDF page gives: its text lines with their boxes, whether it has
drawn lines (a table?) or images (a scan?), its bookmarks, and the page rendered as an image.

PDFium is not thread-safe (and ctypes lets other threads run during its calls): every call into it, from
the loader or from the page view, is made holding `LOCK`. Callers take it around their own calls, and
release it while they do slow work of their own (OCR), so a page view never waits for a whole ingest.
Geometry here is in PDF points from the page's top-left corner (x right, y down), as pdfplumber gives it.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.errors import IngestError
from ingest.loaders.document import EMPTY

LOCK = threading.RLock()
PASSWORD_PROTECTED = "the PDF is password-protected"
# PDFium joins a word it takes as hyphenated at a line end into one line, marking the hyphen U+FFFE (older
# builds: U+0002). It is split back into "exam-" and "ple" here, so that the normalizer decides, as for
# any text, whether the word is joined ("example") or keeps its hyphen ("Jean-Paul").
_LINE_BREAK = re.compile("\r\n|\n|\r|\ufffe|\x02")
_PDFIUM_PASSWORD, _PDFIUM_SECURITY = 4, 5  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY

Box = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class Line:
    """A line of a page's text and its box (None for a line without visible characters)."""

    text: str
    box: Box | None = None


@contextmanager
def open_pdf(data: bytes) -> Iterator:
    """The document, opened and (after the `with`) closed under LOCK; hold LOCK to use it in between.

    Raises:
        IngestError: password-protected, an encryption PDFium cannot open, or not a readable PDF.
    """
    import pypdfium2 as pdfium

    with LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            code = getattr(exc, "err_code", None)
            if code == _PDFIUM_PASSWORD:
                raise IngestError(PASSWORD_PROTECTED) from exc
            if code == _PDFIUM_SECURITY:
                raise IngestError("cannot decrypt the PDF: its security handler is not supported") from exc
            raise IngestError(_unreadable_reason(data)) from exc
    try:
        yield document
    finally:
        with LOCK:
            document.close()


def page_size(page) -> tuple[float, float]:
    """(width, height) in points."""
    return page.get_size()


def text_lines(page, textpage) -> list[Line]:
    """The page's text in PDFium's reading order, one `Line` per line, each with the box spanned by its
    first and last visible characters."""
    import pypdfium2.raw as raw

    text = textpage.get_text_range()
    left, _, _, top = page.get_bbox()  # the visible page, with inherited boxes (get_mediabox is not)
    lines = []
    start = 0
    for match in [*_LINE_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        line = text[start:end]
        box = None
        stripped = line.strip()
        if stripped:
            first = start + (len(line) - len(line.lstrip()))
            last = start + len(line.rstrip()) - 1
            box = _span_box(textpage, raw, first, last, left, top)
        hyphen = match is not None and match.group() in ("\ufffe", "\x02")
        lines.append(Line(line + "-" if hyphen else line, box))
        if match:
            start = match.end()
    return lines


def _span_box(textpage, raw, first_text: int, last_text: int, left: float, top: float) -> Box | None:
    boxes = []
    for index in (first_text, last_text):
        char = raw.FPDFText_GetCharIndexFromTextIndex(textpage, index)
        if char < 0:
            continue
        try:
            x0, y0, x1, y1 = textpage.get_charbox(char)
        except Exception:  # pypdfium2 raises PdfiumError for chars without a box
            continue
        boxes.append((x0 - left, top - y1, x1 - left, top - y0))
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def count_objects(page, kind: int, enough: int, scan_limit: int = 5000) -> int:
    """How many top-level page objects of `kind` (pypdfium2.raw.FPDF_PAGEOBJ_*) the page has, counting
    at most to `enough` and looking at the first `scan_limit` objects only (cheap on any page)."""
    import pypdfium2.raw as raw

    found = 0
    for index in range(min(raw.FPDFPage_CountObjects(page), scan_limit)):
        if raw.FPDFPageObj_GetType(raw.FPDFPage_GetObject(page, index)) == kind:
            found += 1
            if found >= enough:
                break
    return found


def render(page, scale: float, grayscale: bool = False):
    """The page as a PIL image, `scale` pixels per point."""
    return page.render(scale=scale, grayscale=grayscale, may_draw_forms=True).to_pil()


def outline(document, page_tops: list[float]) -> list[tuple[int, str, int | None, float | None]]:
    """The bookmarks, in order: (level from 1, title, 0-based page index or None, the target's distance
    from the page's top in points, or None). `page_tops`: each page's top edge (`page.get_bbox()[3]`)."""
    import pypdfium2.raw as raw

    items = []
    try:
        for bookmark in document.get_toc():
            dest = bookmark.get_dest()
            page_index = dest.get_index() if dest is not None else None
            if page_index is not None and not 0 <= page_index < len(page_tops):
                page_index = None
            top = None
            if page_index is not None:
                mode, pos = dest.get_view()
                if mode == raw.PDFDEST_VIEW_XYZ and len(pos) >= 2:
                    top = page_tops[page_index] - pos[1]
            items.append((bookmark.level + 1, bookmark.get_title().strip(), page_index, top))
    except Exception:  # a broken outline is no reason to refuse the text
        return items
    return items


def _unreadable_reason(data: bytes) -> str:
    """Why PDFium could not open `data`, in pypdf's words when it has them (it names the broken part)."""
    from pypdf import PdfReader

    try:
        pages = len(PdfReader(io.BytesIO(data)).pages)
    except Exception as exc:  # pypdf raises many types on malformed input
        return f"not a readable PDF: {_short(exc)}"
    if pages == 0:
        return EMPTY
    return "not a readable PDF: damaged file (PDFium cannot parse it)"


def _short(exc: Exception) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return reason if len(reason) <= 120 else reason[:117] + "..."
