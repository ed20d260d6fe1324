"""Candidate reranker instructions for Suggest: task phrasings combined with a knowledge base's domain.

The domain is described by the KB's most distinctive terms (best first) and some document titles,
both computed elsewhere and passed in. Qwen3-Reranker reads a one-sentence task ("Given a ...,
retrieve ..."), so every template is one sentence of that shape. The result is deterministic (same
input, same list), free of repeats and at most `limit` long; templates take turns, so a short list
still tries several phrasings.

Example:
    >>> candidate_instructions(["parental leave", "expenses", "overtime"], ["HR_handbook_2024.pdf"], limit=2)
    ['Given a question about parental leave, expenses and overtime, retrieve the passages that answer it',
     'Given a question, retrieve the passages from HR handbook 2024 that answer it']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from app.errors import InvalidInput
from ingest.loaders import SUPPORTED_EXTENSIONS

# {topics}: the leading distinctive terms; {titles}: one or two document titles.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": (
        "Given a question about {topics}, retrieve the passages that answer it",
        "Given a question, retrieve the passages from {titles} that answer it",
        "Given a search query about {topics}, retrieve relevant passages that answer the query",
        "Given a question about {topics}, retrieve the passage that states the answer directly",
        "Given a user's question on {topics}, retrieve passages from documents such as {titles} that answer it",
        "Retrieve the passages about {topics} that contain the answer to the question",
    ),
    "zh": (
        "给定一个关于{topics}的问题，检索能够回答该问题的段落",
        "给定一个问题，从{titles}中检索能够回答该问题的段落",
        "给定一个关于{topics}的搜索查询，检索能够回答该查询的相关段落",
        "给定一个关于{topics}的问题，检索直接给出答案的段落",
    ),
}
_JOIN = {"en": (", ", " and "), "zh": ("、", "和")}
_MAX_TERM_CHARS = 40


def candidate_instructions(
    terms: Sequence[str], titles: Sequence[str], *, language: str = "en", limit: int = 12
) -> list[str]:
    """Instructions from TEMPLATES[language] filled with the domain.

    Args:
        terms: the KB's distinctive terms, most distinctive first (blank, overlong and repeated ones dropped).
        titles: document titles or file names (extensions and underscores are removed).
        language: "en" or "zh".
        limit: the most instructions returned.

    Returns:
        Up to `limit` distinct instructions (compared ignoring case and spacing); empty when neither
        terms nor titles are given.
    """
    if language not in TEMPLATES:
        raise InvalidInput(f"no instruction templates for language {language!r}: use one of {', '.join(TEMPLATES)}")
    if limit < 0:
        raise InvalidInput(f"limit must be >= 0 (got {limit})")
    clean_terms = _distinct(_clean(t) for t in terms if len(_clean(t)) <= _MAX_TERM_CHARS)
    clean_titles = _distinct(_title(t) for t in titles)
    # Three terms read as a domain; one term and five are the narrower and the broader variant.
    topics = _distinct(_join(clean_terms[:n], language) for n in (3, 1, 5))
    names = _distinct(_join(clean_titles[:n], language) for n in (1, 2))

    per_template = []
    for template in TEMPLATES[language]:
        needs_topics, needs_titles = "{topics}" in template, "{titles}" in template
        if (needs_topics and not topics) or (needs_titles and not names):
            continue
        fills = [
            template.format(topics=t, titles=n)
            for t in (topics if needs_topics else [""])
            for n in (names if needs_titles else [""])
        ]
        per_template.append(fills)

    out: list[str] = []
    seen: set[str] = set()
    for round_ in range(max((len(f) for f in per_template), default=0)):
        for fills in per_template:
            if round_ < len(fills) and (key := _key(fills[round_])) not in seen:
                seen.add(key)
                out.append(fills[round_])
    return out[:limit]


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _title(name: str) -> str:
    path = PurePath(name.strip())
    stem = path.stem if path.suffix.lower() in SUPPORTED_EXTENSIONS else name
    return _clean(stem.replace("_", " "))


def _join(items: Sequence[str], language: str) -> str:
    sep, last = _JOIN[language]
    if len(items) <= 1:
        return "".join(items)
    return sep.join(items[:-1]) + last + items[-1]


def _key(text: str) -> str:
    return _clean(text).casefold()


def _distinct(items) -> list[str]:
    out, seen = [], set()
    for item in items:
        if item and (key := _key(item)) not in seen:
            seen.add(key)
            out.append(item)
    return out
