"""PDF: each page's text read the way a person reads the page.

Steps, per page (`ingest.loaders.pdfium` reads text lines with their boxes):

1. Text layer, or OCR: a page without text that shows a picture or text drawn as curves (or a few
   characters on a picture: a scan with a stamped number) is rendered and recognised
   (`ingest.loaders.ocr`) when OCR is on; otherwise it is skipped.
2. Tables: a page that draws enough lines goes through pdfplumber's table finder
   (`ingest.loaders.pdf_tables`); the lines inside a table are replaced by one line per row
   (`ingest.loaders.tables`).
3. Running headers and footers: lines repeating in the top or bottom band of most pages
   (`ingest.loaders.running`) are taken out and kept as document metadata.
4. Sections: bookmarks (the outline) give the heading path; each starts at the line that holds its title.

Pages are numbered from 1; pages without any text are left out with a warning naming them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.errors import IngestError
from ingest.loaders import ocr as ocr_step
from ingest.loaders.blocks import Block, HeadingPath, build_page, last_section
from ingest.loaders.document import EMPTY, LoadedDocument
from ingest.loaders.pdf_tables import MIN_PATHS, FoundTable, find_tables, inside
from ingest.loaders.pdfium import LOCK, PASSWORD_PROTECTED, Line, count_objects, open_pdf, outline, render, text_lines
from ingest.loaders.running import BAND, PageLines, find_running, running_indexes
from ingest.loaders.tables import table_rows

__all__ = ["NOTHING_TO_READ", "NO_TEXT_LAYER", "OCR_FOUND_NOTHING", "PASSWORD_PROTECTED", "load_pdf"]

NO_TEXT_LAYER = "no text layer (scanned/image-only PDF?) and OCR is off (KB_OCR=off)"
OCR_FOUND_NOTHING = "no text layer, and OCR found no text on any page (blank pages, or a scan too faint to read?)"
PAGE_UNREADABLE = "page {page} cannot be read: the PDF's page tree is damaged (it loops or points at nothing)"
NOTHING_TO_READ = "no text on any page: no text layer, and no picture or lettering for OCR to read (only drawings?)"
# A page with fewer visible characters than this on top of a picture is a scan (a stamped page number,
# a scanner's imprint): it is read by OCR.
MIN_TEXT_CHARS = 20
MIN_CURVES = 50  # a page of text set as outlines draws hundreds of curves; a frame or a logo a few
_TITLE_KEY = re.compile(r"\s+")


@dataclass
class _PageRead:
    """What was read of one page before the document-wide steps."""

    number: int
    size: tuple[float, float]
    lines: list[Line]
    ocr: bool = False
    tables: list[FoundTable] = field(default_factory=list)


def load_pdf(data: bytes, *, ocr: str = "on") -> LoadedDocument:
    """The PDF's pages that have text, numbered from 1, with warnings naming the skipped ones.

    Args:
        data: the file's bytes.
        ocr: how pages without a text layer are read (KB_OCR): "on" (RapidOCR), "tesseract", or "off"
            (skipped).

    Raises:
        IngestError: unreadable, password-protected, empty, or no page has text.
    """
    reads, scans, table_pages, bookmarks = _read_pages(data, ocr != "off")
    if not reads:
        raise IngestError(EMPTY)
    for index, tables in (find_tables(data, table_pages) if table_pages else {}).items():
        reads[index].tables = tables
    if scans:
        _recognise(data, reads, scans, ocr)

    geometry = [_page_lines(r) for r in reads]
    running = find_running(geometry)
    removed = [running_indexes(lines, running) for lines in geometry]
    sections = _section_starts(reads, removed, bookmarks)
    pages, inherited = [], ""
    for read, lines, gone in zip(reads, geometry, removed, strict=True):
        page = build_page(read.number, _blocks(read, lines, gone, sections.get(read.number, {}), inherited))
        if page is not None:
            pages.append(page)
            inherited = last_section(page, inherited)

    found = {p.number for p in pages}
    if not pages:
        raise IngestError(OCR_FOUND_NOTHING if scans else NO_TEXT_LAYER if ocr == "off" else NOTHING_TO_READ)
    warnings = [
        _skipped([r.number for r in reads if r.number not in found and not r.ocr], "no text layer"),
        _skipped([r.number for r in reads if r.number not in found and r.ocr], "no text layer and OCR found no text"),
    ]
    return LoadedDocument(
        pages,
        [w for w in warnings if w],
        page_count=len(reads),
        ocr_pages=tuple(r.number for r in reads if r.ocr and r.number in found),
        headers=running.headers,
        footers=running.footers,
        tables=sum(len(r.tables) for r in reads),
    )


def _skipped(numbers: list[int], why: str) -> str:
    """"pages 2, 5 have no text layer (skipped)", or "" for no page."""
    if not numbers:
        return ""
    noun, verb = ("page", "has") if len(numbers) == 1 else ("pages", "have")
    return f"{noun} {', '.join(map(str, numbers))} {verb} {why} (skipped)"


def _read_pages(data: bytes, ocr: bool):
    """Text lines of every page, the pages to OCR and those worth a table search, and the bookmarks."""
    import pypdfium2.raw as raw

    reads: list[_PageRead] = []
    scans: list[int] = []
    table_pages: list[int] = []
    tops: list[float] = []
    with open_pdf(data) as document, LOCK:
        for index in range(len(document)):
            page = _page(document, index)
            textpage = page.get_textpage()
            lines = text_lines(page, textpage)
            reads.append(_PageRead(index + 1, page.get_size(), lines))
            tops.append(page.get_bbox()[3])
            visible = sum(len("".join(line.text.split())) for line in lines)
            if ocr and visible < MIN_TEXT_CHARS and _worth_ocr(page, visible, raw):
                scans.append(index)
            elif visible and count_objects(page, raw.FPDF_PAGEOBJ_PATH, MIN_PATHS) >= MIN_PATHS:
                table_pages.append(index)
            textpage.close()
            page.close()
        bookmarks = outline(document, tops)
    return reads, scans, table_pages, bookmarks


def _page(document, index: int):
    """Page `index` of an open document; a page PDFium cannot load (a page tree that loops or points at
    nothing) is an IngestError that says so."""
    import pypdfium2 as pdfium

    try:
        return document[index]
    except pdfium.PdfiumError as exc:
        raise IngestError(PAGE_UNREADABLE.format(page=index + 1)) from exc


def _worth_ocr(page, visible: int, raw) -> bool:
    """A picture on the page (a scan), or, with no text at all, many drawn shapes (text turned into
    curves). A page with a few shapes and no text (a blank page, a diagram) is not worth seconds of OCR."""
    if count_objects(page, raw.FPDF_PAGEOBJ_IMAGE, 1):
        return True
    return visible == 0 and count_objects(page, raw.FPDF_PAGEOBJ_PATH, MIN_CURVES) >= MIN_CURVES


def _recognise(data: bytes, reads: list[_PageRead], scans: list[int], engine: str) -> None:
    """OCR each scanned page: rendered holding PDFium's lock, recognised without it."""
    with open_pdf(data) as document:
        for index in scans:
            read = reads[index]
            scale = ocr_step.MAX_SIDE_PX / max(read.size)
            with LOCK:
                page = document[index]
                image = render(page, scale)
                page.close()
            found = ocr_step.recognise(image, engine)
            read.ocr = True
            read.lines = _ocr_lines(found, scale)


