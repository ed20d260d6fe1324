"""What a knowledge base's recent hybrid queries said about BM25: the median of their BM25 coverage.

One query's coverage (`app.fusion.ListSignals`) is noisy; over a knowledge base's questions its median says
whether BM25 fits them at all (docs/EVAL.md, "The knowledge base's coverage"). Recall reads the median of the
last `KEPT` queries before adding the new one, once there are `MIN_QUERIES`. Label-free: only what recall
itself measured. Kept per process in memory and written to the catalog `FLUSH` queries at a time (a write per
query would cost about 2 ms of a 30 ms search) and by `flush()` when the process's runtime closes, so that a `kb
search` run in its own process, one query a process, adds to the history too.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque

from app.catalog import Catalog, KnowledgeBase

KEPT = 200
MIN_QUERIES = 20
FLUSH = 10


def median_coverage(recent: list[float]) -> float | None:
    """The median of `recent`, or None with fewer than MIN_QUERIES (too few to say anything about the KB)."""
    return statistics.median(recent) if len(recent) >= MIN_QUERIES else None


class QueryHistory:
    """The recent BM25 coverages of each knowledge base, shared by every thread of a process."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._unsaved: dict[str, tuple[KnowledgeBase, list[float]]] = {}  # by kb.key

    def median(self, kb: KnowledgeBase) -> float | None:
        with self._lock:
            return median_coverage(list(self._loaded(kb)))

    def add(self, kb: KnowledgeBase, coverage: float) -> None:
        with self._lock:
            self._loaded(kb).append(coverage)
            _, unsaved = self._unsaved.setdefault(kb.key, (kb, []))
            unsaved.append(coverage)
            if len(unsaved) < FLUSH:
                return
            del self._unsaved[kb.key]
        self._catalog.add_query_coverage(kb, unsaved, KEPT)

    def flush(self) -> None:
        """Write every knowledge base's coverages not written yet (one deleted meanwhile keeps none)."""
        with self._lock:
            unsaved, self._unsaved = self._unsaved, {}
        for kb, coverages in unsaved.values():
            self._catalog.add_query_coverage(kb, coverages, KEPT)

    def _loaded(self, kb: KnowledgeBase) -> deque[float]:
        if kb.key not in self._recent:
            self._recent[kb.key] = deque(self._catalog.query_coverage(kb, KEPT), maxlen=KEPT)
        return self._recent[kb.key]
