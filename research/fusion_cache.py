"""Capture, once per collection, every ranked list the fusion experiments need (docs/EVAL.md, "Issue 17").

Each collection is ingested once through the real pipeline (`app.evaluate.ingested`: chunking, the configured
embedder, Chroma, the BM25 index). Per query it records, as (chunk index, score) arrays `DEPTH` deep:

- `dense`: `VectorStore.query_ids` of the query's embedding, and `bm25`: `LexicalIndex.search` of the query;
- `prf`: the expanded query's BM25 list as `app.recall.recall` built it with the fixed weights before issue 17
  (first round max a0.5 with the CJK dense weight, 3 feedback chunks, `app.recall.expanded_query`,
  `search_terms`); empty for CJK;
- `recall`: the chunk ids `app.recall.recall(..., 200, "hybrid")` returns (the product at capture time), to
  check an offline replay (the first `REPLAY` queries only, to save the shared CPU);
- stress signals: `dense_half` (the dense list of the query's first half of words, or characters for a CJK
  query) and `dense_noise` (the query embedding plus Gaussian noise of norm ~`NOISE`, renormalized, seeded
  per query): dense lists deliberately made weaker;
- `pseudo`: for `PSEUDO_DOCS` sampled documents, label-free pseudo-queries made from the document itself (its
  first line cut to 16 words, and 8 consecutive words from a random chunk) with their dense and BM25 lists 100
  deep: the knowledge base's own statistics a variant may use.

Also the chunk texts, chunk -> document, twins and qrels. The BM25 index directory is copied beside the pickle so
that an expanded query for another first round can be searched later with the app's own `LexicalIndex` (the
scratch knowledge base itself is removed on exit). Output: `--out`/NAME.pkl and `--out`/NAME-bm25/ (default
/tmp/kb-fusion-cache, never the repository). `research/fusion_loo.py` reads them.

Usage:
    .venv/bin/python research/fusion_cache.py                     # the five collections of ../shared/eval
    .venv/bin/python research/fusion_cache.py cisi --out /tmp/x
"""

from __future__ import annotations

import argparse
import pickle
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion_lab import CHUNKS, COLLECTIONS, DENSE_WEIGHT, dense_weight, half_query  # noqa: E402

from app.config import load_settings  # noqa: E402
from app.evaluate import ingested  # noqa: E402
from app.fusion import convex_combination  # noqa: E402
from app.recall import FUSION_DEPTH, FUSION_NORM, expanded_query, is_cjk_query, recall  # noqa: E402
from app.runtime import Runtime  # noqa: E402

EVAL_DIR = ROOT.parent / "shared" / "eval"
DEPTH = CHUNKS * FUSION_DEPTH  # what hybrid recall then reads from each list
NOISE = 1.0
PSEUDO_DOCS = 200
REPLAY = 150
PSEUDO_DEPTH = 100


