"""Passage-level metrics over labelled queries, with bootstrap intervals and paired tests.

Rankings of chunks become passage-level runs (`passage_run`): walking the chunks best first, each
chunk stands for the positive labels of that query it overlaps; the first chunk to reach a label
places it, later chunks that reach only labels already placed are skipped (as `documents_ranked` in
app/evaluate.py skips a document's later chunks), and a chunk that overlaps no positive label is one
non-relevant item under its chunk id. Qrels are {label id: grade} of the labels with grade > 0. Query
ids are the query texts.

ranx computes the metrics (nDCG@10 with linear gain, as pytrec_eval; MRR@10; Recall@k; P@1).
Intervals are percentile bootstraps of the mean over queries; the paired test between two
configurations is a two-sided randomization (permutation) test on per-query nDCG@10 differences
(scipy.stats.permutation_test), or a paired Student t-test (scipy.stats.ttest_rel).

Example:
    >>> report = compare_runs(qrels, {"recall only": run_a, "reranked": run_b}, baseline="recall only", k=50)
    >>> report.as_json()["comparisons"][0]  # doctest: +SKIP
    {'baseline': 'recall only', 'config': 'reranked', 'delta_ndcg@10': -0.1342, 'p_value': 0.0004, ...}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.errors import InvalidInput
from app.models import Chunk
from app.workbench.labels import Label, relevant_labels

METRICS = ("ndcg@10", "mrr@10", "recall@k", "p@1")
TESTS = ("randomization", "student")
TIE = 1e-9  # per-query differences smaller than this are ties
_EMPTY = "__no_results__"  # ranx refuses a query without any ranked item

Qrels = dict[str, dict[str, int]]
RunDict = dict[str, dict[str, float]]


def qrels_from_labels(labels: Iterable[Label]) -> Qrels:
    """{query: {label id: grade}} for the labels with grade > 0 (the highest grade where repeated)."""
    qrels: Qrels = {}
    for label in labels:
        if label.grade > 0:
            per_query = qrels.setdefault(label.query, {})
            per_query[label.id] = max(label.grade, per_query.get(label.id, 0))
    return qrels


def passage_run(ranked: Sequence[Chunk], labels: Iterable[Label]) -> dict[str, float]:
    """One query's ranking of chunks (best first) as {item: score}, higher first.

    Args:
        ranked: the chunks in the order the configuration returned them.
        labels: that query's labels (others would be matched too: pass only this query's).

    Returns:
        Label ids (for chunks that reach a positive label) and chunk ids (for the others), scored by
        the order they are placed in. Labels one chunk reaches first are placed by grade, best first.
    """
    positive = [label for label in labels if label.grade > 0]
    placed: dict[str, float] = {}
    bound = float(len(ranked) + len(positive))
    for chunk in ranked:
        hits = sorted(relevant_labels(chunk, positive), key=lambda lb: (-lb.grade, lb.id))
        if not hits:
            if chunk.chunk_id not in placed:
                placed[chunk.chunk_id] = bound - len(placed)
            continue
        for label in hits:
            if label.id not in placed:
                placed[label.id] = bound - len(placed)
    return placed


def runs_from_rankings(rankings: Mapping[str, Sequence[Chunk]], labels: Iterable[Label]) -> RunDict:
    """`passage_run` for each query of {query: ranked chunks}, with that query's labels."""
    by_query: dict[str, list[Label]] = {}
    for label in labels:
        by_query.setdefault(label.query, []).append(label)
    return {query: passage_run(chunks, by_query.get(query, [])) for query, chunks in rankings.items()}


