"""Rank fusion for hybrid recall: a pure function over scored id lists.

Reciprocal rank fusion and min-max / z-score normalization were measured against it and not kept
(docs/EVAL.md); they live in research/eval_fusion.py.
"""

from __future__ import annotations

from collections.abc import Sequence

NORMS = ("max",)


def convex_combination(
    scored: Sequence[Sequence[tuple[str, float]]],
    weights: Sequence[float],
    norm: str = "max",
) -> list[tuple[str, float]]:
    """Fuse scored lists: score(id) = sum over lists of weight * normalized score; absent from a list adds 0.

    Each list's scores are normalized per query first, since cosine similarities (about 0..1) and BM25 scores
    (0..tens) live on different scales. This is ranx's `fuse(method="wsum", norm="max")`; Bruch, Gai & Ingber,
    "An Analysis of Fusion Functions for Hybrid Retrieval" (TOIS 2023) found a convex combination beats RRF once
    the weight is tuned, because it keeps how far apart scores are, which ranks throw away.

    Args:
        scored: one list of (id, score) per retriever, best first; a repeated id counts at its first position.
        weights: one non-negative weight per list (convex when they sum to 1, but any scale ranks the same).
        norm: "max" (s / max, per list): both scores have a natural floor of 0, so unlike min-max the
            normalized value does not depend on how deep a list was read.

    Returns:
        New (id, score) tuples, best first. Equal scores keep the order in which ids first appear when the
        lists are read one after another, so the first list (e.g. dense recall) wins ties.

    Example:
        >>> convex_combination([[("a", 0.9), ("b", 0.45)], [("b", 12.0), ("c", 4.0)]], [0.5, 0.5])
        [('b', 0.75), ('a', 0.5), ('c', 0.16666666666666666)]
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
        for item, value in zip(first, _max_normalized(list(first.values())), strict=True):
            fused[item] = fused.get(item, 0.0) + weight * value
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def _max_normalized(scores: list[float]) -> list[float]:
    if not scores:
        return []
    # ranx's guard: a list whose best score is 0 divides by a tiny number instead of zero.
    high = max(scores)
    return [s / max(high, 1e-9) for s in scores]
