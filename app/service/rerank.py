"""Rerank documents for another tool (the `/v1/rerank` endpoint): the app's reranker, the official
Qwen3-Reranker prompt, an optional instruction, results best first."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInput
from app.runtime import Runtime


@dataclass(frozen=True)
class Ranked:
    index: int  # position in the documents as sent
    score: float  # P(yes), exactly what `RerankService.score` gives


@dataclass(frozen=True)
class Ranking:
    model: str
    results: list[Ranked]  # best first; ties keep the order sent


def rank(
    rt: Runtime, query: str, documents: list[str], *, instruction: str | None = None, top_n: int | None = None
) -> Ranking:
    """Score every document against the query and keep the best `top_n` (all when None).

    Raises InvalidInput for an empty query or no documents, RerankerUnavailable when the reranker is off
    or cannot run.
    """
    if not query.strip():
        raise InvalidInput("query is empty: send the question the documents should answer.")
    if not documents:
        raise InvalidInput("documents is empty: send at least one document to rank.")
    scores = rt.reranker.score(query, documents, instruction)
    order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
    results = [Ranked(i, float(scores[i])) for i in order[: top_n or len(documents)]]
    return Ranking(rt.reranker.model, results)
