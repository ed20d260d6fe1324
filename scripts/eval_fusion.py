"""Fusion experiments at chunk level, with the project's own chunking in the loop.

Each collection is ingested once through the real pipeline (app.evaluate.ingested: chunking, the bundled
embedder, Chroma, the BM25 index) at a given KB_CHUNK_TOKENS. Per query, the dense and the BM25 chunk lists
are read `DEPTH` deep with their scores and saved under /tmp/kb-fusion-cache (an experiment cache; the
official numbers come from scripts/eval_table.py, which caches nothing). Every fusion variant is then scored
offline on the same lists, the way `kb eval` scores: fuse chunks, keep the top `CHUNKS` chunks, rank
documents by their best chunk, nDCG@10 and Recall@100 by ranx.

`--tokenizers` instead compares the CJK tokenizers for BM25 on xquadr-zh-dev at document level (each corpus
entry one document, bm25s built in memory), the measurement quoted in app/lexical/tokenize.py.

Usage:
    .venv/bin/python scripts/eval_fusion.py                              # all collections, chunk size 200
    .venv/bin/python scripts/eval_fusion.py --chunk-tokens 256 cisi nfcorpus
    .venv/bin/python scripts/eval_fusion.py --tokenizers
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import time
from pathlib import Path

import bm25s
import numpy as np
from ranx import Qrels, Run, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import load_settings  # noqa: E402
from app.evaluate import CHUNKS_PER_DOC, BeirCollection, documents_ranked, ingested  # noqa: E402
from app.fusion import convex_combination, reciprocal_rank_fusion  # noqa: E402
from app.lexical.tokenize import CJK_METHODS, tokenize  # noqa: E402
from app.recall import is_cjk_query  # noqa: E402
from app.runtime import Runtime  # noqa: E402

EVAL_DIR = Path("/work/shared/eval")
COLLECTIONS = ("nfcorpus", "cranfield", "cisi", "xquadr-en", "xquadr-zh-dev")
CACHE = Path("/tmp/kb-fusion-cache")
DEPTH = 800  # chunks read from each list: the most any variant below uses
K_DOCS = 100
METRICS = ["ndcg@10", "recall@100"]


def capture(name: str, chunk_tokens: int) -> dict:
    """Dense and BM25 chunk lists with scores for every query of one collection (cached)."""
    path = CACHE / f"{name}-{chunk_tokens}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    rt = Runtime(dataclasses.replace(load_settings(), chunk_tokens=chunk_tokens))
    t0 = time.perf_counter()
    with ingested(rt, EVAL_DIR / name) as c:
        ingest_s = time.perf_counter() - t0
        queries = c.collection.queries
        qids = list(queries)
        vectors = rt.embedder.encode_documents([queries[q] for q in qids])  # MiniLM has no query prompt
        lexical = c.rt.lexical(c.kb)
        runs = {}
        for qid, vec in zip(qids, vectors, strict=True):
            dense = [(ch.chunk_id, s) for ch, s in c.rt.store.query(c.kb, vec, DEPTH)]
            runs[qid] = (dense, lexical.search(queries[qid], DEPTH))
        chunk_doc = {ch.chunk_id: ch.doc_name for ch in c.rt.store.iter_chunks(c.kb)}
        data = {"runs": runs, "chunk_doc": chunk_doc, "twins": c.twins, "qrels": c.collection.qrels,
                "queries": queries, "ingest_s": ingest_s}
    CACHE.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(data))
    return data


def doc_run(data: dict, fused_chunks: dict[str, list[str]]) -> Run:
    """Documents by best chunk, as `kb eval` ranks them."""
    run = {}
    for qid, chunk_ids in fused_chunks.items():
        names = [data["chunk_doc"][cid] for cid in chunk_ids]
        run[qid] = documents_ranked(names, data["twins"], K_DOCS) or {"__none__": 0.0}
    return Run(run)


def variants(cjk_weights: tuple[float, ...]):
    """label -> function(query, dense, bm25) -> ranked chunk ids (before the CHUNKS cut)."""
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
                    c for c, _ in reciprocal_rank_fusion(
                        [[c for c, _ in d[:depth]], [c for c, _ in b[:depth]]], k=k, weights=w(q))
                ]
        for norm, alphas in (("min-max", (0.3, 0.4, 0.5)), ("zmuv", (0.4, 0.5)), ("max", (0.2, 0.3, 0.4, 0.5))):
            for alpha in alphas:
                for depth in (200, 400, 800):

                    def cc(q, d, b, norm=norm, alpha=alpha, depth=depth, w=w):
                        dw, bw = w(q)
                        return [c for c, _ in convex_combination(
                            [d[:depth], b[:depth]], [alpha * dw, (1 - alpha) * bw], norm=norm)]

                    out[f"cc {norm} a{alpha} d{depth}{tag}"] = cc
    return out


def compare_tokenizers() -> None:
    c = BeirCollection.load(EVAL_DIR / "xquadr-zh-dev")
    ids = list(c.corpus)
    print(f"xquadr-zh-dev: {len(ids)} docs, {len(c.queries)} queries; BM25 document level")
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
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--chunks", type=int, nargs="+", default=[100 * CHUNKS_PER_DOC],
                        help="fused chunks mapped to documents (kb eval: k * CHUNKS_PER_DOC)")
    parser.add_argument("--filter", default="", help="only variants whose label contains this")
    parser.add_argument("--tokenizers", action="store_true", help="compare CJK tokenizers on xquadr-zh-dev")
    args = parser.parse_args()
    if args.tokenizers:
        compare_tokenizers()
        return
    for name in args.collections:
        t0 = time.perf_counter()
        data = capture(name, args.chunk_tokens)
        print(f"# {name} chunk_tokens={args.chunk_tokens} chunks={len(data['chunk_doc'])} "
              f"ingest {data['ingest_s']:.0f} s (loaded in {time.perf_counter() - t0:.0f} s)", flush=True)
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
