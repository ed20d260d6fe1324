"""Reranker token ids of documents, computed once per document text.

Search reranks chunks of the same knowledge base query after query, so the same texts come back as
candidates again and again; tokenizing each once saves the per-query tokenizer cost. Misses are
encoded in one batched call (the Rust tokenizer spreads a batch over the CPU cores).
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class DocumentTokenCache:
    """Args:
        tokenizer: the reranker's Hugging Face tokenizer.
        max_doc_tokens: documents are cut to this many tokens (see `prompt.document_ids`).
        capacity: documents kept, least recently used dropped first (about 2 KB each at 300 tokens).
    """

    def __init__(self, tokenizer, max_doc_tokens: int, capacity: int = 50_000):
        self._tokenizer = tokenizer
        self._max = max_doc_tokens
        self._capacity = capacity
        self._ids: OrderedDict[str, list[int]] = OrderedDict()
        # HF fast tokenizers raise "Already borrowed" when one instance is used from two threads.
        self._lock = threading.Lock()

    def ids(self, documents: list[str]) -> list[list[int]]:
        """Token ids of " " + document for each document, truncated, in order."""
        with self._lock:
            missing = list(dict.fromkeys(d for d in documents if d not in self._ids))
            if missing:
                encoded = self._tokenizer([" " + d for d in missing], add_special_tokens=False)["input_ids"]
                for doc, ids in zip(missing, encoded, strict=True):
                    self._ids[doc] = ids[: self._max]
            result = []
            for doc in documents:
                self._ids.move_to_end(doc)
                result.append(self._ids[doc])
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return result

    def encode(self, text: str) -> list[int]:
        """Any other text (the query part), under the same lock."""
        with self._lock:
            return self._tokenizer.encode(text, add_special_tokens=False)
