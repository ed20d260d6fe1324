"""Reciprocal rank fusion, checked against ranx's implementation."""

from __future__ import annotations

import random

import pytest
from ranx import Run, fuse

from app.fusion import reciprocal_rank_fusion


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
