"""Tables as text that keeps each row with its headers: one line per row, `Header: value; Header: value`.

A question about one row ("how many days does a senior get?") then finds a chunk that holds that row
whole, with the column names next to the values, however the row was laid out in the file. The loaders
(PDF via pdfplumber, DOCX via python-docx, HTML, Markdown) only collect the cells; this module decides
what the text looks like.

Example:
    >>> table_rows([["Grade", "Days"], ["Junior", "28"], ["Senior", "32"]])
    ['Grade: Junior; Days: 28', 'Grade: Senior; Days: 32']
    >>> table_rows([["Leave", "30 days"]])  # one row: no header to repeat
    ['Leave; 30 days']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUMBER = re.compile(r"^[\d\s.,%€$£¥+\-/:()]+$")


def table_rows(rows: Sequence[Sequence[str | None]], header: bool | None = None) -> list[str]:
    """One line of text per row of `rows` (cells in column order; None or "" for an empty cell).

    Args:
        rows: the table's rows as the file lays them out, header row(s) first.
        header: whether the first row holds the column names; None guesses (`looks_like_header`).

    Returns:
        One string per non-empty body row: `Name: value` pairs for the non-empty cells when there is a
        header, the cells joined with "; " otherwise. A row of one filled cell (a heading spanning the
        table) is that cell alone.
    """
    cleaned = [_dedupe([_clean(c) for c in row]) for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    if header is None:
        header = looks_like_header(cleaned)
    if not header:
        return [_plain(row) for row in cleaned]
    names, body = cleaned[0], cleaned[1:]
    lines = []
    for row in body:
        filled = [(i, cell) for i, cell in enumerate(row) if cell]
        if len(filled) == 1 and len(row) > 1:
            lines.append(filled[0][1])
            continue
        pairs = [f"{names[i]}: {cell}" if i < len(names) and names[i] else cell for i, cell in filled]
        lines.append("; ".join(pairs))
    return lines


def looks_like_header(rows: Sequence[Sequence[str]]) -> bool:
    """The first row names the columns: there is a row below it, and its cells are filled, distinct, short
    and not numbers."""
    if len(rows) < 2:
        return False
    first = [c for c in rows[0] if c]
    if len(first) < 2 or len(first) < len(rows[0]) or len(set(first)) < len(first):
        return False
    return all(len(c) <= 60 and not _NUMBER.match(c) for c in first)


def _clean(cell: str | None) -> str:
    return " ".join((cell or "").split())


def _dedupe(row: list[str]) -> list[str]:
    """Merged cells come back once per spanned column: keep the first copy of a run."""
    return [cell if i == 0 or cell != row[i - 1] else "" for i, cell in enumerate(row)]


def _plain(row: list[str]) -> str:
    return "; ".join(cell for cell in row if cell)
