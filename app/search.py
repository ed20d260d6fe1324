"""A question in, ranked hits out: recall K candidates, rerank them, keep the top N.

When the reranker is off or cannot run, the answer still comes, in recall order, and
`SearchResult.rerank_note` says why it was not reranked.
"""

from __future__ import annotations

import time

from app.config import DEFAULT_INSTRUCTION
from app.errors import InvalidInput, RerankerUnavailable
from app.models import Candidate, Hit, SearchResult
from app.recall import recall
from app.rerank.service import EngineState
from app.runtime import Runtime


def search(
    rt: Runtime,
    kb_name: str,
    query: str,
    *,
    instruction: str | None = None,
    top_n: int | None = None,
    recall_k: int | None = None,
    recall_mode: str | None = None,
    rerank: bool = True,
    wait_for_reranker: bool = True,
) -> SearchResult:
    """Args:
        instruction: the reranker's task description; None or blank uses the default.
        top_n, recall_k, recall_mode: None takes the configured value.
        rerank: False returns recall order.
        wait_for_reranker: False answers in recall order at once while the reranker is still loading
            (`rerank_note` says so) instead of waiting for it.
    """
    query = query.strip()
    if not query:
        raise InvalidInput("Type a question to search for.")
    s = rt.settings
    top_n = top_n or s.top_n
    recall_k = max(recall_k or s.recall_k, top_n)
    recall_mode = recall_mode or s.recall_mode
    instruction = (instruction or "").strip() or DEFAULT_INSTRUCTION

    kb = rt.open_kb(kb_name)
    started = time.perf_counter()
    candidates = recall(rt, kb, query, recall_k, recall_mode)
    timings = {"recall_s": time.perf_counter() - started}

    recall_hits = recall_order(candidates[:top_n])
    note, waiting = "", False
    if not rerank:
        note = "reranking switched off for this search"
    elif s.rerank_backend == "off":
        note = "reranking is off (KB_RERANK_BACKEND=off)"
    elif not wait_for_reranker and rt.reranker.state in (EngineState.NOT_LOADED, EngineState.LOADING):
        note, waiting = f"the reranker is still loading ({rt.reranker.loading_note() or 'not started'})", True
    elif candidates:
        started = time.perf_counter()
        try:
            scores = rt.reranker.score(query, [c.chunk.text for c in candidates], instruction)
        except RerankerUnavailable as exc:
            note = f"reranking is off: {exc}"
        else:
            timings["rerank_s"] = time.perf_counter() - started
            hits = rerank_hits(candidates, scores)[:top_n]
            return SearchResult(hits, instruction, recall_mode, True, recall_hits=recall_hits, timings=timings)
    return SearchResult(
        recall_hits, instruction, recall_mode, False, rerank_note=note, recall_hits=recall_hits, timings=timings,
        waiting_for_reranker=waiting,
    )


def recall_order(candidates: list[Candidate]) -> list[Hit]:
    """Hits in recall order, scored by recall."""
    return [Hit(c, rank=c.recall_rank, score=c.recall_score, reranked=False) for c in candidates]


def rerank_hits(candidates: list[Candidate], scores: list[float]) -> list[Hit]:
    """Hits ordered by rerank score; ties keep recall order."""
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i].recall_rank))
    return [
        Hit(candidates[i], rank=rank, score=float(scores[i]), reranked=True)
        for rank, i in enumerate(order, start=1)
    ]
