"""Rank fusion (convex combination of max-normalized scores), checked against ranx's implementation; the
per-query weights of hybrid recall (list signals and the logistic rule), checked by hand."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from ranx import Run, fuse

from app.fusion import (
    COVERAGE_CENTRE,
    DENSE_TOP_CENTRE,
    ListSignals,
    WeightRule,
    convex_combination,
    hybrid_weights,
    list_signals,
    out_of_band,
)


def ranx_wsum(scored: list[list[tuple[str, float]]], weights: list[float], norm: str) -> dict[str, float]:
    runs = [Run({"q": dict(s)}) for s in scored]
    return dict(fuse(runs, norm=norm, method="wsum", params={"weights": weights}).to_dict()["q"])


@pytest.mark.parametrize("seed", range(8))
def test_convex_combination_matches_ranx_wsum(seed):
    rng = random.Random(seed)
    pool = [f"d{i}" for i in range(40)]
    cosine = sorted(((d, rng.uniform(-0.2, 0.9)) for d in rng.sample(pool, rng.randint(5, 30))), key=lambda x: -x[1])
    bm25 = sorted(((d, rng.uniform(0.5, 25.0)) for d in rng.sample(pool, rng.randint(5, 30))), key=lambda x: -x[1])
    weights = [rng.random(), rng.random()]
    got = convex_combination([cosine, bm25], weights, norm="max")
    want = ranx_wsum([cosine, bm25], weights, "max")
    assert dict(got) == pytest.approx(want)
    assert [s for _, s in got] == sorted(want.values(), reverse=True)


def test_convex_combination_by_hand_keeps_score_gaps_that_rrf_drops():
    dense = [("a", 0.90), ("b", 0.89), ("c", 0.30)]  # a and b nearly tied
    bm25 = [("c", 10.0), ("b", 9.0), ("a", 1.0)]
    got = dict(convex_combination([dense, bm25], [0.5, 0.5]))
    # max: dense a=1, b=0.89/0.9, c=0.3/0.9; bm25 c=1, b=0.9, a=0.1
    assert got == pytest.approx({"a": 0.5 * 1.1, "b": 0.5 * (0.89 / 0.9 + 0.9), "c": 0.5 * (0.3 / 0.9 + 1)})
    # b is near the top of both lists; RRF (k=60) would put it last: a and c get 1/61 + 1/63 > 2/62.
    assert [d for d, _ in convex_combination([dense, bm25], [0.5, 0.5])] == ["b", "c", "a"]
    # A weight of 0 keeps the list's items (at the bottom) without letting them move anything.
    assert convex_combination([[("x", 0.9)], [("y", 3.0), ("z", 1.0)]], [0.0, 1.0]) == [
        ("y", 1.0),
        ("z", pytest.approx(1 / 3)),
        ("x", 0.0),
    ]


def test_convex_combination_repeated_ids_constant_lists_and_inputs_untouched():
    dense = [("a", 0.5), ("a", 0.1), ("b", 0.1)]
    assert convex_combination([dense, []], [1.0, 1.0]) == [("a", 1.0), ("b", pytest.approx(0.2))]
    assert dense == [("a", 0.5), ("a", 0.1), ("b", 0.1)]
    assert convex_combination([[("a", 2.0), ("b", 2.0)]], [1.0]) == [("a", 1.0), ("b", 1.0)]  # tie: first wins
    assert convex_combination([[("a", 0.0)]], [1.0]) == [("a", 0.0)]  # a best score of 0 does not divide by 0
    assert convex_combination([[], []], [0.5, 0.5]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"weights": [1.0]}, "one weight per list"), ({"weights": [1, -1]}, "non-negative"), ({"norm": "zmuv"}, "norm=")],
)
def test_convex_combination_bad_arguments_name_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        convex_combination([[("a", 1.0)], [("b", 1.0)]], **{"weights": [0.5, 0.5], **kwargs})


def test_list_signals_by_hand():
    dense = [("a", 0.72), ("b", 0.70)]
    bm25 = [("c", 3.0), ("a", 1.5)]
    assert list_signals(dense, bm25, idf_mass=12.0) == ListSignals(dense_top=0.72, bm25_coverage=0.25)
    # Nothing found (or a query of stopwords only, idf mass 0): both signals are 0, never a division by 0.
    assert list_signals([], [], idf_mass=0.0) == ListSignals(dense_top=0.0, bm25_coverage=0.0)
    assert list_signals(dense, bm25, idf_mass=0.0).bm25_coverage == 0.0


RULE = WeightRule(bias=0.2, coverage=-2.0, dense_top=3.0, feedback_share=0.6, feedback_min_coverage=0.1)


def test_hybrid_weights_follow_the_logistic_rule_by_hand():
    signals = ListSignals(dense_top=0.5, bm25_coverage=0.4)
    z = 0.2 - 2.0 * math.log(0.401 / COVERAGE_CENTRE) + 3.0 * math.log(0.5 / DENSE_TOP_CENTRE)
    a = 1 / (1 + math.exp(-z))
    assert hybrid_weights(signals, RULE) == pytest.approx((a, (1 - a) * 0.4, (1 - a) * 0.6))


def test_hybrid_weights_lean_on_the_list_that_looks_reliable():
    typical = hybrid_weights(ListSignals(dense_top=DENSE_TOP_CENTRE, bm25_coverage=COVERAGE_CENTRE), RULE)
    weak_bm25 = hybrid_weights(ListSignals(dense_top=DENSE_TOP_CENTRE, bm25_coverage=0.05), RULE)
    weak_dense = hybrid_weights(ListSignals(dense_top=0.35, bm25_coverage=COVERAGE_CENTRE), RULE)
    assert weak_dense[0] < typical[0] < weak_bm25[0]
    # At the centres only the bias (and the small epsilon) decides: 0.2 -> a little over half.
    z = 0.2 - 2 * math.log((COVERAGE_CENTRE + 1e-3) / COVERAGE_CENTRE)
    assert typical[0] == pytest.approx(1 / (1 + math.exp(-z)))
    # Below the gate's coverage the feedback list gets nothing: BM25 keeps its whole share.
    assert weak_bm25[2] == 0.0 and weak_bm25[1] == pytest.approx(1 - weak_bm25[0])
    assert typical[2] == pytest.approx(0.6 * (1 - typical[0]))
    for weights in (typical, weak_bm25, weak_dense):
        assert sum(weights) == pytest.approx(1.0) and min(weights) >= 0
    # Extreme signals saturate instead of overflowing.
    assert hybrid_weights(ListSignals(dense_top=1e-9, bm25_coverage=1e9), RULE)[0] == pytest.approx(0.0, abs=1e-12)
    assert hybrid_weights(ListSignals(dense_top=1.0, bm25_coverage=0.0), RULE)[0] == pytest.approx(1.0, abs=1e-4)


def test_out_of_band_is_zero_inside_and_log_distance_outside():
    band = (0.2, 0.8)
    assert [out_of_band(v, band) for v in (0.2, 0.5, 0.8)] == [0.0, 0.0, 0.0]
    assert out_of_band(0.1, band) == pytest.approx(math.log(0.5))
    assert out_of_band(1.6, band) == pytest.approx(math.log(2.0))
    assert out_of_band(0.0, band) == pytest.approx(math.log(1e-3 / 0.2))  # floored, never log(0)
    # A band of one point is the plain log ratio on both sides.
    assert out_of_band(0.3, (0.6, 0.6)) == pytest.approx(math.log(0.5))
    assert out_of_band(1.2, (0.6, 0.6)) == pytest.approx(math.log(2.0))


BANDED = WeightRule(bias=0.0, coverage=-2.0, dense_top=3.0, feedback_share=0.6, feedback_min_coverage=0.1,
                    coverage_band=(0.2, 1.0), dense_top_band=(0.5, 0.9))


def test_inside_the_bands_a_query_gets_exactly_the_fixed_weights():
    for dense_top, coverage in ((0.5, 0.2), (0.7, 0.5), (0.9, 0.99)):
        assert hybrid_weights(ListSignals(dense_top=dense_top, bm25_coverage=coverage), BANDED) == pytest.approx(
            (0.5, 0.2, 0.3))


def test_the_shipped_rule_keeps_the_fixed_weights_for_typical_queries_and_leans_where_a_list_is_weak():
    from app.recall import RULE

    # The weights before issue 17 (dense 0.5, BM25 0.2, feedback 0.3) for a query with typical signals.
    assert hybrid_weights(ListSignals(dense_top=0.6, bm25_coverage=0.7), RULE) == pytest.approx((0.5, 0.2, 0.3))
    assert hybrid_weights(ListSignals(dense_top=0.6, bm25_coverage=0.2), RULE)[0] > 0.7  # BM25 matched little
    assert hybrid_weights(ListSignals(dense_top=0.3, bm25_coverage=0.7), RULE)[0] < 0.2  # no close dense hit
    assert hybrid_weights(ListSignals(dense_top=0.6, bm25_coverage=0.05), RULE)[2] == 0.0  # feedback gated off


def test_out_of_band_signals_move_the_weights_by_their_distance_from_the_edge():
    low_coverage = hybrid_weights(ListSignals(dense_top=0.7, bm25_coverage=0.1 - 1e-3), BANDED)
    z = -2.0 * math.log(0.1 / 0.2)
    assert low_coverage[0] == pytest.approx(1 / (1 + math.exp(-z)))
    assert low_coverage[2] == 0.0  # below the feedback gate too
    high_coverage = hybrid_weights(ListSignals(dense_top=0.7, bm25_coverage=2.0 - 1e-3), BANDED)
    assert high_coverage[0] == pytest.approx(1 / (1 + math.exp(2.0 * math.log(2.0))))
    weak_dense = hybrid_weights(ListSignals(dense_top=0.25, bm25_coverage=0.5), BANDED)
    assert weak_dense[0] == pytest.approx(1 / (1 + math.exp(-3.0 * math.log(0.5))))
    assert weak_dense[1:] == pytest.approx(((1 - weak_dense[0]) * 0.4, (1 - weak_dense[0]) * 0.6))
    strong_dense = hybrid_weights(ListSignals(dense_top=0.99, bm25_coverage=0.5), BANDED)
    assert strong_dense[0] == pytest.approx(1 / (1 + math.exp(-3.0 * math.log(0.99 / 0.9))))


@pytest.mark.parametrize("band", [(0.5, 0.4), (0.0, 1.0), (-1.0, 1.0)])
def test_a_band_that_is_not_low_le_high_above_zero_is_refused(band):
    with pytest.raises(ValueError, match="coverage_band must be"):
        WeightRule(bias=0.0, coverage=-1.0, dense_top=1.0, feedback_share=0.6, feedback_min_coverage=0.0,
                   coverage_band=band)


def test_a_kb_whose_queries_bm25_matches_little_leans_every_query_on_dense():
    rule = WeightRule(bias=0.0, coverage=-3.0, dense_top=4.0, feedback_share=0.6, feedback_min_coverage=0.12,
                      coverage_band=(0.36, 1.2), dense_top_band=(0.5, 0.75), kb_coverage=-8.0, kb_coverage_low=0.4)
    fixed = (0.5, 0.2, 0.3)
    for kb_coverage in (None, 0.4, 0.9):  # unknown yet, or at or above the edge: the query's own weights
        assert hybrid_weights(ListSignals(0.6, 0.7, kb_coverage), rule) == pytest.approx(fixed)
    dense, bm25, feedback = hybrid_weights(ListSignals(0.6, 0.7, 0.2), rule)
    odds = (0.2 / 0.4) ** -8.0
    assert dense == pytest.approx(odds / (1 + odds)) and dense > 0.99
    assert feedback / bm25 == pytest.approx(0.6 / 0.4)  # BM25's share still split as the rule says
    off = dataclasses.replace(rule, kb_coverage=0.0)
    assert hybrid_weights(ListSignals(0.6, 0.7, 0.2), off) == pytest.approx(fixed)