def noisy(vec: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    moved = vec + rng.normal(0.0, NOISE / np.sqrt(len(vec)), len(vec)).astype(np.float32)
    return moved / np.linalg.norm(moved)


def pseudo_queries(texts_by_doc: dict[str, list[str]], seed: int) -> list[tuple[str, str, str]]:
    """(document name, kind, text) for `PSEUDO_DOCS` sampled documents: 'first' (the first line, at most 16
    words) and 'span' (8 consecutive words from one of its chunks)."""
    rng = random.Random(seed)
    names = sorted(texts_by_doc)
    out = []
    for name in rng.sample(names, min(PSEUDO_DOCS, len(names))):
        chunks = texts_by_doc[name]
        first = chunks[0].strip().split("\n")[0]
        words = first.split()
        out.append((name, "first", " ".join(words[:16]) if len(words) > 1 else first[:32]))
        words = rng.choice(chunks).split()
        start = rng.randrange(max(1, len(words) - 8))
        span = " ".join(words[start : start + 8])
        if len(words) <= 1:  # unspaced text (Chinese): 16 consecutive characters
            text = rng.choice(chunks)
            start = rng.randrange(max(1, len(text) - 16))
            span = text[start : start + 16]
        out.append((name, "span", span))
    return out


def capture(rt: Runtime, folder: Path, out: Path) -> None:
    name = folder.name
    t0 = time.perf_counter()
    with ingested(rt, folder) as c:
        print(f"# {name}: ingested in {c.ingest_seconds:.0f} s", flush=True)
        store, kb, lex = c.rt.store, c.kb, c.rt.lexical(c.kb)
        chunks = list(store.iter_chunks(kb))
        index = {ch.chunk_id: i for i, ch in enumerate(chunks)}

        def arr(scored):
            ids = np.fromiter((index[cid] for cid, _ in scored), dtype=np.int32, count=len(scored))
            return ids, np.fromiter((s for _, s in scored), dtype=np.float64, count=len(scored))

        runs = {}
        for n, (qid, query) in enumerate(c.collection.queries.items()):
            vec = rt.embedder.encode_query(query)
            dense = store.query_ids(kb, vec, DEPTH)
            bm25 = lex.search(query, DEPTH)
            prf: list = []
            w = dense_weight(query, c.rt.settings.cjk_dense_weight)
            fused = convex_combination([dense, bm25], [w, 1 - DENSE_WEIGHT], FUSION_NORM)
            if c.rt.settings.prf_docs > 0 and not is_cjk_query(query):
                feedback = store.get(kb, [cid for cid, _ in fused[: c.rt.settings.prf_docs]])
                terms = expanded_query(lex, query, feedback, dict(fused[: c.rt.settings.prf_docs]))
                prf = lex.search_terms(terms, DEPTH)
            # The product's own recall on the first queries, to check that the offline replay matches it.
            product = [index[x.chunk.chunk_id] for x in recall(c.rt, kb, query, CHUNKS, "hybrid")] if n < REPLAY else []
            half = half_query(query)
            runs[qid] = {
                "dense": arr(dense),
                "bm25": arr(bm25),
                "prf": arr(prf),
                "recall": np.asarray(product, dtype=np.int32),
                "dense_half": arr(store.query_ids(kb, rt.embedder.encode_query(half), DEPTH)),
                "dense_noise": arr(store.query_ids(kb, noisy(vec, n), DEPTH)),
                "half": half,
            }
            if n % 200 == 0:
                print(f"  {name} {n}/{len(c.collection.queries)} queries, {time.perf_counter() - t0:.0f} s", flush=True)
        texts_by_doc: dict[str, list[str]] = {}
        for ch in sorted(chunks, key=lambda ch: (ch.doc_name, ch.position)):
            texts_by_doc.setdefault(ch.doc_name, []).append(ch.text)
        pseudo = []
        for doc, kind, text in pseudo_queries(texts_by_doc, seed=len(chunks)):
            pseudo.append({
                "doc": doc, "kind": kind, "text": text,
                "dense": arr(store.query_ids(kb, rt.embedder.encode_query(text), PSEUDO_DEPTH)),
                "bm25": arr(lex.search(text, PSEUDO_DEPTH)),
            })
        data = {
            "name": name,
            "chunk_ids": [ch.chunk_id for ch in chunks],
            "chunk_doc": [ch.doc_name for ch in chunks],
            "chunk_text": [ch.text for ch in chunks],
            "twins": c.twins,
            "qrels": c.collection.qrels,
            "queries": c.collection.queries,
            "runs": runs,
            "pseudo": pseudo,
            "settings": {k: getattr(c.rt.settings, k) for k in ("chunk_tokens", "chunk_overlap", "cjk_dense_weight",
                                                                 "prf_docs", "embed_model")},
            "ingest_s": c.ingest_seconds,
            "depth": DEPTH,
        }
        bm25_copy = out / f"{name}-bm25"
        shutil.rmtree(bm25_copy, ignore_errors=True)
        shutil.copytree(lex.dir, bm25_copy)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}.pkl", "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"# {name}: {len(chunks)} chunks, {len(runs)} queries, {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("collections", nargs="*", default=list(COLLECTIONS))
    p.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="folder of BEIR collections")
    p.add_argument("--out", type=Path, default=Path("/tmp/kb-fusion-cache"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rt = Runtime(load_settings())
    for name in args.collections:
        capture(rt, args.eval_dir / name, args.out)


if __name__ == "__main__":
    main()
