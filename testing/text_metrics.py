"""Character error rate and word recall of recognised text against the truth (OCR benchmarks and tests).

CER is the Levenshtein distance between the two texts divided by the truth's length, after collapsing
whitespace (runs become one space; removed entirely for Chinese and Japanese, which do not separate words).

Example:
    >>> round(cer("the cat sat", "the cat sat"), 3), round(cer("the cat sat", "the bat sat"), 3)
    (0.0, 0.091)
    >>> cer("知识库", "知识")
    0.3333333333333333
"""

from __future__ import annotations

import re

import numpy as np


def collapse(text: str, language: str = "en") -> str:
    if language in ("zh", "ja"):
        return "".join(text.split())
    return " ".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance, one numpy row at a time: cur[j] = min(prev[j] + 1, prev[j-1] + cost, cur[j-1] + 1),
    where the last term is a running minimum of cur[k] - k over k <= j, plus j."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1)
    prev = index.copy()
    for i, ch in enumerate(a, start=1):
        cost = (codes_b != ord(ch)).astype(np.int64)
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        cur = np.minimum.accumulate(cur - index) + index
        prev = cur
    return int(prev[-1])


def cer(truth: str, recognised: str, language: str = "en") -> float:
    truth, recognised = collapse(truth, language), collapse(recognised, language)
    return levenshtein(truth, recognised) / max(1, len(truth))


def word_recall(truth: str, recognised: str) -> float:
    """The share of the truth's words (lowercased, punctuation dropped) found as words of the recognised
    text, counted with multiplicity: run-together words ("theapproval") count as misses."""
    want = re.findall(r"\w+", truth.lower())
    have: dict[str, int] = {}
    for word in re.findall(r"\w+", recognised.lower()):
        have[word] = have.get(word, 0) + 1
    found = 0
    for word in want:
        if have.get(word, 0):
            have[word] -= 1
            found += 1
    return found / max(1, len(want))
