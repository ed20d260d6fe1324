"""Per-query hybrid weights chosen by leave-one-collection-out (docs/EVAL.md, "Weights per query", issue 17).

Reads the lists `research/fusion_cache.py` captured (default cache dir /tmp/kb-fusion-cache) and replays hybrid
recall offline with the product's own functions: `app.fusion.list_signals` and `app.fusion.hybrid_weights` give
each query's (dense, BM25, feedback) weights under a `WeightRule`, `fusion_lab.fuse` is
`app.fusion.convex_combination` on arrays, the feedback list is `app.recall.expanded_query` searched on a copy of
the collection's BM25 index.

Scenarios. Besides each collection as ingested ("normal"), stress variants stand in for collections where one
list is much weaker than the other (like the entity-search collection of issue 17, dense .511 against BM25 .368):

- `bm25half`: BM25 searches only the query's first half of words (characters for CJK); the coverage signal is
  still measured against the whole query's idf mass, i.e. half the query's terms match nothing;
- `densehalf`: the dense list of the query's first half;
- `bm25title`: BM25 over an index of each document's first line only (cranfield, cisi, nfcorpus);
- `nocjk`: xquadr-zh-dev without the CJK dense odds (an embedder that does not know the language).

Leave-one-collection-out: for each of the five collections, a coordinate descent over `SPACE` on the other four
collections' scenarios, normal and stress, then the held-out collection's scenarios are reported. The rule is a
trust region (`WeightRule`'s bands): a query whose signals are inside both bands gets exactly the fixed weights
used before issue 17 (so bias and feedback share are held at theirs, `FROZEN`), slopes act on the distance
outside; the descent starts from wide bands (`START`, on the eval collections almost the fixed weights) and moves
band edges, slopes and the feedback gate; then, from that rule, the knowledge-base term (`KB_TERM`: each query sees
the median coverage of the scenario's queries before it, as `app.query_history` keeps them for recall).
`--kb-term-only` starts from the shipped rule (`app.recall.RULE`) and descends the knowledge-base term alone.
The objective (`Lab.objective`, `Lab.better`): first the shortfall, the sum over the normal training collections
of every loss of more than `--margin` (0.001) against the fixed weights
("no worse than today" is a constraint, never traded against gains elsewhere); then J, per scenario the gain over
the best single list (nDCG@10 plus Recall@100) minus 10 x any shortfall below best - 0.005, a normal collection
weighing as much as its stress variants together. `ALL` is the descent on all five: the product's per-query rule
(`app.recall.RULE`) is `ALL` on the cache it was chosen on (a fresh ingest's descent lands on other rules,
docs/EVAL.md), its knowledge-base term `--kb-term-only`'s `ALL`.

The feedback list of each query is expanded from an equal-weight first round (dense 0.5 / BM25 0.5, max), as
`app.recall.recall` does (`FEEDBACK_ROUND`), so it is searched once per query and scenario (memoised in the
cache dir). The cache must come from the current `fusion_cache.py` (tantivy's BM25 index). Run one at a time per
cache: each run rebuilds the `bm25title` indexes there, and two runs at once read each other's half-built index.

Usage:
    .venv/bin/python research/fusion_loo.py                      # every fold, normal and stress scenarios
    .venv/bin/python research/fusion_loo.py --margin 0.002 --freeze     # nothing frozen: bias, share move too
    .venv/bin/python research/fusion_loo.py --kb-term-only             # how the shipped KB term was chosen
    .venv/bin/python research/fusion_loo.py --cache /tmp/x --collections tiny --kinds normal bm25half
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fusion_lab import CACHE, COLLECTIONS, EMPTY, Collection, fuse, half_query, title_index  # noqa: E402

from app.fusion import WeightRule, hybrid_weights, list_signals  # noqa: E402
from app.query_history import KEPT, median_coverage  # noqa: E402
from app.recall import FEEDBACK_ROUND, RULE, is_cjk_query  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
KINDS = ("normal", "bm25half", "densehalf", "bm25title", "nocjk")
TITLED = ("nfcorpus", "cranfield", "cisi")  # collections whose documents start with a title line (bm25title)
# The weights before issue 17 as a rule: dense 0.5 (odds 1), feedback 0.6 of BM25's 0.5, never gated.
FIXED = WeightRule(bias=0.0, coverage=0.0, dense_top=0.0, feedback_share=0.6, feedback_min_coverage=0.0)
# Where the descent starts: the fixed weights for every query whose signals are inside wide bands (a trust
# region), slopes that act only outside them. On the eval collections almost every query is inside, so this
# is the fixed weights; a slope of 0 or bands that close on a point are reachable from here, one step each.
WIDEST_COVERAGE, WIDEST_DENSE_TOP = (0.06, 100.0), (0.3, 1.0)
# The knowledge-base term starts off (slope 0) with its edge at the lowest value of SPACE, where it would touch
# the fewest knowledge bases.
START = dataclasses.replace(FIXED, coverage=-2.0, dense_top=2.0, coverage_band=WIDEST_COVERAGE,
                            dense_top_band=WIDEST_DENSE_TOP, kb_coverage_low=0.3)
# Coverage in tantivy's units (a query's best chunk holding every query term once: about 1).
# Band edges come first: from START, a slope first set to 0 would leave no band edge anything to move.
SPACE = {
    "coverage_low": [0.06, 0.12, 0.18, 0.24, 0.36, 0.48],
    "coverage_high": [0.48, 0.8, 1.2, 2.0, 100.0],
    "dense_top_low": [0.3, 0.4, 0.45, 0.5, 0.55, 0.65],
    "dense_top_high": [0.65, 0.75, 0.85, 0.95, 1.0],
    "coverage": [0, -0.5, -1, -1.5, -2, -3],
    "dense_top": [0, 2, 4, 6, 8],
    "bias": [round(x, 1) for x in np.arange(-1.2, 1.21, 0.2)],
    "feedback_share": [0.0, 0.2, 0.4, 0.6, 0.8],
    "feedback_min_coverage": [0.0, 0.12, 0.24, 0.36, 0.48],
    "kb_coverage_low": [0.3, 0.36, 0.42, 0.48, 0.56, 0.64],
    "kb_coverage": [0, -2, -4, -8, -16, -32],
}
# The knowledge-base term (the median coverage of its queries so far), chosen after the per-query rule.
KB_TERM = ("kb_coverage_low", "kb_coverage")
# Held at START's (the fixed weights') values by default, so that inside the bands a query gets today's weights.
FROZEN = ("bias", "feedback_share")
BAND_EDGES = {"coverage_low": ("coverage_band", 0), "coverage_high": ("coverage_band", 1),
              "dense_top_low": ("dense_top_band", 0), "dense_top_high": ("dense_top_band", 1)}


def with_setting(rule: WeightRule, name: str, value: float) -> WeightRule:
    """`rule` with one coordinate of `SPACE` set: a field, or one edge of a band."""
    if name not in BAND_EDGES:
        return dataclasses.replace(rule, **{name: value})
    field, edge = BAND_EDGES[name]
    band = list(getattr(rule, field))
    band[edge] = value
    return dataclasses.replace(rule, **{field: tuple(band)})
FEEDBACK_DOCS = 3  # KB_PRF_DOCS's default
CJK_SHARE = 0.05 / 1.05  # KB_CJK_DENSE_WEIGHT's default 0.05 x 0.5 against BM25's 0.5


class Scenario:
    """One collection under one kind: per query the dense and BM25 lists, the signals, and feedback lists."""

    def __init__(self, c: Collection, kind: str, eval_dir: Path):
        self.c, self.kind = c, kind
        self.label = c.name if kind == "normal" else f"{c.name}/{kind}"
        self.lex = title_index(c, c.cache / f"{c.name}-bm25title", eval_dir) if kind == "bm25title" else c.lexical
        self.memo_path = c.cache / f"feedback-{self.label.replace('/', '-')}.pkl"
        self.memo: dict = pickle.loads(self.memo_path.read_bytes()) if self.memo_path.exists() else {}
        self.D, self.B, self.signals, self.cjk = {}, {}, {}, {}
        history: list[float] = []  # the coverages of the queries before this one, as `app.query_history` keeps them
        for q in c.qids:
            run, query = c.runs[q], c.queries[q]
            self.D[q] = run["dense_half"] if kind == "densehalf" else run["dense"]
            if kind == "bm25half":
                self.B[q] = self.search(Counter(self.lex.analyze(half_query(query))))
            elif kind == "bm25title":
                self.B[q] = self.search(Counter(self.lex.analyze(query)))
            else:
                self.B[q] = run["bm25"]
            terms = self.lex.analyze(query)
            idf = self.lex.idf(terms)
            self.cjk[q] = is_cjk_query(query)
            self.signals[q] = list_signals(_head(self.D[q]), _head(self.B[q]), sum(idf.get(t, 0.0) for t in terms),
                                           median_coverage(history[-KEPT:]))
            if kind == "nocjk" or not self.cjk[q]:  # the queries `app.recall.recall` adds (those with signals)
                history.append(self.signals[q].bm25_coverage)
        self.best = (self.score({q: self.D[q][0] for q in c.qids}), self.score({q: self.B[q][0] for q in c.qids}))

    def search(self, terms) -> tuple[np.ndarray, np.ndarray]:
        return self.c.search_terms(terms, self.c.data["depth"], self.lex)

    def feedback(self, q: str, top_ids: np.ndarray, top_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The expanded query's BM25 list for this first round's top chunks (memoised on disk)."""
        key = (q, tuple(int(i) for i in top_ids), tuple(round(float(s), 9) for s in top_scores))
        if key not in self.memo:
            query = half_query(self.c.queries[q]) if self.kind == "bm25half" else self.c.queries[q]
            self.memo[key] = self.c.expanded(query, top_ids, top_scores, self.c.data["depth"], self.lex)
        return self.memo[key]

    def save(self) -> None:
        self.memo_path.write_bytes(pickle.dumps(self.memo, protocol=pickle.HIGHEST_PROTOCOL))

    def weights(self, q: str, rule: WeightRule) -> tuple[float, float, float]:
        """`app.recall.query_weights` for this scenario: a mostly-CJK query keeps the fixed CJK share (under
        `nocjk`: the rule, as for any query), never feedback."""
        if self.cjk[q] and self.kind != "nocjk":
            return CJK_SHARE, 1 - CJK_SHARE, 0.0
        w_dense, w_bm25, w_feedback = hybrid_weights(self.signals[q], rule)
        return (w_dense, w_bm25 + w_feedback, 0.0) if self.cjk[q] else (w_dense, w_bm25, w_feedback)

    def replay(self, rule: WeightRule, qids: list[str] | None = None) -> dict[str, np.ndarray]:
        """Fused chunk indices per query (of `qids`, default all), as `app.recall.recall` fuses them."""
        fused = {}
        for q in self.c.qids if qids is None else qids:
            D, B = self.D[q], self.B[q]
            w_dense, w_bm25, w_feedback = self.weights(q, rule)
            if w_feedback <= 0:
                fused[q] = fuse([D, B], [w_dense, 1 - w_dense])[0]
                continue
            ids, scores = fuse([D, B], list(FEEDBACK_ROUND))
            P = self.feedback(q, ids[:FEEDBACK_DOCS], scores[:FEEDBACK_DOCS])
            fused[q] = fuse([D, B, P if len(P[0]) else EMPTY], [w_dense, w_bm25, w_feedback])[0]
        return fused

    def score(self, fused: dict[str, np.ndarray]) -> tuple[float, float]:
        return self.c.score(fused)


