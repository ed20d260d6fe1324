"""Running headers and footers of paged documents: found across pages, taken out of each page's text.

A line is a running header (footer) when, comparing only its letters and digits (digits masked, case
ignored), it lies in the top (bottom) band of more than half of the pages, and of at least two. "Page 3
of 12" and "Page 4 of 12" are the same line; so are "HR-POL-001 · Rev. 7" on every page, as OCR reads
the dot or not. Only lines inside the band
are candidates and only they are removed, so a sentence the body repeats on every page stays, and a line
that appears once can never be removed.

Example:
    >>> pages = [PageLines(["ACME Handbook", f"Body of page {n}.", f"Page {n} of 3"], top={0}, bottom={2})
    ...          for n in (1, 2, 3)]
    >>> found = find_running(pages)
    >>> found.headers, found.footers
    (('ACME Handbook',), ('Page 1 of 3',))
    >>> strip_running(pages[1], found)
    ['Body of page 2.']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# The share of the page height, from the top and from the bottom, in which running lines are looked for.
BAND = 0.12
_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[\W_]+")
_MAX_LINE = 200  # a running line is short; a long one is body text however often it repeats


@dataclass(frozen=True)
class PageLines:
    """One page's text lines in reading order, and which of them lie in the top and bottom bands."""

    lines: list[str]
    top: frozenset[int] | set[int] = field(default_factory=frozenset)
    bottom: frozenset[int] | set[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Running:
    """The running lines of a document, by key (`line_key`), with their first occurrence as an example."""

    top: dict[str, str] = field(default_factory=dict)
    bottom: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(self.top.values())

    @property
    def footers(self) -> tuple[str, ...]:
        return tuple(self.bottom.values())


def line_key(line: str) -> str:
    """What two occurrences of a running line share: its letters and digits, digits masked, case ignored
    (whitespace and punctuation, which OCR reads differently from page to page, left out)."""
    return _DIGITS.sub("#", _NOT_WORD.sub("", line).casefold())


def find_running(pages: Sequence[PageLines], min_pages: int = 2) -> Running:
    """The lines that repeat in the top or bottom band of more than half of `pages` (pages without any
    text are not counted), and of at least `min_pages`."""
    counted = [p for p in pages if any(line.strip() for line in p.lines)]
    need = max(min_pages, len(counted) // 2 + 1)
    return Running(_repeating(counted, "top", need), _repeating(counted, "bottom", need))


def strip_running(page: PageLines, running: Running) -> list[str]:
    """The page's lines without its running headers and footers."""
    removed = running_indexes(page, running)
    return [line for i, line in enumerate(page.lines) if i not in removed]


def running_indexes(page: PageLines, running: Running) -> set[int]:
    """The indexes of the lines `strip_running` takes out of the page."""
    return {i for i in (*page.top, *page.bottom) if _is_running(page, i, running)}


def _is_running(page: PageLines, index: int, running: Running) -> bool:
    key = line_key(page.lines[index])
    return (index in page.top and key in running.top) or (index in page.bottom and key in running.bottom)


def _repeating(pages: Sequence[PageLines], band: str, need: int) -> dict[str, str]:
    seen: dict[str, int] = {}
    examples: dict[str, str] = {}
    for page in pages:
        keys: dict[str, None] = {}  # in line order, so that examples come out in a stable order
        for index in sorted(getattr(page, band)):
            line = page.lines[index]
            key = line_key(line)
            if key and len(line) <= _MAX_LINE:
                keys[key] = None
                examples.setdefault(key, " ".join(line.split()))
        for key in keys:
            seen[key] = seen.get(key, 0) + 1
    return {key: examples[key] for key, count in seen.items() if count >= need}
