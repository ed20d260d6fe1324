"""Rank every query of a set under several configurations, recalling once per recall setting.

Configurations that share a recall mode and K share one recall per query; only the reranking is repeated.
The reranking of one configuration goes to the engine in batches of many queries at once
(`score_many`), so the in-process engine's queue sees them together and runs them in large steps.

This module needs neither Chroma nor Streamlit: recall and scoring come in as functions, so the GPU
benchmark runs the same code on synthetic candidates (scripts/bench_workbench.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.errors import KBError
from app.models import Candidate, Hit
from app.search import recall_order, rerank_hits

# (query, mode, k) -> candidates in recall order
RecallFn = Callable[[str, str, int], list[Candidate]]
# [(query, documents, instruction)] -> one score list per request
ScoreManyFn = Callable[[list[tuple[str, list[str], str]]], list[list[float]]]
# (stage, done, total)
ProgressFn = Callable[[str, int, int], None]
# Queries sent to the engine in one `score_many` call: large enough to fill engine steps, small enough
# that progress and cancel respond within a few seconds.
QUERIES_PER_BATCH = 16


class EvaluationCancelled(KBError):
    """The user cancelled a running evaluation; nothing of it is saved."""


@dataclass(frozen=True)
class RunConfig:
    """A configuration with every setting decided (see `app.service.evaluation.resolve`)."""

    name: str
    spec: str
    rerank: bool
    instruction: str | None  # None when not reranking
    recall_mode: str
    recall_k: int
    top_n: int | None = None  # None keeps the whole reranked list for the metrics

    @property
    def recall_key(self) -> tuple[str, int]:
        return (self.recall_mode, self.recall_k)


def rank_all(
    queries: Sequence[str],
    configs: Sequence[RunConfig],
    recall: RecallFn,
    score_many: ScoreManyFn,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, dict[str, list[Hit]]]:
    """{config name: {query: hits in the configuration's final order}} (rerank scores where reranked).

    Raises EvaluationCancelled when `cancel` is set (checked between batches).
    """
    progress = progress or (lambda stage, done, total: None)
    keys = list(dict.fromkeys(c.recall_key for c in configs))
    reranked = [c for c in configs if c.rerank]
    total = len(keys) * len(queries) + len(reranked) * len(queries)
    done = 0

    recalled: dict[tuple[str, int], dict[str, list[Candidate]]] = {}
    for key in keys:
        recalled[key] = {}
        for query in queries:
            _check(cancel)
            recalled[key][query] = recall(query, *key)
            done += 1
            progress("recall", done, total)

    out: dict[str, dict[str, list[Hit]]] = {}
    for config in configs:
        candidates = recalled[config.recall_key]
        if not config.rerank:
            out[config.name] = {q: _cut(recall_order(candidates[q]), config.top_n) for q in queries}
            continue
        ranked: dict[str, list[Hit]] = {}
        for start in range(0, len(queries), QUERIES_PER_BATCH):
            _check(cancel)
            batch = [q for q in queries[start : start + QUERIES_PER_BATCH] if candidates[q]]
            scores = score_many([(q, [c.chunk.text for c in candidates[q]], config.instruction) for q in batch])
            for query, query_scores in zip(batch, scores, strict=True):
                ranked[query] = _cut(rerank_hits(candidates[query], query_scores), config.top_n)
            done += len(queries[start : start + QUERIES_PER_BATCH])
            progress(f"rerank: {config.name}", done, total)
        out[config.name] = {q: ranked.get(q, []) for q in queries}
    return out


def _cut(hits: list[Hit], top_n: int | None) -> list[Hit]:
    return hits if top_n is None else hits[:top_n]


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise EvaluationCancelled("The evaluation was cancelled; nothing was saved.")
