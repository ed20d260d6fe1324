"""Pseudo-relevance feedback experiments for hybrid recall, with the project's own chunking in the loop
(docs/EVAL.md, "Pseudo-relevance feedback").

Each collection is ingested once through the real pipeline (`app.evaluate.ingested`: chunking, the configured
embedder, Chroma, the BM25 index). Per query, the first round is the hybrid recall of `app.recall` without
feedback (dense and BM25 read 800 chunks deep, max-normalized convex combination, dense weight 0.5, CJK queries
scaled by KB_CJK_DENSE_WEIGHT). The top `m` fused chunks are the feedback: the BM25 query is expanded by RM3
(`app.feedback.rm3_terms`, the index's own analyzer) and the query embedding moved by Rocchio (`rocchio` below;
the feedback chunks are embedded again by the configured embedder, which gives the vectors that were stored).
Both second-round lists are read from the real Chroma collection and BM25 index and fused as in the first round;
documents are ranked by their best chunk among the top 200 chunks and scored by ranx, as `kb eval` does. The
official numbers come from scripts/eval_table.py.

Variant labels: `m5 T10 l0.5 b1.0 i1` = 5 feedback chunks, 10 expansion terms, original-query weight 0.5 (1 or
T0: no BM25 expansion), Rocchio beta 1.0 (0: dense list unchanged), expansion terms chosen by P(t|R) (i0, the
default) or by P(t|R) x idf (i1, the product's). (The `i2` rows of docs/EVAL.md, terms also weighted by
P(t|R) x idf, came from an earlier version of this script; that variant was not kept.) `--gamma`: the second
round's share when it is fused together with the first round's lists (1: second round only).

Usage:
    .venv/bin/python research/eval_prf.py cranfield
    .venv/bin/python research/eval_prf.py cranfield --m 3 5 --terms 10 20 --lam 0.5 0.7 --beta 0 1
    .venv/bin/python research/eval_prf.py nfcorpus cisi --variants "m5 T10 l0.5 b1.0" "m5 T0 l1 b0"
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from ranx import Qrels, Run, evaluate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion_lab import DENSE_WEIGHT, dense_weight  # noqa: E402

from app.config import load_settings  # noqa: E402
from app.evaluate import CHUNKS_PER_DOC, documents_ranked, ingested  # noqa: E402
from app.feedback import rm3_terms  # noqa: E402
from app.fusion import convex_combination  # noqa: E402
from app.recall import FUSION_DEPTH, FUSION_NORM  # noqa: E402
from app.runtime import Runtime  # noqa: E402

EVAL_DIR = ROOT.parent / "shared" / "eval"
K_DOCS = 100
CHUNKS = K_DOCS * CHUNKS_PER_DOC
DEPTH = CHUNKS * FUSION_DEPTH
METRICS = ["ndcg@10", "recall@100"]


def parse(label: str) -> tuple[int, int, float, float, int]:
    """(m, terms, lam, beta, idf mode) of a label such as 'm5 T10 l0.5 b1.0 i1'."""
    m, t, lam, beta, *rest = label.split()
    idf_mode = int(rest[0][1:]) if rest else 0
    if idf_mode not in (0, 1):
        raise SystemExit(f"{label!r}: the idf mode is i0 or i1 (i2 is no longer measured: see the docstring)")
    return int(m[1:]), int(t[1:]), float(lam[1:]), float(beta[1:]), idf_mode


def rocchio(query: np.ndarray, feedback: np.ndarray, beta: float) -> np.ndarray:
    """The unit vector of `query` + `beta` x mean(`feedback` rows): Rocchio (1971) on embeddings."""
    moved = query + beta * feedback.mean(axis=0)
    return moved / np.linalg.norm(moved)


def run_collection(folder: Path, labels: list[str], gammas: list[float]) -> None:
    name = folder.name
    rt = Runtime(load_settings())
    t0 = time.perf_counter()
    with ingested(rt, folder) as c:
        print(f"# {name}: ingested in {time.perf_counter() - t0:.0f} s", flush=True)
        text, doc_of = {}, {}
        for chunk in c.rt.store.iter_chunks(c.kb):
            text[chunk.chunk_id], doc_of[chunk.chunk_id] = chunk.text, chunk.doc_name
        emb: dict[str, np.ndarray] = {}  # feedback chunks' embeddings, computed when first needed
        lex = c.rt.lexical(c.kb)
        tokens: dict[str, list[str]] = {}
        queries = c.collection.queries
        qrels = Qrels(c.collection.qrels)
        first = {}
        for qid, q in queries.items():
            vec = rt.embedder.encode_query(q)
            first[qid] = (vec, c.rt.store.query_ids(c.kb, vec, DEPTH), lex.search(q, DEPTH))
        print(f"# {name}: {len(text)} chunks, {len(queries)} queries", flush=True)
        idf = {}
        if any(parse(x)[4] for x in labels):
            tokens = {cid: lex.analyze(t) for cid, t in text.items()}
            idf = lex.idf({t for ts in tokens.values() for t in ts})

        for label in labels:
            m, n_terms, lam, beta, idf_mode = parse(label)
            started = time.perf_counter()
            lists = {}
            for qid, q in queries.items():
                vec, dense, bm25 = first[qid]
                w = dense_weight(q, c.rt.settings.cjk_dense_weight)
                fused = convex_combination([dense, bm25], [w, 1 - DENSE_WEIGHT], FUSION_NORM)
                fb = fused[:m] if m else []
                dense2, bm25_2 = dense, bm25
                if fb and beta > 0:
                    missing = [cid for cid, _ in fb if cid not in emb]
                    if missing:
                        emb.update(zip(missing, rt.embedder.encode_documents([text[cid] for cid in missing]),
                                       strict=True))
                    moved = rocchio(vec, np.stack([emb[cid] for cid, _ in fb]), beta)
                    dense2 = c.rt.store.query_ids(c.kb, moved, DEPTH)
                if fb and n_terms and lam < 1:
                    for cid, _ in fb:
                        if cid not in tokens:
                            tokens[cid] = lex.analyze(text[cid])
                    fbt = [(tokens[cid], s) for cid, s in fb]
                    terms = rm3_terms(lex.analyze(q), fbt, n_terms, lam, idf=idf if idf_mode else None)
                    bm25_2 = lex.search_terms(terms, DEPTH)
                lists[qid] = (w, dense, bm25, dense2, bm25_2)
            took = time.perf_counter() - started
            for gamma in gammas:
                fused_runs = {}
                for qid, (w, dense, bm25, dense2, bm25_2) in lists.items():
                    # gamma = share of the second round: (1 - gamma) x fused first round + gamma x fused second
                    weights = [(1 - gamma) * w, (1 - gamma) * (1 - DENSE_WEIGHT), gamma * w, gamma * (1 - DENSE_WEIGHT)]
                    fused = convex_combination([dense, bm25, dense2, bm25_2], weights, FUSION_NORM)
                    fused_runs[qid] = [cid for cid, _ in fused[:CHUNKS]]
                run = Run({
                    qid: documents_ranked([doc_of[cid] for cid in ids], c.twins, K_DOCS) or {"__none__": 0.0}
                    for qid, ids in fused_runs.items()
                })
                s = evaluate(qrels, run, METRICS, make_comparable=True)
                print(f"{name:14s} {label:22s} g{gamma:<4} {s['ndcg@10']:.4f} {s['recall@100']:.4f}  "
                      f"({1000 * took / len(queries):.1f} ms/query)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("collections", nargs="+")
    p.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="folder of BEIR collections")
    p.add_argument("--variants", nargs="*", default=[], help="labels such as 'm5 T10 l0.5 b1.0'")
    p.add_argument("--m", type=int, nargs="+", default=[3, 5, 10])
    p.add_argument("--terms", type=int, nargs="+", default=[10, 20])
    p.add_argument("--lam", type=float, nargs="+", default=[0.5, 0.7])
    p.add_argument("--beta", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--gamma", type=float, nargs="+", default=[1.0],
                   help="share of the second round in the final fusion (1: second round only)")
    args = p.parse_args()
    labels = args.variants or ["m0 T0 l1 b0"] + [
        f"m{m} T{t} l{lam} b{b}" for m, t, lam, b in itertools.product(args.m, args.terms, args.lam, args.beta)
    ]
    for label in labels:
        parse(label)  # refuse a bad label before the ingest
    for name in args.collections:
        run_collection(args.eval_dir / name, labels, args.gamma)


if __name__ == "__main__":
    main()
