"""HTML: the main content only, headings as section paths, tables one line per row.

trafilatura finds the main content (navigation, menus, cookie banners, sidebars, footers and scripts
dropped, by its markup and text-density rules) and gives it as structured XML: headings, paragraphs,
lists and tables. On pages too small or too flat for it (it then returns one run-together paragraph, or
nothing), a plain walk of the markup is used instead: every visible block, minus `<nav>`, `<aside>`,
buttons, page-level `<header>`/`<footer>` and ARIA navigation/banner/contentinfo regions.

The charset is the one a `<meta charset>` declares when it decodes the bytes, else as for plain text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app.errors import IngestError
from ingest.loaders.blocks import Block, HeadingPath, build_page
from ingest.loaders.document import LoadedDocument, require_pages
from ingest.loaders.tables import table_rows
from ingest.loaders.text import decode

_WHITESPACE = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Not "head": browsers close it implicitly, so an unclosed one would hide the page; its text is the title.
_SKIPPED_TAGS = frozenset({"script", "style", "template", "title", "noscript", "svg"})
# Not "form": ASP.NET pages wrap the whole body in one.
_BOILERPLATE_TAGS = frozenset({"nav", "aside", "button", "select", "dialog"})
_PAGE_CHROME_TAGS = frozenset({"header", "footer"})  # boilerplate unless inside the main content
_CONTENT_TAGS = frozenset({"main", "article"})
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu"})
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th tr ul".split()
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_OPENED_RAW = re.compile(r"<(script|style)\b[^>]*>", re.IGNORECASE)  # raw-text elements: hide all up to their end tag
NO_VISIBLE_TEXT = "the page has no visible text (only markup, scripts or styles)"
UNCLOSED = "the page has no visible text: a <{tag}> element is never closed, so a browser shows nothing after it"
_VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def load_html(data: bytes) -> LoadedDocument:
    """An HTML file's main content as one page with sections.

    Raises:
        IngestError: undecodable, or no visible text.
    """
    decoded = decode(data, declared=_declared_charset(data))
    blocks, tables = html_blocks(decoded.text)
    page = build_page(None, blocks)
    if page is None and decoded.text.strip():
        raise IngestError(_why_invisible(decoded.text))
    return LoadedDocument(require_pages([page] if page else []), encoding=decoded.encoding, tables=tables)


def _why_invisible(html: str) -> str:
    """Why markup with characters in it shows no text: an unclosed <script>/<style>, or only markup."""
    for opened in _OPENED_RAW.finditer(html):
        tag = opened.group(1).lower()
        if not re.search(f"</{tag}\\s*>", html[opened.end():], re.IGNORECASE):
            return UNCLOSED.format(tag=tag)
    return NO_VISIBLE_TEXT


def html_blocks(html: str) -> tuple[list[Block], int]:
    """The main content's blocks with their heading paths, and how many tables it had."""
    main = _main_content(html)
    return main if main is not None else html_blocks_plain(html)


def visible_text(html: str) -> str:
    """All visible text of an HTML fragment (for raw HTML inside Markdown), blocks as paragraphs."""
    blocks, _ = html_blocks_plain(html)
    return "\n\n".join(b.text for b in blocks)


def html_blocks_plain(html: str) -> tuple[list[Block], int]:
    """Like `html_blocks` without the main-content step: the plain walk of the markup."""
    walker = _BlockWalker()
    walker.feed(html)
    walker.close()
    return walker.finish(), walker.tables


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


# --- trafilatura --------------------------------------------------------------------------------


def _main_content(html: str) -> tuple[list[Block], int] | None:
    """trafilatura's main content as blocks, or None when it found none or only one flat paragraph."""
    import trafilatura
    from lxml import etree

    try:
        xml = trafilatura.extract(
            html, output_format="xml", include_tables=True, include_comments=False, include_links=False,
            include_images=False, include_formatting=False, deduplicate=False,
        )
        root = etree.fromstring(xml.encode("utf-8")) if xml else None
    except Exception:  # markup trafilatura or lxml cannot take (nesting, encoding): the plain walk reads it
        return None
    if root is None:
        return None
    main = root.find("main")
    if main is None:
        return None
    blocks: list[Block] = []
    headings = HeadingPath()
    tables = _xml_blocks(main, headings, blocks)
    if len(blocks) < 2:
        return None
    return blocks, tables


