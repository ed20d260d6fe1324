"""Where a passage sits in its document: a PDF page drawn with the passage marked, or, for the other
formats, the passage inside its section with the text around it.

`page_image` renders the page of the kept original with PDFium and marks the passage's characters. A
chunk's offsets are into the *normalized* page text, which differs from PDFium's raw text (line breaks,
hyphens joined, headers and footers removed, table rows rewritten), so the passage is found again in the
raw text by its letters and digits alone; where it was rewritten (a table row) the longest runs it shares
with the page are marked. A page read by OCR is recognised again and the lines of the passage are marked.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from app.errors import InvalidInput
from app.models import Chunk
from app.runtime import Runtime
from app.service.documents import original

PAGE_WIDTH_PX = 1000
CONTEXT_CHARS = 1500  # text shown before and after a passage of a non-PDF document (within its section)
_HIGHLIGHT = (255, 214, 0, 96)  # translucent yellow
_OUTLINE = (230, 150, 0, 255)
_MIN_RUN = 4  # shared runs shorter than this are coincidences, not the passage

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class PageImage:
    """A rendered page: PNG bytes, its size in pixels, and the marked rectangles (left, top, right,
    bottom, in pixels). `found` is False when the passage could not be located on the page."""

    png: bytes
    width: int
    height: int
    page: int
    boxes: list[Box] = field(default_factory=list)
    found: bool = False


@dataclass(frozen=True)
class PassageContext:
    """A passage of a non-paged document inside its section: the section's heading path, the text before
    the passage (from the section start or CONTEXT_CHARS back), the passage, and the text after it."""

    section: str
    before: str
    passage: str
    after: str
    cut_before: bool = False  # the section goes on before `before`
    cut_after: bool = False


def page_image(
    rt: Runtime,
    kb_name: str,
    doc_id: str,
    page: int,
    char_start: int,
    char_end: int,
    *,
    text: str | None = None,
    width_px: int = PAGE_WIDTH_PX,
) -> PageImage:
    """Page `page` (1-based) of a stored PDF as a PNG `width_px` wide, the passage marked.

    Args:
        text: the passage (the chunk's text); None reads the chunk with these offsets from the store.

    Raises:
        InvalidInput: the document is gone, is not a PDF, or has no such page.
    """
    path = original(rt, kb_name, doc_id)
    if path is None:
        raise InvalidInput("The original file of this document is no longer kept.")
    if path.suffix.lower() != ".pdf":
        raise InvalidInput("Only PDF pages can be shown; other documents show the passage in its section.")
    if text is None:
        text = _chunk_text(rt, kb_name, doc_id, page, char_start, char_end)
    return render_passage(path.read_bytes(), page, text, width_px=width_px, ocr=rt.settings.ocr)


def render_passage(
    data: bytes, page: int, passage: str, *, width_px: int = PAGE_WIDTH_PX, ocr: str = "on"
) -> PageImage:
    """`page_image` on a PDF's bytes."""
    from ingest.loaders import ocr as ocr_step
    from ingest.loaders.pdfium import LOCK, open_pdf, render

    scan = None
    with open_pdf(data) as document:
        with LOCK:
            if not 1 <= page <= len(document):
                raise InvalidInput(f"The document has no page {page}.")
            pdf_page = document[page - 1]
            width, height = pdf_page.get_size()
            scale = width_px / width
            image = render(pdf_page, scale).convert("RGB")
            textpage = pdf_page.get_textpage()
            boxes = _text_boxes(pdf_page, textpage, passage, scale)
            if not textpage.get_text_range().strip() and ocr != "off":
                scan_scale = ocr_step.MAX_SIDE_PX / max(width, height)
                scan = render(pdf_page, scan_scale)
            textpage.close()
            pdf_page.close()
    if scan is not None:  # read by OCR at ingest: recognised again (without PDFium's lock) to find the lines
        boxes = _ocr_boxes(scan, passage, ocr, scale / scan_scale)
    return PageImage(_draw(image, boxes), image.width, image.height, page, boxes, bool(boxes))


def passage_context(rt: Runtime, kb_name: str, chunk: Chunk, context: int = CONTEXT_CHARS) -> PassageContext:
    """The passage of a non-paged document (text, Markdown, HTML, DOCX) inside its section.

    Raises:
        InvalidInput: the original is no longer kept.
    """
    from ingest.loaders import load_document

    path = original(rt, kb_name, chunk.doc_id)
    if path is None:
        raise InvalidInput("The original file of this document is no longer kept.")
    pages = load_document(chunk.doc_name, path.read_bytes(), ocr="off").pages
    page = next((p for p in pages if p.number == chunk.page), pages[0])
    return context_in_page(page, chunk, context)


def context_in_page(page, chunk: Chunk, context: int = CONTEXT_CHARS) -> PassageContext:
    """`passage_context` on the loaded page the chunk was cut from."""
    text = page.text
    start, end = chunk.char_start, chunk.char_end
    if text[start:end] != chunk.text:  # parsed differently since (a newer loader): find it again
        found = text.find(chunk.text)
        start, end = (found, found + len(chunk.text)) if found >= 0 else (0, 0)
    starts = [s.start for s in page.sections]
    index = max((i for i, s in enumerate(starts) if s <= start), default=None)
    lo = starts[index] if index is not None else 0
    hi = starts[index + 1] if index is not None and index + 1 < len(starts) else len(text)
    section = page.sections[index].path if index is not None else ""
    first, last = max(lo, start - context), min(hi, end + context)
    return PassageContext(
        section, text[first:start], text[start:end] or chunk.text, text[end:last], first > lo, last < hi
    )


def _chunk_text(rt: Runtime, kb_name: str, doc_id: str, page: int, start: int, end: int) -> str:
    for chunk in rt.store.document_chunks(rt.open_kb(kb_name), doc_id):
        if chunk.page == page and chunk.char_start == start and chunk.char_end == end:
            return chunk.text
    raise InvalidInput("No such passage in this document.")


def _key(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text`, casefolded and NFKC-normalized (ligatures split), with the index
    in `text` each one comes from."""
    chars, where = [], []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if c.isalnum():
                chars.append(c)
                where.append(i)
    return "".join(chars), where


def _text_boxes(page, textpage, passage: str, scale: float) -> list[Box]:
    """Rectangles (pixels) over the characters of `passage` on a page with a text layer."""
    import pypdfium2.raw as raw

    text = textpage.get_text_range()
    page_key, where = _key(text)
    want, _ = _key(passage)
    if not want or not page_key:
        return []
    at = page_key.find(want)
    spans = [(at, at + len(want))] if at >= 0 else _piece_spans(page_key, passage)
    left, _, _, top = page.get_bbox()
    char_boxes = []
    for lo, hi in spans:
        for k in range(lo, hi):
            char = raw.FPDFText_GetCharIndexFromTextIndex(textpage, where[k])
            if char < 0:
                continue
            try:
                x0, y0, x1, y1 = textpage.get_charbox(char, loose=True)
            except Exception:  # a character without a box (generated) is not drawn
                continue
            char_boxes.append(((x0 - left) * scale, (top - y1) * scale, (x1 - left) * scale, (top - y0) * scale))
    return _line_rects(char_boxes)


def _piece_spans(page_key: str, passage: str) -> list[tuple[int, int]]:
    """Where the pieces of a rewritten passage are on the page: the values of table rows
    ("Grade: Senior; Days: 30" marks "Senior" and "30", each searched after the previous one), other
    lines as the longest runs they share with the page."""
    spans, cursor = [], 0
    for line in passage.split("\n"):
        if ": " in line:
            pieces = [part.split(": ", 1)[-1] for part in line.split("; ")]
        else:
            pieces = [line]
        for piece in pieces:
            key, _ = _key(piece)
            if not key:
                continue
            at = page_key.find(key, cursor)
            at = page_key.find(key) if at < 0 else at
            if at >= 0:
                spans.append((at, at + len(key)))
                cursor = at + len(key)
            elif len(key) >= _MIN_RUN:
                blocks = SequenceMatcher(None, page_key, key, autojunk=False).get_matching_blocks()
                spans.extend((b.a, b.a + b.size) for b in blocks if b.size >= _MIN_RUN)
    return spans


def _line_rects(boxes: list[tuple[float, float, float, float]]) -> list[Box]:
    """Character boxes merged into one rectangle per run of characters on a line."""
    rects: list[list[float]] = []
    for box in boxes:
        if rects:
            last = rects[-1]
            same_line = abs((box[1] + box[3]) / 2 - (last[1] + last[3]) / 2) < (last[3] - last[1]) / 2
            if same_line and box[0] >= last[0] - 2:
                last[0], last[1] = min(last[0], box[0]), min(last[1], box[1])
                last[2], last[3] = max(last[2], box[2]), max(last[3], box[3])
                continue
        rects.append(list(box))
    return [(int(r[0]), int(r[1]), int(r[2] + 0.999), int(r[3] + 0.999)) for r in rects]


def _ocr_boxes(scan, passage: str, engine: str, factor: float) -> list[Box]:
    """Rectangles (scan pixels times `factor`) over the recognised lines of a scanned page that belong
    to the passage."""
    from ingest.loaders import ocr

    want, _ = _key(passage)
    rects = []
    for line in ocr.recognise(scan, engine):
        key, _ = _key(line.text)
        if len(key) >= _MIN_RUN and (key in want or _overlaps(key, want)):
            rects.append(tuple(int(v * factor) for v in line.box))
    return rects


def _overlaps(line: str, want: str, at_least: int = 8) -> bool:
    """The passage starts inside this line or ends inside it (first and last lines of a passage)."""
    n = min(len(line), len(want), 24)
    return n >= at_least and (line.endswith(want[:n]) or line.startswith(want[-n:]))


def _draw(image, boxes: list[Box]) -> bytes:
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for box in boxes:
        draw.rectangle(box, fill=_HIGHLIGHT, outline=_OUTLINE, width=1)
    out = io.BytesIO()
    Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB").save(out, "PNG", optimize=False)
    return out.getvalue()

