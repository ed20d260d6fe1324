"""DOCX: the body in document order, read with python-docx: headings as section paths, tables one line per
row, footnotes after the paragraph that cites them; page headers and footers kept as metadata.

The archive's declared sizes are checked before anything is unpacked (`ingest.loaders.archive`). A file
python-docx cannot open (a minimal one some tools write, without package relationships) is read the old
way: the paragraphs of word/document.xml in order, text boxes included.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

from app.errors import IngestError
from ingest.loaders.archive import open_zip
from ingest.loaders.blocks import Block, HeadingPath, build_page
from ingest.loaders.document import LoadedDocument, require_pages
from ingest.loaders.tables import table_rows

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W = "{" + _W_NS + "}"
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título|titolo|kop|标题|見出し)\s*(\d)$", re.IGNORECASE)
_NOTE_PARTS = (("word/footnotes.xml", "footnote"), ("word/endnotes.xml", "endnote"))


def load_docx(data: bytes) -> LoadedDocument:
    """A DOCX file's text as one page with sections.

    Raises:
        IngestError: not a zip archive, too big unpacked, no word/document.xml, broken XML, or no text.
    """
    with open_zip(data, "DOCX") as archive:
        if "word/document.xml" not in archive.namelist():
            raise IngestError("not a readable DOCX: word/document.xml is missing")
        notes = _notes(archive)
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises many types; the plain reader says what is wrong
        return LoadedDocument(require_pages(_single([Block(docx_text(data))])))
    reader = _BodyReader(notes)
    for item in document.iter_inner_content():
        reader.add(item)
    blocks = reader.finish()
    headers, footers = _headers_footers(document)
    return LoadedDocument(require_pages(_single(blocks)), headers=headers, footers=footers, tables=reader.tables)


def _single(blocks: list[Block]) -> list:
    page = build_page(None, blocks)
    return [page] if page else []


class _BodyReader:
    """Paragraphs and tables of the body, in order, as blocks under the current heading path."""

    def __init__(self, notes: dict[str, str]) -> None:
        self.blocks: list[Block] = []
        self.tables = 0
        self._headings = HeadingPath()
        self._notes = notes
        self._cited: set[str] = set()

    def add(self, item) -> None:
        from docx.table import Table

        if isinstance(item, Table):
            self._table(item)
        else:
            self._paragraph(item)

    def finish(self) -> list[Block]:
        uncited = [(key, text) for key, text in self._notes.items() if key not in self._cited]
        self.blocks.extend(Block(f"[{key}] {text}", self._headings.path) for key, text in uncited)
        return self.blocks

    def _paragraph(self, paragraph) -> None:
        text = paragraph.text
        level = _heading_level(paragraph)
        if level is not None and text.strip():
            self.blocks.append(Block(text, self._headings.enter(level, text)))
        else:
            self.blocks.append(Block(text, self._headings.path))
        element = paragraph._p
        boxed: dict[str, None] = {}  # Word stores a text box twice (drawing and VML fallback): once each
        for box in element.iter(_W + "txbxContent"):  # text boxes anchored in this paragraph follow it
            for p in box.iter(_W + "p"):
                boxed["".join(_run_text(p, []))] = None
        self.blocks.extend(Block(text, self._headings.path) for text in boxed)
        for ref in element.iter(_W + "footnoteReference", _W + "endnoteReference"):
            key = _note_key(ref)
            if key in self._notes and key not in self._cited:
                self._cited.add(key)
                self.blocks.append(Block(f"[{key}] {self._notes[key]}", self._headings.path))

    def _table(self, table) -> None:
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        header = _repeats_header(table) or None
        self.blocks.extend(Block(line, self._headings.path) for line in table_rows(rows, header=header))
        self.tables += 1


def _heading_level(paragraph) -> int | None:
    """1 for "Heading 1" (0 for "Title"): from an outline level on the paragraph or its style chain, else
    from the style's name (built-in names, in a few languages)."""
    element = paragraph._p.pPr
    if element is not None and element.find(_W + "outlineLvl") is not None:
        return _outline_level(element.find(_W + "outlineLvl"))
    style = paragraph.style
    while style is not None:
        ppr = style.element.pPr
        outline = ppr.find(_W + "outlineLvl") if ppr is not None else None
        if outline is not None:
            return _outline_level(outline)
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        match = _HEADING_STYLE.match(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _outline_level(element) -> int | None:
    value = int(element.get(_W + "val", "9"))
    return None if value >= 9 else value + 1  # 9 is "body text"


def _repeats_header(table) -> bool:
    """Word's "repeat as header row" on the first row says it holds the column names."""
    rows = table._tbl.tr_lst
    if not rows:
        return False
    trpr = rows[0].trPr
    return trpr is not None and trpr.find(_W + "tblHeader") is not None


def _headers_footers(document) -> tuple[tuple[str, ...], tuple[str, ...]]:
    headers: dict[str, None] = {}
    footers: dict[str, None] = {}
    for section in document.sections:
        for attr, into in (
            ("header", headers), ("first_page_header", headers), ("even_page_header", headers),
            ("footer", footers), ("first_page_footer", footers), ("even_page_footer", footers),
        ):
            part = getattr(section, attr)
            if part.is_linked_to_previous:
                continue
            for paragraph in part.paragraphs:
                line = " ".join(paragraph.text.split())
                if line:
                    into[line] = None
    return tuple(headers), tuple(footers)


def _notes(archive: zipfile.ZipFile) -> dict[str, str]:
    """Footnote and endnote texts by their id ("1", "2", ...; endnotes "e1", ...), separators left out."""
    notes: dict[str, str] = {}
    for part, tag in _NOTE_PARTS:
        if part not in archive.namelist():
            continue
        try:
            root = ElementTree.fromstring(archive.read(part))
        except ElementTree.ParseError:
            continue
        for note in root.iter(_W + tag):
            if note.get(_W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
                continue
            paragraphs = ["".join(_run_text(p, [])) for p in note.iter(_W + "p")]
            text = " ".join(" ".join(paragraphs).split())
            if text:
                key = note.get(_W + "id", "")
                notes[key if tag == "footnote" else "e" + key] = text
    return notes


def _note_key(ref) -> str:
    key = ref.get(_W + "id", "")
    return key if ref.tag == _W + "footnoteReference" else "e" + key


# --- the plain reader (files python-docx cannot open) --------------------------------------------


def docx_text(data: bytes) -> str:
    """Paragraphs of word/document.xml in document order (tables included), separated by blank lines."""
    try:
        with open_zip(data, "DOCX") as archive:
            xml = archive.read("word/document.xml")
        root = ElementTree.fromstring(xml)
    except KeyError as exc:
        raise IngestError("not a readable DOCX: word/document.xml is missing") from exc
    except ElementTree.ParseError as exc:
        raise IngestError(f"not a readable DOCX: broken XML ({exc})") from exc
    except zipfile.BadZipFile as exc:
        raise IngestError("not a readable DOCX: not a zip archive") from exc
    paragraphs: list[str] = []
    try:
        _collect_paragraphs(root, paragraphs)
    except RecursionError as exc:
        raise IngestError("not a readable DOCX: its elements are nested too deeply") from exc
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


def _run_text(element, nested: list[str]):
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