def _xml_blocks(element, headings: HeadingPath, out: list[Block]) -> int:
    tables = 0
    for child in element:
        tag = child.tag
        if tag == "head":
            title = _xml_text(child)
            level = int((child.get("rend") or "h2").lstrip("h") or 2)
            out.append(Block(title, headings.enter(level, title)))
        elif tag == "table":
            rows = [[_xml_text(cell) for cell in row.iter("cell")] for row in child.iter("row")]
            first = next(child.iter("row"), None)
            header = first is not None and all(c.get("role") == "head" for c in first.iter("cell"))
            out.extend(Block(line, headings.path) for line in table_rows(rows, header=header or None))
            tables += 1
        elif tag == "list":
            for item in child.iter("item"):
                out.append(Block(_xml_text(item), headings.path))
        else:
            out.append(Block(_xml_text(child), headings.path))
    return tables


def _xml_text(element) -> str:
    parts = [element.text or ""]
    for child in element:
        parts.append("\n" if child.tag == "lb" else _xml_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


# --- plain walk ---------------------------------------------------------------------------------


class _BlockWalker(HTMLParser):
    """Visible text as blocks: block elements end a paragraph, headings set the section, table rows are
    collected cell by cell; scripts, styles and navigation-like regions are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.tables = 0
        self._headings = HeadingPath()
        self._parts: list[str] = []
        self._skip: list[str] = []  # open elements whose content is hidden
        self._content_depth = 0  # open <main>/<article> elements
        self._heading: int | None = None
        self._rows: list[list[list[str]]] = []  # per open table: rows of cell texts
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if self._skip:
            if tag not in _VOID_TAGS:
                self._skip.append(tag)
            return
        if self._hidden(tag, dict(attrs)):
            self._skip.append(tag)
            return
        if tag in _CONTENT_TAGS:
            self._content_depth += 1
        if tag == "br":
            self._text("\n")
        elif tag == "table":
            self._flush()
            self._rows.append([])
        elif tag == "tr" and self._rows:
            self._rows[-1].append([])
        elif tag in ("td", "th") and self._rows:
            self._cell = []
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag in _BLOCK_TAGS:
            if self._cell is not None:
                self._cell.append(" ")
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            return
        if tag in _CONTENT_TAGS:
            self._content_depth = max(0, self._content_depth - 1)
        if tag in ("td", "th") and self._cell is not None and self._rows:
            if not self._rows[-1]:
                self._rows[-1].append([])
            self._rows[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table" and self._rows:
            rows = self._rows.pop()
            self.blocks.extend(Block(line, self._headings.path) for line in table_rows(rows))
            self.tables += 1
        elif tag in _HEADINGS and self._heading is not None:
            title = "".join(self._parts)
            self._parts = []
            self.blocks.append(Block(title, self._headings.enter(self._heading, title)))
            self._heading = None
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            # Whitespace inside HTML text is insignificant: a source line break is a space.
            self._text(_WHITESPACE.sub(" ", data))

    def finish(self) -> list[Block]:
        self._flush()
        return self.blocks

    def _hidden(self, tag: str, attrs: dict) -> bool:
        if tag in _SKIPPED_TAGS or tag in _BOILERPLATE_TAGS:
            return True
        if tag in _PAGE_CHROME_TAGS and not self._content_depth:
            return True
        return (attrs.get("role") or "").lower() in _BOILERPLATE_ROLES or "hidden" in attrs

    def _text(self, text: str) -> None:
        if self._cell is not None:
            self._cell.append(text)
        else:
            self._parts.append(text)

    def _flush(self) -> None:
        if self._parts and self._heading is None:
            self.blocks.append(Block("".join(self._parts), self._headings.path))
            self._parts = []