def per_query_metrics(qrels: Qrels, run: RunDict, k: int) -> dict[str, dict[str, float]]:
    """{query: {metric: value}} for every query of `qrels` with a positive label (METRICS; Recall at k).

    A query missing from `run` (or with nothing ranked) scores 0 everywhere.
    """
    from ranx import Qrels as RanxQrels
    from ranx import Run as RanxRun
    from ranx import evaluate

    if k < 1:
        raise InvalidInput(f"k must be a positive integer (got {k})")
    judged = {q: {d: g for d, g in docs.items() if g > 0} for q, docs in qrels.items()}
    judged = {q: docs for q, docs in judged.items() if docs}
    if not judged:
        return {}
    names = {"ndcg@10": "ndcg@10", "mrr@10": "mrr@10", "recall@k": f"recall@{k}", "p@1": "precision@1"}
    ranx_run = RanxRun({q: dict(run.get(q) or {_EMPTY: 0.0}) for q in judged})
    evaluate(RanxQrels(judged), ranx_run, list(names.values()), return_mean=False)
    return {q: {ours: float(ranx_run.scores[theirs][q]) for ours, theirs in names.items()} for q in judged}


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 10_000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (queries resampled with replacement)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise InvalidInput("no values to bootstrap: label at least one query with a grade > 0")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    batch = max(1, 2_000_000 // data.size)  # bounds memory to a few MB per batch
    for start in range(0, resamples, batch):
        n = min(batch, resamples - start)
        means[start : start + n] = data[rng.integers(0, data.size, size=(n, data.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def paired_test(
    baseline: Sequence[float],
    config: Sequence[float],
    *,
    test: str = "randomization",
    resamples: int = 10_000,
    seed: int = 0,
) -> float:
    """Two-sided p-value that the two configurations have the same mean over the same queries.

    `randomization` swaps each query's pair at random (exactly, over all 2^n swaps, when n is small);
    `student` is the paired t-test. Identical scores, and a single query, give p = 1 (no evidence).
    """
    from scipy import stats

    if test not in TESTS:
        raise InvalidInput(f"unknown test {test!r}: use one of {', '.join(TESTS)}")
    a, b = np.asarray(baseline, dtype=float), np.asarray(config, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise InvalidInput("a paired test needs the same, non-empty list of queries on both sides")
    diff = b - a
    if np.all(np.abs(diff) < TIE) or diff.size < 2:
        return 1.0
    if test == "student":
        if np.ptp(diff) < TIE:  # every query moved by the same amount: no variance, the difference is certain
            return 0.0
        return float(stats.ttest_rel(b, a).pvalue)
    result = stats.permutation_test(
        (diff,),
        lambda d, axis: np.mean(d, axis=axis),
        permutation_type="samples",  # with one sample: flip the sign of each difference
        n_resamples=resamples,
        alternative="two-sided",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


@dataclass(frozen=True)
class ConfigMetrics:
    """One configuration's per-query metrics, their means and 95% bootstrap intervals."""

    name: str
    spec: str
    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]
    ci: dict[str, tuple[float, float]]

    def as_json(self, digits: int = 4) -> dict:
        out: dict = {"name": self.name, "spec": self.spec}
        for metric in METRICS:
            out[metric] = round(self.mean[metric], digits)
            out[f"{metric}_ci"] = [round(v, digits) for v in self.ci[metric]]
        return out


@dataclass(frozen=True)
class Comparison:
    """A configuration against the baseline over the same queries (`delta` = config - baseline).

    `p_value`, wins, ties and losses are on `metric` (nDCG@10).
    """

    baseline: str
    config: str
    delta: dict[str, float]
    p_value: float
    wins: int
    ties: int
    losses: int
    metric: str = "ndcg@10"
    test: str = "randomization"
    per_query_delta: dict[str, float] = field(default_factory=dict)

    def as_json(self, digits: int = 4) -> dict:
        out: dict = {"baseline": self.baseline, "config": self.config}
        out.update({f"delta_{m}": round(v, digits) for m, v in self.delta.items()})
        out.update(p_value=round(self.p_value, digits), wins=self.wins, ties=self.ties, losses=self.losses)
        out["test"] = self.test
        return out


@dataclass(frozen=True)
class CompareReport:
    """What `kb compare` reports: every configuration, and each against the baseline."""

    queries: list[str]  # the queries measured (those with a positive label), sorted
    skipped: int  # queries in the qrels without any positive label (not measured)
    k: int
    configs: list[ConfigMetrics]
    comparisons: list[Comparison]

    def as_json(self, digits: int = 4) -> dict:
        return {
            "queries": len(self.queries),
            "queries_without_positive_label": self.skipped,
            "k": self.k,
            "configs": [c.as_json(digits) for c in self.configs],
            "comparisons": [c.as_json(digits) for c in self.comparisons],
        }


def config_metrics(
    name: str, qrels: Qrels, run: RunDict, k: int, *, spec: str = "", resamples: int = 10_000, seed: int = 0
) -> ConfigMetrics:
    per_query = per_query_metrics(qrels, run, k)
    if not per_query:
        raise InvalidInput("no query has a label with grade 1 or 2: label a relevant passage first")
    mean, ci = {}, {}
    for metric in METRICS:
        values = [per_query[q][metric] for q in sorted(per_query)]
        mean[metric] = float(np.mean(values))
        ci[metric] = bootstrap_ci(values, resamples=resamples, seed=seed)
    return ConfigMetrics(name, spec or name, per_query, mean, ci)


def compare(
    baseline: ConfigMetrics,
    config: ConfigMetrics,
    *,
    metric: str = "ndcg@10",
    test: str = "randomization",
    resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    queries = sorted(baseline.per_query)
    if queries != sorted(config.per_query):
        raise InvalidInput(f"{config.name!r} and {baseline.name!r} were measured on different queries")
    a = [baseline.per_query[q][metric] for q in queries]
    b = [config.per_query[q][metric] for q in queries]
    diff = {q: y - x for q, x, y in zip(queries, a, b, strict=True)}
    return Comparison(
        baseline=baseline.name,
        config=config.name,
        delta={m: config.mean[m] - baseline.mean[m] for m in METRICS},
        p_value=paired_test(a, b, test=test, resamples=resamples, seed=seed),
        wins=sum(d > TIE for d in diff.values()),
        ties=sum(abs(d) <= TIE for d in diff.values()),
        losses=sum(d < -TIE for d in diff.values()),
        metric=metric,
        test=test,
        per_query_delta=diff,
    )


def compare_runs(
    qrels: Qrels,
    runs: Mapping[str, RunDict],
    baseline: str,
    k: int,
    *,
    specs: Mapping[str, str] | None = None,
    test: str = "randomization",
    resamples: int = 10_000,
    seed: int = 0,
) -> CompareReport:
    """Metrics of every run (config name -> passage-level run) and each against `baseline`.

    Args:
        qrels: {query: {label id: grade}} (`qrels_from_labels`); queries without a grade > 0 are
            left out and counted in `skipped`.
        runs: {config name: {query: {item: score}}} (`runs_from_rankings`), in display order.
        baseline: the name of the run the others are compared with.
        k: the cutoff of Recall@k.
        specs: the spec string of each config name (default: the name).
    """
    if baseline not in runs:
        raise InvalidInput(f"baseline {baseline!r} is not one of the configurations: {', '.join(map(repr, runs))}")
    specs = specs or {}
    configs = [
        config_metrics(name, qrels, run, k, spec=specs.get(name, name), resamples=resamples, seed=seed)
        for name, run in runs.items()
    ]
    base = next(c for c in configs if c.name == baseline)
    comparisons = [
        compare(base, c, test=test, resamples=resamples, seed=seed) for c in configs if c.name != baseline
    ]
    measured = sorted(base.per_query)
    return CompareReport(measured, len(qrels) - len(measured), k, configs, comparisons)
