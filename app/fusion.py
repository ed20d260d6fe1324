"""Rank fusion for hybrid recall: pure functions over scored id lists.

`convex_combination` fuses the lists; `list_signals` and `hybrid_weights` choose, per query and without labels,
the weight each list gets (docs/EVAL.md, "Weights per query"). Reciprocal rank fusion and min-max / z-score
normalization were measured against it and not kept (docs/EVAL.md); they live in research/eval_fusion.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ListSignals:
    """What one query's two recall lists say about themselves, without labels.

    dense_top: the dense list's best cosine similarity (a vague or off-topic query matches nothing closely).
    bm25_coverage: BM25's best score over the query's idf mass (the sum of idf x count over its terms). With
        Lucene's BM25 (tantivy) a term found once in a chunk of average length adds its idf, so about 1 when the
        best chunk has every query term; low when it matches few of the distinctive ones.
    kb_coverage: the median bm25_coverage of the knowledge base's recent queries (`app.query_history`), None
        until it has seen enough: one query's coverage is noisy, the median says whether BM25 fits this
        knowledge base's questions at all.
    """

    dense_top: float
    bm25_coverage: float
    kb_coverage: float | None = None


def list_signals(
    dense: Sequence[tuple[str, float]],
    bm25: Sequence[tuple[str, float]],
    idf_mass: float,
    kb_coverage: float | None = None,
) -> ListSignals:
    """The `ListSignals` of one query's dense and BM25 lists (best first), with the knowledge base's median
    coverage when known.

    Example:
        >>> list_signals([("a", 0.8), ("b", 0.4)], [("b", 6.0), ("c", 3.0)], idf_mass=4.0)
        ListSignals(dense_top=0.8, bm25_coverage=1.5)
    """
    return ListSignals(
        dense_top=dense[0][1] if dense else 0.0,
        bm25_coverage=bm25[0][1] / idf_mass if bm25 and idf_mass > 0 else 0.0,
        kb_coverage=kb_coverage,
    )


_EPS = 1e-3
# Typical values of the signals on the eval collections (the research cache's 0.2 x 2.4 for tantivy's BM25:
# docs/EVAL.md; the median coverage under tantivy is .47 on cisi, .77 on cranfield).
COVERAGE_CENTRE = 0.48
DENSE_TOP_CENTRE = 0.65


@dataclass(frozen=True)
class WeightRule:
    """How `hybrid_weights` turns `ListSignals` into weights: a logistic model of the dense list's share.

    z = bias + coverage x out(bm25_coverage, coverage_band) + dense_top x out(dense_top, dense_top_band), where
    out(x, (low, high)) is log(x / low) below the band, log(x / high) above it and 0 inside it: a query whose
    signals are in the band gets the dense share `bias` alone gives (0: half), and only a signal clearly out of
    band moves the weights (a trust region around fixed weights). A band of (centre, centre), the default, is
    the plain logistic model around the centres, typical values on the eval collections.
    A knowledge base whose median coverage is below `kb_coverage_low` adds kb_coverage x out(median,
    (kb_coverage_low, inf)) to z: where BM25 matches little of most questions, every query leans on dense.
    The feedback list gets `feedback_share` of BM25's weight when bm25_coverage >= `feedback_min_coverage`:
    expanding from a first round that BM25 barely matched spreads the first round's noise.
    """

    bias: float
    coverage: float
    dense_top: float
    feedback_share: float
    feedback_min_coverage: float
    coverage_band: tuple[float, float] = (COVERAGE_CENTRE, COVERAGE_CENTRE)
    dense_top_band: tuple[float, float] = (DENSE_TOP_CENTRE, DENSE_TOP_CENTRE)
    kb_coverage: float = 0.0
    kb_coverage_low: float = COVERAGE_CENTRE

    def __post_init__(self) -> None:
        for name in ("coverage_band", "dense_top_band"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high (got {(low, high)}).")


def out_of_band(value: float, band: tuple[float, float]) -> float:
    """How far `value` lies outside `band` = (low, high), in log units: log(value / low) below it (negative),
    log(value / high) above it, 0 inside. `value` is floored at a small epsilon, so 0 is far below any band.

    Example:
        >>> [round(out_of_band(v, (0.25, 1.0)), 3) for v in (0.125, 0.5, 2.0)]
        [-0.693, 0.0, 0.693]
    """
    low, high = band
    value = max(value, _EPS)
    if value < low:
        return math.log(value / low)
    if value > high:
        return math.log(value / high)
    return 0.0


def hybrid_weights(signals: ListSignals, rule: WeightRule) -> tuple[float, float, float]:
    """(dense, BM25, feedback) weights summing to 1 for one query; feedback 0 where the rule's gate is closed.

    Example:
        >>> rule = WeightRule(bias=0.0, coverage=-1.0, dense_top=2.0, feedback_share=0.6, feedback_min_coverage=0.2)
        >>> [round(w, 3) for w in hybrid_weights(ListSignals(dense_top=0.65, bm25_coverage=0.12), rule)]
        [0.799, 0.201, 0.0]
        >>> banded = WeightRule(bias=0.0, coverage=-1.0, dense_top=2.0, feedback_share=0.6, feedback_min_coverage=0.0,
        ...                     coverage_band=(0.1, 2.0), dense_top_band=(0.4, 1.0))
        >>> [round(w, 3) for w in hybrid_weights(ListSignals(dense_top=0.65, bm25_coverage=0.12), banded)]
        [0.5, 0.2, 0.3]
    """
    z = (
        rule.bias
        + rule.coverage * out_of_band(signals.bm25_coverage + _EPS, rule.coverage_band)
        + rule.dense_top * out_of_band(signals.dense_top, rule.dense_top_band)
    )
    if signals.kb_coverage is not None:
        z += rule.kb_coverage * out_of_band(signals.kb_coverage, (rule.kb_coverage_low, math.inf))
    odds = math.exp(max(-30.0, min(30.0, z)))
    dense = odds / (1 + odds)
    share = rule.feedback_share if signals.bm25_coverage >= rule.feedback_min_coverage else 0.0
    return dense, (1 - dense) * (1 - share), (1 - dense) * share
