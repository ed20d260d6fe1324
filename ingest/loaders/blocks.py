"""Pages built from blocks of text that know their heading path: how loaders record sections.

A loader that sees headings (Markdown, DOCX, HTML, PDF bookmarks) emits `Block`s: paragraphs, list items,
table rows, each with the heading path it sits under. `build_page` normalizes every block, joins them with
blank lines and records a `Section` wherever the path changes, so that offsets in `Page.sections` are
offsets into the final (normalized) page text.

Example:
    >>> headings = HeadingPath()
    >>> blocks = [Block("Intro.", headings.enter(1, "Guide")), Block("Leave.", headings.enter(2, "Leave"))]
    >>> page = build_page(None, blocks)
    >>> page.text
    'Intro.\\n\\nLeave.'
    >>> page.sections
    (Section(start=0, path='Guide'), Section(start=8, path='Guide › Leave'))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.models import SECTION_SEPARATOR, Page, Section
from ingest.normalize import normalize_text


@dataclass(frozen=True)
class Block:
    """A paragraph-like piece of a document and the heading path above it ("" for none)."""

    text: str
    section: str = ""


class HeadingPath:
    """The headings above the current position: entering a level-n heading drops those of level n and deeper.

    Levels need not be contiguous (an h3 directly under an h1 is a child of it).
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> str:
        title = " ".join(title.split())
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        if title:
            self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> str:
        return SECTION_SEPARATOR.join(title for _, title in self._stack)


def build_page(number: int | None, blocks: Iterable[Block], inherited: str = "") -> Page | None:
    """The page made of `blocks` (normalized, joined by blank lines), or None when no text is left.

    Args:
        number: the page number (None for non-paged files).
        blocks: in reading order.
        inherited: the section the previous page ended in; a page that starts in a section records it at 0.
    """
    parts: list[str] = []
    sections: list[Section] = []
    current, offset = inherited, 0
    for block in blocks:
        text = normalize_text(block.text)
        if not text:
            continue
        if parts:
            offset += 2  # the "\n\n" that joins it to the previous block
        if block.section != current or (not parts and block.section):
            sections.append(Section(offset, block.section))
            current = block.section
        parts.append(text)
        offset += len(text)
    if not parts:
        return None
    return Page(number, "\n\n".join(parts), tuple(sections))


def last_section(page: Page, inherited: str = "") -> str:
    """The section a page ends in (what the next page inherits)."""
    return page.sections[-1].path if page.sections else inherited
