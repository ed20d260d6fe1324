"""Mark the query's terms in a passage, safely: the passage is escaped, only our <mark> tags are HTML.

Document text is never trusted as HTML. Matches are found on the raw text, then every piece is passed
through `html.escape` and the matched pieces are wrapped in `<mark>`, so `<script>` in a document comes
out as the text "<script>".

Terms: Latin words of two or more letters and numbers (minus a few stop words), matched case-insensitively at
the start of a word, with a plural "s" dropped so that "pumps" matches "pump"; Chinese and Japanese
runs are cut into overlapping character pairs (no spaces between words to split on), so "召回候选"
marks "召回" in "系统先召回". Korean is spaced, so its words are words, as BM25 indexes them.

Example:
    >>> highlight_html("Clean the <b>intake</b> filter.", "intake filters")
    'Clean the &lt;b&gt;<mark>intake</mark>&lt;/b&gt; <mark>filter</mark>.'
"""

from __future__ import annotations

import html
import re

from app.text import CJK_CHARS as _CJK

_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_STOP_WORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its of on or that the this "
    "to was what when where which who why will with you your".split()
)


def query_terms(query: str) -> list[str]:
    """The search terms of a query, lower-cased, longest first (so longer matches win ties)."""
    terms: set[str] = set()
    for token in _TOKEN.findall(query):
        if _CJK_RUN.fullmatch(token):
            terms.update([token] if len(token) == 1 else (token[i : i + 2] for i in range(len(token) - 1)))
            continue
        word = token.lower()
        if (len(word) < 2 and not word.isdigit()) or word in _STOP_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        terms.add(word)
    return sorted(terms, key=lambda t: (-len(t), t))


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) character spans of `text` that match any term."""
    spans = []
    for term in terms:
        if _CJK_RUN.fullmatch(term):
            pattern = re.escape(term)
        else:  # at a word start, any word ending: "pump" marks "pumps" and "pumping"
            pattern = rf"(?<![^\W_]){re.escape(term)}[^\W_]*"
        spans.extend(m.span() for m in re.finditer(pattern, text, flags=re.IGNORECASE))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_html(text: str, query: str) -> str:
    """`text` as escaped HTML with the query's terms wrapped in <mark>."""
    out, last = [], 0
    for start, end in match_spans(text, query_terms(query)):
        out.append(html.escape(text[last:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)
