"""Tuning / held-out split of query ids."""

from __future__ import annotations

import random

import pytest

from app.errors import InvalidInput
from app.workbench.split import split_queries


def test_split_is_a_deterministic_partition_whatever_the_input_order():
    ids = [f"q{i}" for i in range(25)]
    split = split_queries(ids, seed=3)
    shuffled = ids[:]
    random.Random(0).shuffle(shuffled)
    assert split_queries(shuffled + ids[:5], seed=3) == split  # order and repeats do not matter
    assert sorted(split.tune + split.held_out) == sorted(ids) and not set(split.tune) & set(split.held_out)
    assert len(split.tune) == 12 and len(split.held_out) == 13  # round(12.5) == 12
    assert split_queries(ids, seed=4) != split


def test_the_shuffle_is_random_Random_seed_over_the_sorted_ids():
    ids = sorted(f"question {i}" for i in range(10))
    expected = ids[:]
    random.Random(7).shuffle(expected)
    split = split_queries(reversed(ids), tune_fraction=0.3, seed=7)
    assert split.tune == sorted(expected[:3]) and split.held_out == sorted(expected[3:])


def test_both_parts_are_never_empty_and_bad_input_is_refused():
    assert split_queries(["a", "b"], tune_fraction=0.01) == split_queries(["b", "a"], tune_fraction=0.01)
    assert [len(p) for p in vars(split_queries(["a", "b"], tune_fraction=0.99)).values()] == [1, 1]
    with pytest.raises(InvalidInput, match="at least 2 labelled queries"):
        split_queries(["a", "a"])
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        split_queries(["a", "b"], tune_fraction=1.0)
