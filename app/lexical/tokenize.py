"""BM25 tokenizer that picks a method per script run: English stemming for Latin text, CJK for Chinese/Japanese.

A text is split into runs of CJK characters and runs of other word characters (Latin, digits, Cyrillic, ...),
so mixed text such as "2024年iPhone销量" yields tokens from both tokenizers in one list, in text order.

Latin runs: lowercase, drop English stopwords (bm25s's list), Snowball English stemming (PyStemmer).
CJK runs, two methods behind a name (`CJK_METHODS`):
  - "bigram": every character plus every adjacent pair; no dictionary, works for Japanese kana too.
  - "jieba": words from jieba's search mode (words plus their dictionary sub-words).
Measured on xquadr-zh-dev, BM25, document level (research/eval_fusion.py --tokenizers): bigram nDCG@10 0.830,
Recall@100 0.976; jieba 0.816, 0.970. Bigrams are the default (jieba is ~3x slower per text, too).

Example:
    >>> tokenize("The runners were running 跑步比赛 in 2024")
    ['runner', 'were', 'run', '跑', '跑步', '步', '步比', '比', '比赛', '赛', '2024']
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN

from app.text import CJK_CHARS

CJK_METHODS = ("bigram", "jieba")
DEFAULT_CJK_METHOD = "bigram"

# Runs of CJK characters (Han, kana; not Hangul: see app/text.py) | runs of word characters that are neither
# CJK nor underscore.
_RUN = re.compile(f"([{CJK_CHARS}]+)|[^\\W_{CJK_CHARS}]+")
_STOPWORDS = frozenset(STOPWORDS_EN)

_jieba_lock = threading.Lock()
_jieba = None


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _jieba_tokenizer():
    """jieba's dictionary takes ~1 s to build and logs to stderr: build it once, quietly, on first use."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                with warnings.catch_warnings():  # jieba imports the deprecated pkg_resources
                    warnings.simplefilter("ignore", DeprecationWarning)
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                _jieba = tok
    return _jieba


def _bigrams(run: str) -> list[str]:
    out = []
    for i, ch in enumerate(run):
        out.append(ch)
        if i + 1 < len(run):
            out.append(run[i : i + 2])
    return out


def _cjk_tokens(run: str, method: str) -> list[str]:
    if method == "bigram":
        return _bigrams(run)
    return _jieba_tokenizer().lcut_for_search(run, HMM=True)


def tokenize(text: str, cjk: str = DEFAULT_CJK_METHOD) -> list[str]:
    """Tokens of `text` for BM25 indexing and querying (the same function must do both).

    Args:
        text: any text; CJK and non-CJK runs are tokenized by their own method.
        cjk: "bigram" or "jieba" (see module docstring).

    Returns:
        Tokens in text order; duplicates kept (BM25 counts them).
    """
    if cjk not in CJK_METHODS:
        raise ValueError(f"cjk={cjk!r} is not supported; use one of: {', '.join(CJK_METHODS)}.")
    tokens: list[str] = []
    words: list[str] = []  # pending Latin words, stemmed in one batch call (much faster than per word)

    def flush() -> None:
        if words:
            tokens.extend(_stemmer().stemWords(words))
            words.clear()

    for m in _RUN.finditer(text.lower()):
        if m.group(1):
            flush()
            tokens.extend(_cjk_tokens(m.group(1), cjk))
        else:
            word = m.group(0)
            if word not in _STOPWORDS:
                words.append(word)
    flush()
    return tokens