def _head(ids_scores: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, float]]:
    """A list's first (id, score), all `list_signals` reads of it."""
    return [(int(i), float(v)) for i, v in zip(ids_scores[0][:1], ids_scores[1][:1], strict=True)]


class Lab:
    def __init__(self, scenarios: list[Scenario], margin: float = 0.001):
        self.scenarios, self.margin = scenarios, margin
        self.memo: dict = {}
        self.per_query: dict = {}
        n_stress = Counter(s.c.name for s in scenarios if s.kind != "normal")
        self.weight = {s.label: (max(1, n_stress[s.c.name]) if s.kind == "normal" else 1.0) for s in scenarios}

    def evaluate(self, s: Scenario, rule: WeightRule) -> tuple[float, float]:
        """Mean nDCG@10 and Recall@100 of `rule` on `s`. Per query the metrics are memoised by the weights the
        query got, so a trial only replays the queries whose weights it moved (inside a band: none)."""
        key = (s.label, rule)
        if key not in self.memo:
            weights = {q: tuple(round(w, 12) for w in s.weights(q, rule)) for q in s.c.qids}
            missing = [q for q in s.c.qids if (s.label, q, weights[q]) not in self.per_query]
            if missing:
                got = s.c.per_query(s.replay(rule, missing))
                for q in missing:
                    self.per_query[(s.label, q, weights[q])] = got[q]
            labelled = [q for q in s.c.qids if q in s.c.labels]
            values = np.asarray([self.per_query[(s.label, q, weights[q])] for q in labelled])
            self.memo[key] = (float(values[:, 0].mean()), float(values[:, 1].mean()))
        return self.memo[key]

    def objective(self, train: list[Scenario], rule: WeightRule) -> tuple[float, float]:
        """(shortfall, J) of `rule` on `train`: shortfall sums, over the normal collections, every loss of more
        than `margin` against the fixed weights (0: the rule keeps "no worse than today" on all of them); J is
        the weighted mean gain over the best single list, minus 10 x any shortfall below best - 0.005."""
        total, shortfall = 0.0, 0.0
        for s in train:
            n, r = self.evaluate(s, rule)
            (dn, dr), (bn, br) = s.best
            best_n, best_r = max(dn, bn), max(dr, br)
            total += self.weight[s.label] * (
                (n - best_n) + (r - best_r) - 10 * (max(0, best_n - 0.005 - n) + max(0, best_r - 0.005 - r))
            )
            if s.kind == "normal":
                fn, fr = self.evaluate(s, FIXED)
                shortfall += max(0, fn - self.margin - n) + max(0, fr - self.margin - r)
        return shortfall, total / sum(self.weight[s.label] for s in train)

    @staticmethod
    def better(a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether objective `a` beats `b`: a smaller shortfall first (a constraint, not a trade against gains
        elsewhere), then a larger J."""
        if abs(a[0] - b[0]) > 1e-12:
            return a[0] < b[0]
        return a[1] > b[1] + 1e-9

    def descend(
        self, train: list[Scenario], frozen: tuple[str, ...] = (), sweeps: int = 4, start: WeightRule = START
    ) -> tuple[WeightRule, tuple]:
        """Coordinate descent from `start`, the coordinates named in `frozen` kept at its value: first the
        per-query rule (`SPACE` but `KB_TERM`), then, from that rule, the knowledge-base term alone."""
        rule, best = start, self.objective(train, start)
        for stage in ([n for n in SPACE if n not in KB_TERM], list(KB_TERM)):
            for _ in range(sweeps):
                changed = False
                for name in stage:
                    if name in frozen:
                        continue
                    for v in SPACE[name]:
                        trial = with_setting(rule, name, v)
                        if trial == rule:
                            continue
                        j = self.objective(train, trial)
                        if self.better(j, best):
                            rule, best, changed = trial, j, True
                if not changed:
                    break
        return rule, best


def row(lab: Lab, s: Scenario, rule: WeightRule) -> str:
    (dn, dr), (bn, br) = s.best
    n, r = lab.evaluate(s, rule)
    fn, fr = lab.evaluate(s, FIXED)
    ok = n >= max(dn, bn) - 0.005 and r >= max(dr, br) - 0.005
    return (f"  {s.label:24s} rule {n:.4f} / {r:.4f}   fixed {fn:.4f} / {fr:.4f}   dense {dn:.4f} / {dr:.4f}   "
            f"bm25 {bn:.4f} / {br:.4f}   {'ok' if ok else 'SHORT'}")


def show(rule: WeightRule) -> str:
    return " ".join(f"{k}={v}" for k, v in dataclasses.asdict(rule).items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=CACHE, help="fusion_cache.py's --out")
    p.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="BEIR collections (for bm25title)")
    p.add_argument("--collections", nargs="+", default=list(COLLECTIONS))
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--margin", type=float, default=0.001,
                   help="a normal collection may lose at most this against the fixed weights")
    p.add_argument("--freeze", nargs="*", default=list(FROZEN), choices=list(SPACE),
                   help="coordinates the descent keeps at START's value (default: %(default)s; none if given empty)")
    p.add_argument("--kb-term-only", action="store_true",
                   help="keep the shipped per-query rule (app.recall.RULE) and choose only the knowledge-base term")
    args = p.parse_args()
    started = time.perf_counter()
    scenarios = []
    for name in args.collections:
        c = Collection(name, args.cache)
        cjk = any(is_cjk_query(c.queries[q]) for q in c.qids)
        for kind in args.kinds:
            if (kind == "nocjk" and not cjk) or (kind == "bm25title" and name not in TITLED):
                continue
            scenarios.append(Scenario(c, kind, args.eval_dir))
    lab = Lab(scenarios, args.margin)
    folds = [*args.collections, "ALL"] if len(args.collections) > 1 else ["ALL"]
    for held in folds:
        train = [s for s in scenarios if s.c.name != held]
        if args.kb_term_only:
            start = dataclasses.replace(RULE, kb_coverage=START.kb_coverage, kb_coverage_low=START.kb_coverage_low)
            rule, (shortfall, j) = lab.descend(train, tuple(n for n in SPACE if n not in KB_TERM), start=start)
        else:
            rule, (shortfall, j) = lab.descend(train, tuple(args.freeze))
        seconds = time.perf_counter() - started
        print(f"fold {held}: {show(rule)} shortfall={shortfall:.4f} J={j:.4f} ({seconds:.0f} s)", flush=True)
        for s in scenarios if held == "ALL" else [s for s in scenarios if s.c.name == held]:
            print(row(lab, s, rule), flush=True)
    for s in scenarios:
        s.save()


if __name__ == "__main__":
    main()
