"""Rank fusion (RRF and convex combination), checked against ranx's implementations."""

from __future__ import annotations

import random

import pytest
from ranx import Run, fuse

from app.fusion import convex_combination, reciprocal_rank_fusion


def ranx_rrf(rankings: list[list[str]], k: int) -> dict[str, float]:
    runs = [Run({"q": {d: float(len(r) - i) for i, d in enumerate(r)}}) for r in rankings]
    return dict(fuse(runs, method="rrf", params={"k": k}).to_dict()["q"])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [60, 10])
def test_matches_ranx_rrf(seed, k):
    rng = random.Random(seed)
    pool = [f"d{i}" for i in range(40)]
    rankings = [rng.sample(pool, rng.randint(5, 30)) for _ in range(rng.randint(2, 4))]
    got = reciprocal_rank_fusion(rankings, k=k)
    want = ranx_rrf(rankings, k)
    assert dict(got) == pytest.approx(want)
    assert [s for _, s in got] == sorted(want.values(), reverse=True)


def test_weights_scale_each_list_and_ties_go_to_the_first_list():
    assert reciprocal_rank_fusion([["a", "b"], ["c", "a"]], k=0, weights=[1.0, 2.0]) == [
        ("a", 2.0),  # 1/1 + 2/2
        ("c", 2.0),  # 2/1: tied with "a", which appears first
        ("b", 0.5),
    ]
    plain = reciprocal_rank_fusion([["x", "y"], ["y", "z"]])
    assert reciprocal_rank_fusion([["x", "y"], ["y", "z"]], weights=[1, 1]) == plain
    assert reciprocal_rank_fusion([["x"], ["z"]]) == [("x", 1 / 61), ("z", 1 / 61)]


def test_a_repeated_id_counts_once_at_its_best_rank_and_inputs_are_untouched():
    rankings = [["a", "b", "a"], ["b"]]
    assert reciprocal_rank_fusion(rankings, k=0) == [("b", 1.5), ("a", 1.0)]
    assert rankings == [["a", "b", "a"], ["b"]]
    assert reciprocal_rank_fusion([]) == [] and reciprocal_rank_fusion([[], []]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"weights": [1.0]}, "one weight per ranking"), ({"weights": [1, -1]}, "non-negative"), ({"k": -1}, "k must")],
)
def test_bad_arguments_name_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        reciprocal_rank_fusion([["a"], ["b"]], **kwargs)


def ranx_wsum(scored: list[list[tuple[str, float]]], weights: list[float], norm: str) -> dict[str, float]:
    runs = [Run({"q": dict(s)}) for s in scored]
    return dict(fuse(runs, norm=norm, method="wsum", params={"weights": weights}).to_dict()["q"])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("norm", ["min-max", "max", "zmuv"])
def test_convex_combination_matches_ranx_wsum(seed, norm):
    rng = random.Random(seed)
    pool = [f"d{i}" for i in range(40)]
    cosine = sorted(((d, rng.uniform(-0.2, 0.9)) for d in rng.sample(pool, rng.randint(5, 30))), key=lambda x: -x[1])
    bm25 = sorted(((d, rng.uniform(0.5, 25.0)) for d in rng.sample(pool, rng.randint(5, 30))), key=lambda x: -x[1])
    weights = [rng.random(), rng.random()]
    got = convex_combination([cosine, bm25], weights, norm=norm)
    want = ranx_wsum([cosine, bm25], weights, norm)
    assert dict(got) == pytest.approx(want)
    assert [s for _, s in got] == sorted(want.values(), reverse=True)


def test_convex_combination_by_hand_keeps_score_gaps_that_rrf_drops():
    dense = [("a", 0.90), ("b", 0.89), ("c", 0.30)]  # a and b nearly tied
    bm25 = [("c", 10.0), ("b", 9.0), ("a", 1.0)]
    got = dict(convex_combination([dense, bm25], [0.5, 0.5]))
    # min-max: dense a=1, b=(0.89-0.3)/0.6, c=0; bm25 c=1, b=8/9, a=0
    assert got == pytest.approx({"a": 0.5, "b": 0.5 * (0.59 / 0.6 + 8 / 9), "c": 0.5})
    assert [d for d, _ in convex_combination([dense, bm25], [0.5, 0.5])] == ["b", "a", "c"]
    # A weight of 0 keeps the list's items (at the bottom) without letting them move anything.
    assert convex_combination([[("x", 0.9)], [("y", 3.0), ("z", 1.0)]], [0.0, 1.0]) == [
        ("y", 1.0),
        ("x", 0.0),
        ("z", 0.0),
    ]


def test_convex_combination_repeated_ids_constant_lists_and_inputs_untouched():
    dense = [("a", 0.5), ("a", 0.1), ("b", 0.1)]
    assert convex_combination([dense, []], [1.0, 1.0]) == [("a", 1.0), ("b", 0.0)]
    assert dense == [("a", 0.5), ("a", 0.1), ("b", 0.1)]
    assert convex_combination([[("a", 2.0), ("b", 2.0)]], [1.0]) == [("a", 0.0), ("b", 0.0)]
    assert convex_combination([[], []], [0.5, 0.5]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"weights": [1.0]}, "one weight per list"), ({"weights": [1, -1]}, "non-negative"), ({"norm": "l2"}, "norm=")],
)
def test_convex_combination_bad_arguments_name_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        convex_combination([[("a", 1.0)], [("b", 1.0)]], **{"weights": [0.5, 0.5], **kwargs})
