"""Markdown: the text without its markup, headings as the section path of what follows them.

Parsed with markdown-it-py (CommonMark plus tables). `# Guide` then `## Leave` puts the paragraphs under
the second heading in section "Guide › Leave"; the heading's own text stays, as the first line of its
section. Emphasis, links and images leave their words (link text, alt text), not their syntax; code keeps
its content; tables become one line per row (`ingest.loaders.tables`); raw HTML keeps its visible text;
YAML front matter is left out.
"""

from __future__ import annotations

import re

from ingest.loaders.blocks import Block, HeadingPath, build_page
from ingest.loaders.document import LoadedDocument, require_pages
from ingest.loaders.tables import table_rows
from ingest.loaders.text import decode

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def load_markdown(data: bytes) -> LoadedDocument:
    """A Markdown file as one page with sections.

    Raises:
        IngestError: undecodable, or no text.
    """
    decoded = decode(data)
    blocks, tables = markdown_blocks(decoded.text)
    page = build_page(None, blocks)
    pages = require_pages([page] if page else [])
    return LoadedDocument(pages, encoding=decoded.encoding, tables=tables)


def markdown_blocks(text: str) -> tuple[list[Block], int]:
    """The blocks of a Markdown text in reading order, each with its heading path, and the table count."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(_FRONT_MATTER.sub("", text, count=1))
    headings = HeadingPath()
    blocks: list[Block] = []
    rows: list[list[str]] | None = None  # the rows of the table being read
    tables = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            title = _inline_text(tokens[i + 1])
            path = headings.enter(int(token.tag[1]), title)
            blocks.append(Block(title, path))
            i += 3
            continue
        if kind == "inline":
            if rows is not None:
                rows[-1].append(_inline_text(token))
            else:
                blocks.append(Block(_inline_text(token), headings.path))
        elif kind in ("fence", "code_block"):
            blocks.append(Block(token.content, headings.path))
        elif kind == "html_block":
            from ingest.loaders.html import visible_text

            blocks.append(Block(visible_text(token.content), headings.path))
        elif kind == "table_open":
            rows = []
        elif kind == "tr_open" and rows is not None:
            rows.append([])
        elif kind == "table_close" and rows is not None:
            blocks.extend(Block(line, headings.path) for line in table_rows(rows, header=True))
            rows, tables = None, tables + 1
        i += 1
    return blocks, tables


def _inline_text(token) -> str:
    """An inline token's words: text, code and image alt text; line breaks kept, markup dropped."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # the alt text
    return "".join(parts)

