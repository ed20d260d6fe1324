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
