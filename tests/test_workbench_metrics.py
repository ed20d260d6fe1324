"""Workbench metrics against ranx called directly and against the textbook formulas."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from ranx import Qrels, Run, compare, evaluate

from app.errors import InvalidInput
from app.models import Chunk
from app.workbench.labels import Label
from app.workbench.metrics import (
    METRICS,
    bootstrap_ci,
    compare_runs,
    paired_test,
    passage_run,
    per_query_metrics,
    qrels_from_labels,
    runs_from_rankings,
)

TEXT = "x" * 1000  # one page of a document; only the offsets matter here


def chunk(i: int, start: int, end: int, doc: str = "a.pdf", page: int = 1) -> Chunk:
    return Chunk(f"{doc}:{i}", "d", doc, i, TEXT[start:end], page=page, char_start=start, char_end=end)


# --- rankings to passage-level runs ---------------------------------------------------------------


def test_passage_run_places_each_label_at_the_first_chunk_that_reaches_it():
    best = Label("q", "a.pdf", 2, 1, 100, 150)
    part = Label("q", "a.pdf", 1, 1, 140, 300)
    wrong = Label("q", "a.pdf", 0, 1, 500, 600)  # judged not relevant: its chunk is a non-relevant item
    ranked = [
        chunk(0, 0, 90),  # nothing
        chunk(1, 120, 200),  # reaches both: the grade 2 first
        chunk(2, 250, 320),  # reaches `part` again: skipped
        chunk(3, 520, 580),  # the grade-0 label
        chunk(0, 0, 90),  # the same chunk twice: counted once
    ]
    run = passage_run(ranked, [best, part, wrong])
    assert list(run) == ["a.pdf:0", best.id, part.id, "a.pdf:3"]
    assert list(run.values()) == [7.0, 6.0, 5.0, 4.0]  # 5 chunks + 2 positive labels, minus the place
    assert qrels_from_labels([best, part, wrong]) == {"q": {best.id: 2, part.id: 1}}


def test_runs_from_rankings_uses_each_querys_own_labels():
    a, b = Label("qa", "a.pdf", 1, 1, 0, 10), Label("qb", "a.pdf", 1, 1, 0, 10)
    runs = runs_from_rankings({"qa": [chunk(0, 0, 50)], "qb": [chunk(5, 60, 90)]}, [a, b])
    assert runs == {"qa": {a.id: 2.0}, "qb": {"a.pdf:5": 2.0}}


# --- metrics against references -------------------------------------------------------------------


def hand_metrics(grades_in_order: list[int], all_grades: list[int], k: int) -> dict[str, float]:
    """nDCG@10 (linear gain, log2(rank + 1) discount), MRR@10, Recall@k and P@1, by the formulas."""
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(grades_in_order[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(all_grades, reverse=True)[:10]))
    first = next((i + 1 for i, g in enumerate(grades_in_order[:10]) if g > 0), None)
    return {
        "ndcg@10": dcg / ideal,
        "mrr@10": 1.0 / first if first else 0.0,
        "recall@k": sum(g > 0 for g in grades_in_order[:k]) / len(all_grades),
        "p@1": float(bool(grades_in_order) and grades_in_order[0] > 0),
    }


def test_a_hand_computed_example():
    good, ok = Label("q", "a.pdf", 2, 1, 100, 200), Label("q", "a.pdf", 1, 1, 400, 500)
    missed = Label("q", "a.pdf", 1, 2, 0, 50)
    ranked = [chunk(0, 0, 90), chunk(1, 150, 250), chunk(2, 260, 300), chunk(3, 300, 350), chunk(4, 450, 460)]
    qrels = qrels_from_labels([good, ok, missed])
    scores = per_query_metrics(qrels, {"q": passage_run(ranked, [good, ok, missed])}, k=3)["q"]
    # ranks: 1 non-relevant, 2 good (grade 2), 3 and 4 non-relevant, 5 ok (grade 1); `missed` never.
    ndcg = (2 / math.log2(3) + 1 / math.log2(6)) / (2 + 1 / math.log2(3) + 1 / math.log2(4))
    assert scores == pytest.approx({"ndcg@10": ndcg, "mrr@10": 0.5, "recall@k": 1 / 3, "p@1": 0.0})
    assert scores["ndcg@10"] == pytest.approx(0.5266, abs=1e-4)


def random_labelled_rankings(seed: int, queries: int = 40):
    """Queries with 1-4 graded labels each on a 2000-character page, and a ranking of 30 chunks."""
    rng = random.Random(seed)
    labels, rankings = [], {}
    for q in range(queries):
        query = f"question {q}"
        starts = rng.sample(range(0, 1900, 100), rng.randint(1, 4))
        labels += [Label(query, "a.pdf", rng.choice([0, 1, 2, 2]), 1, s, s + 50) for s in starts]
        positions = rng.sample(range(0, 1900, 50), 30)
        rankings[query] = [chunk(i, p, p + 40, page=1) for i, p in enumerate(positions)]
    return labels, rankings


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_equal_ranx_and_the_formulas_on_the_same_rankings(seed):
    labels, rankings = random_labelled_rankings(seed)
    qrels, run = qrels_from_labels(labels), runs_from_rankings(rankings, labels)
    ours = per_query_metrics(qrels, run, k=20)
    assert sorted(ours) == sorted(qrels) and len(ours) < len(rankings)  # some queries have only grade 0

    names = {"ndcg@10": "ndcg@10", "mrr@10": "mrr@10", "recall@k": "recall@20", "p@1": "precision@1"}
    for query in ours:
        ranx_scores = evaluate(
            Qrels({query: qrels[query]}), Run({query: run[query]}), list(names.values()), return_mean=True
        )
        assert ours[query] == pytest.approx({m: ranx_scores[n] for m, n in names.items()}, abs=1e-12)
        in_order = [qrels[query].get(item, 0) for item in sorted(run[query], key=run[query].get, reverse=True)]
        assert ours[query] == pytest.approx(hand_metrics(in_order, list(qrels[query].values()), 20), abs=1e-12)


def test_queries_without_a_positive_label_are_left_out_and_counted():
    pos, neg = Label("q1", "a.pdf", 2, 1, 0, 10), Label("q2", "a.pdf", 0, 1, 0, 10)
    qrels = {**qrels_from_labels([pos, neg]), "q2": {neg.id: 0}}
    runs = {"base": {"q1": {pos.id: 1.0}}, "other": {}}  # `other` ranked nothing at all
    report = compare_runs(qrels, runs, "base", k=10, resamples=200)
    assert report.queries == ["q1"] and report.skipped == 1
    assert report.configs[1].per_query == {"q1": {m: 0.0 for m in METRICS}}
    with pytest.raises(InvalidInput, match="label a relevant passage first"):
        compare_runs({"q2": {neg.id: 0}}, runs, "base", k=10)


# --- intervals and tests --------------------------------------------------------------------------


def test_bootstrap_interval_contains_the_mean_narrows_with_more_queries_and_is_seeded():
    rng = np.random.default_rng(7)
    few, many = rng.uniform(size=20), rng.uniform(size=500)
    low, high = bootstrap_ci(few, seed=3)
    assert low < few.mean() < high
    many_low, many_high = bootstrap_ci(many, seed=3)
    assert many_low < many.mean() < many_high
    assert many_high - many_low < (high - low) / 3  # about sqrt(500 / 20) = 5 times narrower
    assert bootstrap_ci(few, seed=3) == (low, high)
    assert bootstrap_ci(few, seed=4) != (low, high)
    assert bootstrap_ci([0.4], seed=0) == (0.4, 0.4)
    # The percentile interval of the bootstrap means, against numpy done the long way.
    means = few[np.random.default_rng(3).integers(0, 20, size=(10_000, 20))].mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])), abs=1e-12)


@pytest.mark.parametrize("test", ["randomization", "student"])
def test_paired_test_separates_a_clearly_better_run_from_an_identical_one(test):
    rng = np.random.default_rng(11)
    base = rng.uniform(0.2, 0.6, size=40)
    better = np.clip(base + rng.uniform(0.05, 0.35, size=40), 0, 1)
    noise = base + rng.normal(0, 0.1, size=40)
    assert paired_test(base, better, test=test) < 0.05
    assert paired_test(base, base.copy(), test=test) == 1.0
    assert paired_test(base, noise, test=test) > 0.05
    assert paired_test(base, better, test=test) == paired_test(base, better, test=test)


def test_student_p_value_equals_ranx_compare():
    labels, rankings = random_labelled_rankings(5)
    reversed_rankings = {q: list(reversed(chunks)) for q, chunks in rankings.items()}
    qrels = qrels_from_labels(labels)
    a, b = runs_from_rankings(rankings, labels), runs_from_rankings(reversed_rankings, labels)
    report = compare_runs(qrels, {"a": a, "b": b}, "a", k=20, test="student", resamples=500)
    ranx_a, ranx_b = Run({q: a[q] for q in qrels}, name="a"), Run({q: b[q] for q in qrels}, name="b")
    theirs = compare(Qrels(qrels), [ranx_a, ranx_b], ["ndcg@10"], stat_test="student")
    assert report.comparisons[0].p_value == pytest.approx(theirs.comparisons["a", "b"]["ndcg@10"]["p_value"])
    assert report.comparisons[0].delta["ndcg@10"] == pytest.approx(
        theirs.results["b"]["ndcg@10"] - theirs.results["a"]["ndcg@10"]
    )


def test_randomization_test_is_exact_for_few_queries():
    # 4 queries, all better: of the 16 sign flips, only all-plus and all-minus are as extreme.
    assert paired_test([0.1, 0.2, 0.3, 0.4], [0.2, 0.4, 0.6, 0.8]) == pytest.approx(2 / 16)


# --- the report -----------------------------------------------------------------------------------


def test_compare_runs_report_and_its_json_contract():
    labels, rankings = random_labelled_rankings(9, queries=30)
    qrels = qrels_from_labels(labels)
    runs = {
        "recall=hybrid;rerank=off": runs_from_rankings(rankings, labels),
        "preset=Legal clauses": runs_from_rankings({q: list(reversed(c)) for q, c in rankings.items()}, labels),
        "same": runs_from_rankings(rankings, labels),
    }
    report = compare_runs(qrels, runs, "recall=hybrid;rerank=off", k=20, resamples=2000, seed=1)
    out = report.as_json()
    assert out["queries"] == len(qrels) and out["k"] == 20
    assert [c["name"] for c in out["configs"]] == list(runs)
    for config in out["configs"]:
        assert set(config) == {"name", "spec"} | set(METRICS) | {f"{m}_ci" for m in METRICS}
        for m in METRICS:
            low, high = config[f"{m}_ci"]
            assert low <= config[m] <= high
    first, same = out["comparisons"]
    assert (first["baseline"], first["config"]) == ("recall=hybrid;rerank=off", "preset=Legal clauses")
    assert {"delta_ndcg@10", "p_value", "wins", "ties", "losses"} <= set(first)
    assert first["wins"] + first["ties"] + first["losses"] == len(qrels)
    same_counts = (same["wins"], same["ties"], same["losses"], same["p_value"], same["delta_ndcg@10"])
    assert same_counts == (0, len(qrels), 0, 1.0, 0)

    base, other = report.configs[0], report.configs[1]
    diffs = [other.per_query[q]["ndcg@10"] - base.per_query[q]["ndcg@10"] for q in report.queries]
    assert first["wins"] == sum(d > 1e-9 for d in diffs) and first["losses"] == sum(d < -1e-9 for d in diffs)
    assert first["delta_ndcg@10"] == round(float(np.mean(diffs)), 4)
    assert base.mean["ndcg@10"] == pytest.approx(
        evaluate(Qrels(qrels), Run(runs["recall=hybrid;rerank=off"]), "ndcg@10", make_comparable=True)
    )
    with pytest.raises(InvalidInput, match="baseline 'nope' is not one of"):
        compare_runs(qrels, runs, "nope", k=20)
