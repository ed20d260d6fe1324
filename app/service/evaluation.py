"""The workbench: compare configurations on a labelled query set, keep every run, suggest instructions.

`compare` ranks every query of a set under each configuration (`app.workbench.runner`: one recall per
recall setting, reranking batched), turns the rankings into passage-level runs over the set's labels and
reports metrics with confidence intervals and paired tests (`app.workbench.metrics`). Every run is saved
with its per-query figures and top rankings, so it can be reopened and set beside a new one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from app.catalog import KnowledgeBase
from app.errors import InvalidInput
from app.models import Hit
from app.recall import recall
from app.runtime import Runtime
from app.service import access
from app.service.presets import available, default_instruction
from app.workbench import records
from app.workbench.labels import Label, relevant_labels
from app.workbench.metrics import (
    METRICS,
    CompareReport,
    ConfigMetrics,
    bootstrap_ci,
    compare,
    compare_runs,
    qrels_from_labels,
    runs_from_rankings,
)
from app.workbench.runner import ProgressFn, RunConfig, rank_all
from app.workbench.specs import ConfigSpec

# Per query and configuration, the saved run keeps this many ranked passages for the side-by-side view.
KEPT_RANKS = 10
KEPT_TEXT_CHARS = 400


@dataclass(frozen=True)
class Comparison:
    """What `compare` returns: the report (`as_json` is `kb compare --json`), the saved run's id, and the
    first KEPT_RANKS passages each configuration ranked per query (for the page's side-by-side view)."""

    set_name: str
    report: CompareReport
    configs: list[RunConfig]
    rankings: dict[str, dict[str, list[dict]]]  # config -> query -> ranked passages (see `_kept`)
    run_id: int | None

    def as_json(self) -> dict:
        return self.report.as_json()

    def record(self) -> dict:
        """The run as it is saved (and as `reopen` gives it back): the Evaluate page draws either."""
        return run_record(self.set_name, self.report, self.configs, self.rankings)


def resolve(rt: Runtime, kb: KnowledgeBase, spec: ConfigSpec) -> RunConfig:
    """Every setting of `spec` decided: the instruction from `instruction=`, `preset=NAME` (built-in or
    saved, `NAME@V` for an earlier version) or the knowledge base's default; recall from the settings."""
    s = rt.settings
    instruction = None
    if spec.rerank:
        instruction = spec.instruction or (preset_text(rt, kb, spec.preset) if spec.preset else None)
        instruction = instruction or default_instruction(rt, kb.name)[1]
    return RunConfig(
        name=spec.name,
        spec=spec.spec,
        rerank=spec.rerank,
        instruction=instruction,
        recall_mode=spec.recall_mode or s.recall_mode,
        recall_k=spec.recall_k or s.recall_k,
        top_n=spec.top_n,
    )


def preset_text(rt: Runtime, kb: KnowledgeBase, name: str) -> str:
    base, _, version = name.partition("@")
    if version:
        for v in records.versions(rt.catalog, kb):
            if v.name == base.strip() and str(v.version) == version.strip():
                return v.instruction
        raise InvalidInput(f"Preset {base.strip()!r} has no version {version.strip()!r}; see the Evaluate page.")
    for preset in available(rt, kb.name):
        if preset.name == name.strip():
            return preset.instruction
    raise InvalidInput(f"No preset named {name!r}: use a built-in or a saved preset's name, or instruction=TEXT.")


def compare_configs(
    rt: Runtime,
    kb_name: str,
    set_name: str,
    specs: Sequence[ConfigSpec],
    *,
    queries: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    save: bool = True,
) -> Comparison:
    """Rank the set's labelled queries (or `queries` of them) under each spec; the first is the baseline.

    Raises EvaluationCancelled when `cancel` is set, InvalidInput for an unknown set or preset, or a set
    without any positive label.
    """
    access.require(rt, kb_name, access.VIEWER, "evaluate on it")
    if len(specs) < 1:
        raise InvalidInput("Give at least one configuration (two to compare).")
    kb = rt.open_kb(kb_name)
    records.require_set(rt.catalog, kb, set_name)
    labels = records.labels(rt.catalog, kb, set_name)
    configs = _distinct_names([resolve(rt, kb, spec) for spec in specs])
    asked = sorted({lb.query for lb in labels if lb.grade > 0}) if queries is None else list(queries)
    if not asked:
        raise InvalidInput(f"Query set {set_name!r} has no label with grade 1 or 2: label a relevant passage first.")
    ranked = rank_all(
        asked,
        configs,
        lambda query, mode, k: recall(rt, kb, query, k, mode),
        rt.reranker.score_many,
        progress=progress,
        cancel=cancel,
    )
    runs = {c.name: runs_from_rankings(_chunks(ranked[c.name]), labels) for c in configs}
    qrels = {q: grades for q, grades in qrels_from_labels(labels).items() if q in set(asked)}
    report = compare_runs(qrels, runs, configs[0].name, configs[0].recall_k, specs={c.name: c.spec for c in configs})
    by_query = _labels_by_query(labels)
    kept = {c.name: {q: _kept(hits, by_query.get(q, [])) for q, hits in ranked[c.name].items()} for c in configs}
    run_id = None
    if save:
        run_id = records.save_run(rt.catalog, kb, set_name, run_record(set_name, report, configs, kept))
        _record_figures(rt, kb, set_name, report, configs)
    return Comparison(set_name, report, configs, kept, run_id)


def saved_runs(rt: Runtime, kb_name: str) -> list[records.RunSummary]:
    access.require(rt, kb_name, access.VIEWER, "see its evaluation runs")
    return records.runs(rt.catalog, rt.catalog.get_kb(kb_name))


def reopen(rt: Runtime, kb_name: str, run_id: int) -> dict:
    """A saved run as it was stored: `report` (the JSON contract), `configs`, `per_query`, `rankings`."""
    access.require(rt, kb_name, access.VIEWER, "see its evaluation runs")
    return records.run_report(rt.catalog, rt.catalog.get_kb(kb_name), run_id)


def against_saved(current: dict, saved_id: int, saved: dict, saved_config: str) -> dict:
    """A configuration of a saved run against the baseline of `current` (both run records, see
    `run_record`), on the queries both measured: a `comparisons` entry of the JSON contract, plus `queries`."""
    baseline = current["configs"][0]["name"]
    now, then = current["per_query"][baseline], saved["per_query"][saved_config]
    shared = sorted(set(now) & set(then))
    if not shared:
        raise InvalidInput("The saved run measured none of the current run's queries.")
    result = compare(_restricted(baseline, now, shared), _restricted(f"run {saved_id}: {saved_config}", then, shared))
    return {**result.as_json(), "queries": len(shared)}


def _restricted(name: str, per_query: dict[str, dict[str, float]], queries: list[str]) -> ConfigMetrics:
    rows = {q: per_query[q] for q in queries}
    mean = {m: sum(r[m] for r in rows.values()) / len(rows) for m in METRICS}
    ci = {m: bootstrap_ci([r[m] for r in rows.values()]) for m in METRICS}
    return ConfigMetrics(name, name, rows, mean, ci)


def run_record(set_name: str, report: CompareReport, configs: list[RunConfig], kept: dict) -> dict:
    return {
        "set": set_name,
        "report": report.as_json(),
        "configs": [
            {"name": c.name, "spec": c.spec, "rerank": c.rerank, "instruction": c.instruction,
             "recall_mode": c.recall_mode, "recall_k": c.recall_k, "top_n": c.top_n}
            for c in configs
        ],
        "per_query": {m.name: m.per_query for m in report.configs},
        "per_query_delta": {c.config: c.per_query_delta for c in report.comparisons},
        "rankings": kept,
    }


def _record_figures(rt: Runtime, kb: KnowledgeBase, set_name: str, report: CompareReport, configs) -> None:
    for config, metrics in zip(configs, report.configs, strict=True):
        if config.instruction:
            figures = {m: round(v, 4) for m, v in metrics.mean.items()}
            figures.update(queries=len(metrics.per_query), at=time.time())
            records.record_figures(rt.catalog, kb, config.instruction, set_name, figures)


def _distinct_names(configs: list[RunConfig]) -> list[RunConfig]:
    """Configurations named by their spec; a repeated spec gets '#2', '#3' so each keeps its own column."""
    seen: dict[str, int] = {}
    out = []
    for c in configs:
        seen[c.name] = seen.get(c.name, 0) + 1
        out.append(c if seen[c.name] == 1 else RunConfig(**{**vars(c), "name": f"{c.name} #{seen[c.name]}"}))
    return out


def _chunks(ranked: dict[str, list[Hit]]):
    return {q: [h.chunk for h in hits] for q, hits in ranked.items()}


def _labels_by_query(labels: list[Label]) -> dict[str, list[Label]]:
    out: dict[str, list[Label]] = {}
    for label in labels:
        out.setdefault(label.query, []).append(label)
    return out


def _kept(hits: list[Hit], labels: list[Label]) -> list[dict]:
    """The first KEPT_RANKS hits as plain data, each with the best grade among the labels it overlaps."""
    out = []
    for hit in hits[:KEPT_RANKS]:
        grades = [lb.grade for lb in relevant_labels(hit.chunk, labels)]
        out.append({
            "rank": hit.rank,
            "doc": hit.chunk.doc_name,
            "page": hit.chunk.page,
            "score": round(hit.score, 4),
            "grade": max(grades) if grades else None,
            "text": hit.chunk.text[:KEPT_TEXT_CHARS],
        })
    return out

