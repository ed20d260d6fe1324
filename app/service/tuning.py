"""Suggest: evaluate a pool of candidate instructions on a query set and report the best, honestly.

The pool is the built-in presets (in the knowledge base's main language and in English), the KB's own
saved versions, and template variants filled with the KB's domain (its most distinctive terms and
document titles). The labelled queries are split with a fixed seed into a tuning part, where every
candidate is ranked, and a held-out part, where the best few are measured against the current default
with confidence intervals and a paired test. `plan` says beforehand how many reranker pairs that takes
and about how long, from the engine's measured throughput.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import islice

from app.errors import InvalidInput
from app.instructions import BUILTIN_PRESETS
from app.runtime import Runtime
from app.service import access, presets
from app.service.evaluation import Comparison, compare_configs
from app.workbench import records
from app.workbench.candidates import candidate_instructions
from app.workbench.domain import distinctive_terms, main_language
from app.workbench.runner import ProgressFn
from app.workbench.specs import ConfigSpec
from app.workbench.split import DEFAULT_SEED, split_queries

FINALISTS = 3
TEMPLATE_VARIANTS = 8
DOMAIN_SAMPLE_CHUNKS = 2000
SIGNIFICANT = 0.05


@dataclass(frozen=True)
class Candidate:
    label: str  # where it comes from: "preset: Legal clauses", "saved: HR v2", "template 3"
    instruction: str

    @property
    def spec(self) -> ConfigSpec:
        return ConfigSpec(instruction=self.instruction, spec=f"instruction={self.instruction}")


@dataclass(frozen=True)
class TunePlan:
    set_name: str
    candidates: list[Candidate]
    default: Candidate  # the knowledge base's current default instruction
    tune_queries: list[str]
    held_out_queries: list[str]
    reranker_pairs: int  # at most this many (query, passage) pairs are scored
    estimated_s: float | None  # from the engine's measured pairs/s; None before it has scored anything
    seed: int

    def as_json(self) -> dict:
        return {
            "set": self.set_name,
            "candidates": len(self.candidates),
            "tune_queries": len(self.tune_queries),
            "held_out_queries": len(self.held_out_queries),
            "reranker_pairs": self.reranker_pairs,
            "estimated_s": None if self.estimated_s is None else round(self.estimated_s, 1),
            "seed": self.seed,
        }


@dataclass(frozen=True)
class TuneResult:
    plan: TunePlan
    tuning: list[tuple[Candidate, float]]  # every candidate with its nDCG@10 on the tuning part, best first
    held_out: Comparison  # the current default (baseline) and the finalists, on the held-out part
    best: Candidate  # the finalist with the largest held-out gain over the default
    beats_default: bool  # that gain is positive and significant (p < SIGNIFICANT)
    verdict: str

    def as_json(self) -> dict:
        return {
            "plan": self.plan.as_json(),
            "tuning": [
                {"label": c.label, "instruction": c.instruction, "ndcg@10": round(v, 4)} for c, v in self.tuning
            ],
            "held_out": self.held_out.as_json(),
            "best": {"label": self.best.label, "instruction": self.best.instruction},
            "beats_default": self.beats_default,
            "verdict": self.verdict,
        }


def plan(rt: Runtime, kb_name: str, set_name: str, *, seed: int = DEFAULT_SEED) -> TunePlan:
    access.require(rt, kb_name, access.VIEWER, "evaluate on it")
    kb = rt.open_kb(kb_name)
    records.require_set(rt.catalog, kb, set_name)
    queries = sorted({lb.query for lb in records.labels(rt.catalog, kb, set_name) if lb.grade > 0})
    if len(queries) < 4:
        raise InvalidInput(
            f"Suggest needs at least 4 queries with a relevant label in {set_name!r} (it has {len(queries)}): "
            "half tune the instructions, half check the winner."
        )
    split = split_queries(queries, seed=seed)
    label, text = presets.default_instruction(rt, kb_name)
    default = Candidate(f"current default: {label}", text)
    pool = candidate_pool(rt, kb_name)
    k = rt.settings.recall_k
    pairs = k * (len(pool) * len(split.tune) + (FINALISTS + 1) * len(split.held_out))
    rate = rt.reranker.pairs_per_second()
    return TunePlan(set_name, pool, default, split.tune, split.held_out, pairs, pairs / rate if rate else None, seed)


def candidate_pool(rt: Runtime, kb_name: str) -> list[Candidate]:
    access.require(rt, kb_name, access.VIEWER, "evaluate on it")
    kb = rt.open_kb(kb_name)
    sample = [c.text for c in islice(rt.store.iter_chunks(kb), DOMAIN_SAMPLE_CHUNKS)]
    language = main_language(sample)
    terms = distinctive_terms(sample)
    titles = [d.name for d in rt.catalog.documents(kb)]
    pool = [
        Candidate(f"preset: {p.name}", p.instruction)
        for p in BUILTIN_PRESETS
        if language == "zh" or not p.name.endswith("(中文)")
    ]
    pool += [Candidate(f"saved: {v.name} v{v.version}", v.instruction) for v in presets.versions(rt, kb_name)]
    languages = ["en"] if language == "en" else ["zh", "en"]
    for lang in languages:
        for i, text in enumerate(candidate_instructions(terms, titles, language=lang, limit=TEMPLATE_VARIANTS), 1):
            pool.append(Candidate(f"template {lang} {i}", text))
    seen: set[str] = set()
    return [c for c in pool if not (c.instruction in seen or seen.add(c.instruction))]


def tune(
    rt: Runtime,
    kb_name: str,
    the_plan: TunePlan,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> TuneResult:
    """Run a plan: rank every candidate on the tuning part, then the best FINALISTS against the default on
    the held-out part (saved as a run). Raises EvaluationCancelled when `cancel` is set."""
    def stage(name: str) -> ProgressFn | None:
        return None if progress is None else (lambda s, done, total: progress(f"{name}: {s}", done, total))

    tuning_round = compare_configs(
        rt, kb_name, the_plan.set_name, [c.spec for c in the_plan.candidates], queries=the_plan.tune_queries,
        progress=stage("tuning"), cancel=cancel, save=False,
    )
    scores = {m.spec: m.mean["ndcg@10"] for m in tuning_round.report.configs}
    ranked = sorted(the_plan.candidates, key=lambda c: -scores[c.spec.spec])
    tuning = [(c, scores[c.spec.spec]) for c in ranked]
    finalists = [c for c in ranked if c.instruction != the_plan.default.instruction][:FINALISTS]
    held_out = compare_configs(
        rt, kb_name, the_plan.set_name, [the_plan.default.spec, *(c.spec for c in finalists)],
        queries=the_plan.held_out_queries, progress=stage("held-out"), cancel=cancel,
    )
    best = max(held_out.report.comparisons, key=lambda c: c.delta["ndcg@10"])
    winner = next(c for c in finalists if c.spec.spec == best.config)
    gain, held = best.delta["ndcg@10"], len(the_plan.held_out_queries)
    beats = gain > 0 and best.p_value < SIGNIFICANT
    if beats:
        verdict = (f"{winner.label} beats the current default significantly on {held} held-out queries: "
                   f"nDCG@10 {gain:+.3f}, p = {best.p_value:.3f}.")
    else:
        verdict = (f"No candidate beats the current default significantly on {held} held-out queries "
                   f"(best: {winner.label}, nDCG@10 {gain:+.3f}, p = {best.p_value:.3f}); keep the default.")
    return TuneResult(the_plan, tuning, held_out, winner, beats, verdict)
