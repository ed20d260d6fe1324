"""Rank fusion for hybrid recall: pure functions over ranked id lists."""

from __future__ import annotations

from collections.abc import Sequence

# k = 60 is the constant of Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
# individual Rank Learning Methods" (SIGIR 2009): it damps the weight of the very top ranks so that one list's
# first hit cannot outvote agreement between lists (1/61 vs 1/62 instead of 1/1 vs 1/2). They found it near-
# optimal across TREC runs and it has been the default in Elasticsearch, Vespa and ranx since.
RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse ranked lists of ids: score(id) = sum over lists of weight / (k + rank), rank starting at 1.

    Args:
        rankings: one list of ids per retriever, best first; a repeated id counts at its first position only.
        k: the RRF constant (see `RRF_K`); larger values flatten the rank curve.
        weights: one non-negative weight per list (default: all 1, i.e. plain RRF).

    Returns:
        New (id, score) tuples, best first. Equal scores keep the order in which ids first appear when the
        lists are read one after another, so the first list (e.g. dense recall) wins ties.

    Example:
        >>> reciprocal_rank_fusion([["a", "b"], ["b", "c"]])
        [('b', 0.03252247488101534), ('a', 0.01639344262295082), ('c', 0.016129032258064516)]
    """
    if k < 0:
        raise ValueError(f"k must be >= 0 (got {k}); the usual value is {RRF_K}.")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"Got {len(weights)} weights for {len(rankings)} rankings; pass one weight per ranking.")
    if any(w < 0 for w in weights):
        raise ValueError(f"Weights must be non-negative (got {list(weights)}).")
    scores: dict[str, float] = {}  # insertion order = first appearance, used to break ties
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


NORMS = ("min-max", "max", "zmuv")


def convex_combination(
    scored: Sequence[Sequence[tuple[str, float]]],
    weights: Sequence[float],
    norm: str = "min-max",
) -> list[tuple[str, float]]:
    """Fuse scored lists: score(id) = sum over lists of weight * normalized score; absent from a list adds 0.

    Each list's scores are normalized per query first, since cosine similarities (about 0..1) and BM25 scores
    (0..tens) live on different scales. This is ranx's `fuse(method="wsum", norm=...)`; Bruch, Gai & Ingber,
    "An Analysis of Fusion Functions for Hybrid Retrieval" (TOIS 2023) found it beats RRF once the weight is
    tuned, because it keeps how far apart scores are, which ranks throw away.

    Args:
        scored: one list of (id, score) per retriever, best first; a repeated id counts at its first position.
        weights: one non-negative weight per list (convex when they sum to 1, but any scale ranks the same).
        norm: "min-max" ((s - min) / (max - min)), "max" (s / max) or "zmuv" ((s - mean) / std), per list.

    Returns:
        New (id, score) tuples, best first; equal scores keep first-appearance order, as in
        `reciprocal_rank_fusion`.

    Example:
        >>> convex_combination([[("a", 0.9), ("b", 0.5)], [("b", 12.0), ("c", 4.0)]], [0.5, 0.5])
        [('a', 0.5), ('b', 0.5), ('c', 0.0)]
    """
    if len(weights) != len(scored):
        raise ValueError(f"Got {len(weights)} weights for {len(scored)} lists; pass one weight per list.")
    if any(w < 0 for w in weights):
        raise ValueError(f"Weights must be non-negative (got {list(weights)}).")
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not supported; use one of: {', '.join(NORMS)}.")
    fused: dict[str, float] = {}  # insertion order = first appearance, used to break ties
    for items, weight in zip(scored, weights, strict=True):
        first: dict[str, float] = {}
        for item, score in items:
            first.setdefault(item, score)
        for item, value in zip(first, _normalized(list(first.values()), norm), strict=True):
            fused[item] = fused.get(item, 0.0) + weight * value
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def _normalized(scores: list[float], norm: str) -> list[float]:
    if not scores:
        return []
    # ranx's guards: a constant list divides by a tiny number instead of zero.
    if norm == "min-max":
        low, high = min(scores), max(scores)
        return [(s - low) / max(high - low, 1e-9) for s in scores]
    if norm == "max":
        high = max(scores)
        return [s / max(high, 1e-9) for s in scores]
    mean = sum(scores) / len(scores)
    std = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
    return [(s - mean) / max(std, 1e-9) for s in scores]
