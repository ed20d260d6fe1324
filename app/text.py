"""Character classes shared by the tokenizer, hybrid recall and the highlighter (no dependencies)."""

from __future__ import annotations

# The scripts written without spaces between words, as regex character-class ranges: Hiragana, Katakana, Han
# (CJK Unified Ideographs, Extension A, Compatibility Ideographs). The BM25 tokenizer cuts runs of them into
# characters and bigrams (`app.lexical.tokenize`), recall counts them to tell a mostly-CJK query
# (`app.recall.is_cjk_query`). CJK punctuation and symbols (U+3000-U+303F) are not word characters, so they stay out.
# Hangul (U+AC00-U+D7AF) is deliberately left out: Korean puts spaces between words, so the tokenizer treats it as
# words, like Latin text, and every BM25 index built so far holds Korean that way. Adding it would change each
# Korean token (existing indexes would need a re-index) and would count Korean queries as CJK in recall.
CJK_CHARS = "\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
