"""The leave-one-out replay's own helpers (research/fusion_loo.py, research/fusion_lab.py) on hand-made inputs:
a coordinate of the search space sets one band edge, and per-query metrics average to ranx's figure."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))
from fusion_lab import Collection  # noqa: E402
from fusion_loo import FIXED, FROZEN, SPACE, START, Lab, with_setting  # noqa: E402


def test_with_setting_moves_one_band_edge_or_one_field():
    rule = with_setting(START, "coverage_low", 0.24)
    assert rule.coverage_band == (0.24, START.coverage_band[1]) and rule.dense_top_band == START.dense_top_band
    rule = with_setting(rule, "dense_top_high", 0.85)
    assert rule.dense_top_band == (START.dense_top_band[0], 0.85) and rule.coverage_band[0] == 0.24
    assert with_setting(rule, "bias", -0.4).bias == -0.4 and with_setting(rule, "bias", -0.4).coverage_band == (
        0.24, START.coverage_band[1])
    # Every value of every coordinate makes a valid rule from the start (bands stay low <= high).
    for name, values in SPACE.items():
        for value in values:
            with_setting(START, name, value)
    # The start differs from the fixed weights only in slopes and bands, not in what a typical query gets.
    assert (START.bias, START.feedback_share, START.feedback_min_coverage) == (
        FIXED.bias, FIXED.feedback_share, FIXED.feedback_min_coverage)


def test_objective_puts_no_worse_than_today_before_any_gain():
    # (shortfall against the fixed weights, J): a rule that keeps every training collection within the margin
    # beats one that trades a loss there for gains elsewhere, however large; at equal shortfall, J decides.
    assert Lab.better((0.0, -0.5), (0.002, 0.9))
    assert not Lab.better((0.002, 0.9), (0.0, -0.5))
    assert Lab.better((0.001, 0.2), (0.003, 0.1)) and Lab.better((0.0, 0.2), (0.0, 0.1))
    assert not Lab.better((0.0, 0.1), (0.0, 0.1))
    # Held by default at the fixed weights' values: inside both bands a query gets exactly today's weights.
    assert all(getattr(START, name) == getattr(FIXED, name) for name in FROZEN)


def test_per_query_metrics_average_to_the_collection_score(tmp_path):
    rng = np.random.default_rng(0)
    docs = [f"d{i}.txt" for i in range(30)]
    chunk_doc = [docs[i // 2] for i in range(60)]
    qrels = {f"q{i}": {f"d{j}": 1 for j in rng.choice(30, 3, replace=False)} for i in range(12)}
    qrels["q3"] = {}  # a query without judgments counts in neither figure
    data = {
        "queries": {q: q for q in qrels},
        "runs": {q: {} for q in qrels},
        "chunk_ids": [f"c{i}" for i in range(60)],
        "chunk_doc": chunk_doc,
        "chunk_text": [""] * 60,
        "qrels": qrels,
        "twins": {name: [name.removesuffix(".txt")] for name in docs},
    }
    (tmp_path / "toy.pkl").write_bytes(pickle.dumps(data))
    c = Collection("toy", tmp_path)
    fused = {q: rng.permutation(60).astype(np.int32) for q in qrels}
    per_query = c.per_query(fused)
    assert set(per_query) == set(qrels) - {"q3"}
    ndcg, recall = c.score(fused)
    assert np.mean([v[0] for v in per_query.values()]) == pytest.approx(ndcg)
    assert np.mean([v[1] for v in per_query.values()]) == pytest.approx(recall)
    assert 0 < ndcg < 1 and 0 < recall <= 1
    assert c.per_query({}) == {}
