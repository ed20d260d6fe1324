"""Find a quoted passage in a page's stored text, forgiving whitespace and (as a fallback) case.

The stored text went through `ingest.normalize.normalize_text`; a quote pasted by a user may have other
line breaks, doubled spaces or a word broken by a hyphen at a line end. Both sides are compared with
every run of whitespace collapsed to one space, and the match is mapped back to offsets into the
original text, so `text[start:end]` is the passage as stored.

Example:
    >>> locate("Leave is  granted\\nfor 20 days.", "granted for 20")
    (10, 24)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ingest.normalize import normalize_text


@dataclass(frozen=True)
class Collapsed:
    """`text` with whitespace runs as one space, and for each of its characters the offset in the original."""

    text: str
    origin: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Collapsed:
        chars: list[str] = []
        origin: list[int] = []
        in_space = False
        for i, ch in enumerate(text):
            if ch.isspace():
                if not in_space:
                    chars.append(" ")
                    origin.append(i)
                in_space = True
            else:
                chars.append(ch)
                origin.append(i)
                in_space = False
        return cls("".join(chars), tuple(origin))

    @cached_property
    def folded(self) -> str:
        """Lower-cased where that keeps one character per character (offsets stay valid)."""
        return "".join(low if len(low := ch.lower()) == 1 else ch for ch in self.text)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of the collapsed range [start, end) (end > start)."""
        return self.origin[start], self.origin[end - 1] + 1


def quote_forms(quote: str) -> list[str]:
    """The quote as compared: collapsed and stripped, then as the loaders would have normalised it."""
    forms = []
    for form in (quote, normalize_text(quote)):
        collapsed = Collapsed.of(form.strip()).text
        if collapsed and collapsed not in forms:
            forms.append(collapsed)
    return forms


def locate(text: str | Collapsed, quote: str, near: int | None = None) -> tuple[int, int] | None:
    """The [start, end) offsets of `quote` in `text`, or None when it is not there.

    Exact characters are tried before case-insensitive ones. Where the quote occurs several times, the
    occurrence that starts nearest to `near` wins (the first one when `near` is None).
    """
    page = text if isinstance(text, Collapsed) else Collapsed.of(text)
    forms = quote_forms(quote)
    for haystack, fold in ((page.text, False), (page.folded, True)):
        for form in forms:
            needle = "".join(low if len(low := c.lower()) == 1 else c for c in form) if fold else form
            spans = [page.span(i, i + len(needle)) for i in _find_all(haystack, needle)]
            if spans:
                if near is None:
                    return spans[0]
                return min(spans, key=lambda s: (abs(s[0] - near), s[0]))
    return None


def same_text(stored: str, quote: str) -> bool:
    """Whether `stored` reads as `quote`, up to whitespace (and the loaders' normalisation)."""
    return Collapsed.of(stored.strip()).text in quote_forms(quote)


def _find_all(haystack: str, needle: str) -> list[int]:
    found = []
    i = haystack.find(needle)
    while i >= 0:
        found.append(i)
        i = haystack.find(needle, i + 1)
    return found
