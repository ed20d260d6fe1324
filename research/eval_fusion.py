"""Fusion experiments at chunk level, with the project's own chunking in the loop (docs/EVAL.md, "What was tried").

Each collection is ingested once through the real pipeline (`app.evaluate.ingested`: chunking, the configured
embedder, Chroma, the BM25 index) at a given KB_CHUNK_TOKENS. Per query, the dense and the BM25 chunk lists are
read `DEPTH` deep with their scores, and every fusion variant is scored on the same lists the way `kb eval`
scores: fuse chunks, keep the top `--chunks` chunks, rank documents by their best chunk, nDCG@10 and Recall@100
by ranx. Nothing is cached: each run ingests again. The official numbers come from scripts/eval_table.py.

The product ships one fusion (`app.fusion.convex_combination`, norm "max"); the alternatives it was measured
against (reciprocal rank fusion, min-max and z-score normalization) live here, as `rrf` and `convex`.

`--tokenizers` instead compares the CJK tokenizers for BM25 on xquadr-zh-dev at document level (each corpus
entry one document, bm25s built in memory), the measurement quoted in app/lexical/tokenize.py.

Usage:
    .venv/bin/python research/eval_fusion.py                              # all collections, chunk size 200
    .venv/bin/python research/eval_fusion.py --chunk-tokens 256 cisi nfcorpus
    .venv/bin/python research/eval_fusion.py --tokenizers
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
from ranx import Qrels, Run, evaluate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.evaluate import CHUNKS_PER_DOC, BeirCollection, documents_ranked, ingested  # noqa: E402
from app.fusion import convex_combination  # noqa: E402
from app.lexical.tokenize import CJK_METHODS, tokenize  # noqa: E402
from app.recall import is_cjk_query  # noqa: E402
from app.runtime import Runtime  # noqa: E402

EVAL_DIR = ROOT.parent / "shared" / "eval"
COLLECTIONS = ("nfcorpus", "cranfield", "cisi", "xquadr-en", "xquadr-zh-dev")
DEPTH = 800  # chunks read from each list: the most any variant below uses
K_DOCS = 100
METRICS = ["ndcg@10", "recall@100"]


def rrf(rankings: Sequence[Sequence[str]], k: int, weights: Sequence[float]) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion (Cormack et al., SIGIR 2009): sum of weight / (k + rank), rank from 1.
    A repeated id counts at its first position; ties keep first-appearance order."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item not in seen:
                seen.add(item)
                scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def convex(scored: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float], norm: str):
    """Convex combination as ranx's `fuse(method="wsum", norm=...)`: "max" is the product's
    (`app.fusion.convex_combination`); "min-max" and "zmuv" are the normalizations it was measured against."""
    if norm == "max":
        return convex_combination(scored, weights, norm)
    fused: dict[str, float] = {}
    for items, weight in zip(scored, weights, strict=True):
        first: dict[str, float] = {}
        for item, score in items:
            first.setdefault(item, score)
        values = list(first.values())
        if not values:
            continue
        if norm == "min-max":
            low, high = min(values), max(values)
            normalized = [(s - low) / max(high - low, 1e-9) for s in values]
        else:  # zmuv
            mean = sum(values) / len(values)
            std = (sum((s - mean) ** 2 for s in values) / len(values)) ** 0.5
            normalized = [(s - mean) / max(std, 1e-9) for s in values]
        for item, value in zip(first, normalized, strict=True):
            fused[item] = fused.get(item, 0.0) + weight * value
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def capture(folder: Path, chunk_tokens: int) -> dict:
    """Dense and BM25 chunk lists with scores for every query of one collection."""
    rt = Runtime(dataclasses.replace(load_settings(), chunk_tokens=chunk_tokens))
    with ingested(rt, folder) as c:
        queries = c.collection.queries
        lexical = c.rt.lexical(c.kb)
        runs = {}
        for qid, query in queries.items():
            dense = c.rt.store.query_ids(c.kb, rt.embedder.encode_query(query), DEPTH)
            runs[qid] = (dense, lexical.search(query, DEPTH))
        chunk_doc = {ch.chunk_id: ch.doc_name for ch in c.rt.store.iter_chunks(c.kb)}
        return {"runs": runs, "chunk_doc": chunk_doc, "twins": c.twins, "qrels": c.collection.qrels,
                "queries": queries, "ingest_s": c.ingest_seconds}


def doc_run(data: dict, fused_chunks: dict[str, list[str]]) -> Run:
    """Documents by best chunk, as `kb eval` ranks them."""
    run = {}
    for qid, chunk_ids in fused_chunks.items():
        names = [data["chunk_doc"][cid] for cid in chunk_ids]
        run[qid] = documents_ranked(names, data["twins"], K_DOCS) or {"__none__": 0.0}
    return Run(run)


def variants(cjk_weights: tuple[float, ...]):
    """label -> function(query, dense, bm25) -> ranked chunk ids (before the --chunks cut)."""
    out = {
        "dense": lambda q, d, b: [c for c, _ in d],
        "bm25": lambda q, d, b: [c for c, _ in b],
    }
    for cw in cjk_weights:
        tag = "" if cw == 1.0 else f" cjk{cw}"

        def w(q, cw=cw):
            return (cw, 1.0) if is_cjk_query(q) else (1.0, 1.0)

        for k in (60, 20):
            for depth in (200, 400, 800):
                out[f"rrf k{k} d{depth}{tag}"] = lambda q, d, b, k=k, depth=depth, w=w: [
                    c for c, _ in rrf([[c for c, _ in d[:depth]], [c for c, _ in b[:depth]]], k, w(q))
                ]
        for norm, alphas in (("min-max", (0.3, 0.4, 0.5)), ("zmuv", (0.4, 0.5)), ("max", (0.2, 0.3, 0.4, 0.5))):
            for alpha in alphas:
                for depth in (200, 400, 800):

                    def cc(q, d, b, norm=norm, alpha=alpha, depth=depth, w=w):
                        dw, bw = w(q)
                        return [c for c, _ in convex([d[:depth], b[:depth]], [alpha * dw, (1 - alpha) * bw], norm)]

                    out[f"cc {norm} a{alpha} d{depth}{tag}"] = cc
    return out


def compare_tokenizers(folder: Path) -> None:
    c = BeirCollection.load(folder)
    ids = list(c.corpus)
    print(f"{folder.name}: {len(ids)} docs, {len(c.queries)} queries; BM25 document level")
    for cjk in CJK_METHODS:
        t0 = time.perf_counter()
        model = bm25s.BM25()
        model.index([tokenize(c.corpus[d], cjk) for d in ids], show_progress=False)
        run = {}
        for qid, query in c.queries.items():
            tokens = [t for t in tokenize(query, cjk) if t in model.vocab_dict]
            scores = model.get_scores(tokens) if tokens else np.zeros(len(ids))
            top = [i for i in np.argsort(-scores, kind="stable")[:K_DOCS] if scores[i] > 0]
            run[qid] = {ids[i]: float(scores[i]) for i in top} or {"__none__": 0.0}
        m = evaluate(Qrels(c.qrels), Run(run), METRICS, make_comparable=True)
        took = time.perf_counter() - t0
        print(f"  {cjk:7s} nDCG@10 {m['ndcg@10']:.3f}  Recall@100 {m['recall@100']:.3f}  ({took:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="*", default=list(COLLECTIONS))
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="folder of BEIR collections")
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--chunks", type=int, nargs="+", default=[100 * CHUNKS_PER_DOC],
                        help="fused chunks mapped to documents (kb eval: k * CHUNKS_PER_DOC)")
    parser.add_argument("--filter", default="", help="only variants whose label contains this")
    parser.add_argument("--tokenizers", action="store_true", help="compare CJK tokenizers on xquadr-zh-dev")
    args = parser.parse_args()
    if args.tokenizers:
        compare_tokenizers(args.eval_dir / "xquadr-zh-dev")
        return
    for name in args.collections:
        data = capture(args.eval_dir / name, args.chunk_tokens)
        print(f"# {name} chunk_tokens={args.chunk_tokens} chunks={len(data['chunk_doc'])} "
              f"ingest {data['ingest_s']:.0f} s", flush=True)
        qrels = Qrels(data["qrels"])
        cjk = (1.0, 0.0, 0.05, 0.1, 0.3) if any(is_cjk_query(q) for q in data["queries"].values()) else (1.0,)
        for label, fn in variants(cjk).items():
            if args.filter not in label:
                continue
            fused = {q: fn(data["queries"][q], d, b) for q, (d, b) in data["runs"].items()}
            for n in args.chunks:
                m = evaluate(qrels, doc_run(data, {q: c[:n] for q, c in fused.items()}), METRICS,
                             make_comparable=True)
                print(f"{name:14s} {args.chunk_tokens:4d} {label:28s} c{n:<4d} "
                      f"{m['ndcg@10']:.4f} {m['recall@100']:.4f}", flush=True)


if __name__ == "__main__":
    main()
