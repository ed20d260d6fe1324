"""Tables on PDF pages, found by pdfplumber's table finder (ruling lines and the cells between them).

The finder costs tens of milliseconds a page, so the PDF loader only asks for pages that draw enough
lines to hold a table (`MIN_PATHS` path objects); text-only pages never pay for it. Tables drawn without
any lines (columns aligned by spaces alone) are not found: their text stays as PDFium reads it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.loaders.pdfium import Box

MIN_PATHS = 4  # a table with borders draws at least four lines or cell rectangles


@dataclass(frozen=True)
class FoundTable:
    """A table's box on its page (points from the top-left corner) and its cells, row by row."""

    box: Box
    rows: list[list[str | None]]


def find_tables(data: bytes, page_indexes: Iterable[int]) -> dict[int, list[FoundTable]]:
    """The tables of the given pages (0-based), by page index; a page where the finder fails has none.

    Tables of one row or one column are left out: a frame around a paragraph is not a table.
    """
    import pdfplumber

    found: dict[int, list[FoundTable]] = {}
    try:
        document = pdfplumber.open(io.BytesIO(data))
    except Exception:  # pdfminer fails on files PDFium reads; the text is kept as it is
        return found
    with document:
        for index in page_indexes:
            try:
                page = document.pages[index]
                tables = [
                    FoundTable(tuple(t.bbox), rows)
                    for t in page.find_tables()
                    if len(rows := t.extract()) >= 2 and max(len(r) for r in rows) >= 2
                ]
            except Exception:
                continue
            if tables:
                found[index] = tables
    return found


def inside(box: Box | None, table: Box) -> bool:
    """Whether the centre of `box` lies in `table`."""
    if box is None:
        return False
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return table[0] <= x <= table[2] and table[1] <= y <= table[3]
