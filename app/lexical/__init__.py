"""Lexical (BM25) recall: a script-aware tokenizer and a persistent, incrementally updated tantivy index."""

from app.lexical.index import LexicalIndex
from app.lexical.tokenize import CJK_METHODS, DEFAULT_CJK_METHOD, tokenize

__all__ = ["CJK_METHODS", "DEFAULT_CJK_METHOD", "LexicalIndex", "tokenize"]