def _ocr_lines(found: list[ocr_step.OcrLine], scale: float) -> list[Line]:
    """Recognised lines as page lines in points, with an empty line where a paragraph ends."""
    lines = []
    for i, line in enumerate(found):
        if i and line.paragraph != found[i - 1].paragraph:
            lines.append(Line(""))
        box = line.box
        lines.append(Line(line.text, (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)))
    return lines


def _page_lines(read: _PageRead) -> PageLines:
    height = read.size[1]
    top, bottom = set(), set()
    for i, line in enumerate(read.lines):
        if line.box is None:
            continue
        centre = (line.box[1] + line.box[3]) / 2
        if centre <= BAND * height:
            top.add(i)
        elif centre >= (1 - BAND) * height:
            bottom.add(i)
    return PageLines([line.text for line in read.lines], frozenset(top), frozenset(bottom))


def _section_starts(reads: list[_PageRead], removed: list[set[int]], bookmarks) -> dict[int, dict[int, str]]:
    """For each page number, the line indexes where a bookmarked section starts, with its heading path."""
    headings = HeadingPath()
    starts: dict[int, dict[int, str]] = {}
    cursor: dict[int, int] = {}  # per page: bookmarks are looked for below the previous one
    for level, title, page_index, top in bookmarks:
        path = headings.enter(level, title)
        if page_index is None:
            continue
        read = reads[page_index]
        line = _find_title(read.lines, title, top, cursor.get(page_index, 0), removed[page_index])
        cursor[page_index] = line
        starts.setdefault(read.number, {})[line] = path
    return starts


def _find_title(lines: list[Line], title: str, top: float | None, after: int, skip: set[int]) -> int:
    """The index of the line that starts a bookmark's section: the first line (from `after`) holding its
    title, else the first line at or below the bookmark's target, else `after`."""
    want = _TITLE_KEY.sub("", title).casefold()
    if want:
        for i in range(after, len(lines)):
            key = _TITLE_KEY.sub("", lines[i].text).casefold()
            if i not in skip and key and (want in key or (len(key) >= 8 and key in want and want.startswith(key))):
                return i
    if top is not None:
        for i in range(after, len(lines)):
            box = lines[i].box
            if i not in skip and box is not None and box[3] >= top - 2:
                return i
    return after


def _blocks(read: _PageRead, lines: PageLines, removed: set[int], starts: dict[int, str], inherited: str):
    """The page's lines but the `removed` ones as blocks: split where a section starts and around tables
    (one block a row)."""
    in_table: dict[int, int] = {}  # line index -> table number
    for t, table in enumerate(read.tables):
        for i, line in enumerate(read.lines):
            if i not in in_table and inside(line.box, table.box):
                in_table[i] = t
    table_at = {}
    for i, t in sorted(in_table.items()):
        table_at.setdefault(t, i)
    first_line_of = {i: t for t, i in table_at.items()}

    blocks: list[Block] = []
    section = inherited
    run: list[str] = []

    def flush() -> None:
        if run:
            blocks.append(Block("\n".join(run), section))
            run.clear()

    for i, text in enumerate(lines.lines):
        if i in starts:
            flush()
            section = starts[i]
        if i in first_line_of:
            flush()
            rows = table_rows(read.tables[first_line_of[i]].rows)
            blocks.extend(Block(row, section) for row in rows)
        if i in removed or i in in_table:
            continue
        run.append(text)
    flush()
    # Tables whose box holds no text line (drawn but filled with pictures) add nothing.
    return blocks
