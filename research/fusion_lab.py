"""Offline replay of hybrid recall on the lists `research/fusion_cache.py` captured (helpers, no CLI).

`fuse` is `app.fusion.convex_combination` (norm "max") on numpy arrays, same scores and the same tie order
(first appearance), so a variant is scored in a fraction of a second per collection; `replay_today` checks it
against the product's own `recall` output that the cache holds. Documents are ranked by their best chunk among
the top `CHUNKS` fused chunks (`app.evaluate.documents_ranked`) and scored by ranx, as `kb eval` does.
"""

from __future__ import annotations

import pickle
import sys
from functools import cached_property
from pathlib import Path

import numpy as np
from ranx import Qrels, Run, evaluate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.evaluate import CHUNKS_PER_DOC, documents_ranked  # noqa: E402
from app.lexical import LexicalIndex  # noqa: E402
from app.models import Chunk  # noqa: E402
from app.recall import expanded_query, is_cjk_query  # noqa: E402

# The first round these experiments were measured on: the fixed weights hybrid recall had before issue 17
# (dense 0.5, BM25 0.5; dense x KB_CJK_DENSE_WEIGHT for a mostly-CJK query).
DENSE_WEIGHT = 0.5


def dense_weight(query: str, cjk_dense_weight: float) -> float:
    return DENSE_WEIGHT * (cjk_dense_weight if is_cjk_query(query) else 1.0)


def half_query(query: str) -> str:
    """The query's first half of words (at least one), or of characters for a mostly-CJK query."""
    if is_cjk_query(query):
        return query[: max(1, len(query) // 2)]
    words = query.split()
    return " ".join(words[: max(1, len(words) // 2)])


CACHE = Path("/tmp/kb-fusion-cache")
COLLECTIONS = ("nfcorpus", "cranfield", "cisi", "xquadr-en", "xquadr-zh-dev")
K_DOCS = 100
CHUNKS = K_DOCS * CHUNKS_PER_DOC
METRICS = ["ndcg@10", "recall@100"]
EMPTY = (np.zeros(0, np.int32), np.zeros(0))


def fuse(lists, weights) -> tuple[np.ndarray, np.ndarray]:
    """`convex_combination(lists, weights, "max")` on (ids, scores) arrays; ids are unique within a list."""
    ids, vals = [], []
    for (i, s), w in zip(lists, weights, strict=True):
        if len(i):
            ids.append(i)
            vals.append(w * (s / max(float(s.max()), 1e-9)))
    if not ids:
        return EMPTY
    ids, vals = np.concatenate(ids), np.concatenate(vals)
    uniq, first, inv = np.unique(ids, return_index=True, return_inverse=True)
    total = np.bincount(inv, weights=vals)
    order = np.lexsort((first, -total))
    return uniq[order], total[order]


class Collection:
    """One cached collection: its lists per query, the chunk texts, qrels; the BM25 index copy on demand."""

    def __init__(self, name: str, cache: Path = CACHE):
        with open(cache / f"{name}.pkl", "rb") as f:
            self.data = pickle.load(f)
        self.name, self.cache = name, cache
        self.queries: dict[str, str] = self.data["queries"]
        self.runs: dict[str, dict] = self.data["runs"]
        self.qids = list(self.runs)
        self.chunk_doc = self.data["chunk_doc"]
        self.labels = {q: d for q, d in self.data["qrels"].items() if q in self.runs and d}
        self.qrels = Qrels(self.labels)

    @cached_property
    def lexical(self) -> LexicalIndex:
        return LexicalIndex(self.cache / f"{self.name}-bm25")

    @cached_property
    def index_of(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.data["chunk_ids"])}

    def search_terms(
        self, terms: dict[str, float], depth: int, lexical: LexicalIndex | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`terms` searched on `lexical` (default: the collection's BM25 index copy), as chunk indices and scores."""
        hits = (lexical or self.lexical).search_terms(terms, depth)
        return (np.asarray([self.index_of[c] for c, _ in hits], dtype=np.int32),
                np.asarray([s for _, s in hits], dtype=np.float64))

    def expanded(
        self, query: str, top_ids: np.ndarray, top_scores: np.ndarray, depth: int, lexical: LexicalIndex | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The expanded query's BM25 list for this feedback (chunk indices and first-round scores), built by
        `app.recall.expanded_query` on `lexical` (default: the index copy), as `app.recall.recall` does."""
        lexical = lexical or self.lexical
        ids = self.data["chunk_ids"]
        chunks = [Chunk(chunk_id=ids[i], doc_id="", doc_name=self.chunk_doc[i], position=0,
                        text=self.data["chunk_text"][i]) for i in top_ids]
        scores = {ids[i]: float(s) for i, s in zip(top_ids, top_scores, strict=True)}
        return self.search_terms(expanded_query(lexical, query, chunks, scores), depth, lexical)

    def run(self, fused: dict[str, np.ndarray]) -> Run:
        """Documents by their best chunk among the top CHUNKS chunk indices of each query."""
        return Run({
            q: documents_ranked([self.chunk_doc[i] for i in ids[:CHUNKS]], self.data["twins"], K_DOCS)
            or {"__none__": 0.0}
            for q, ids in fused.items()
        })

    def per_query(self, fused: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
        """(nDCG@10, Recall@100) of each query of `fused` that has labels; their mean is `score`'s figure."""
        labelled = {q: self.labels[q] for q in fused if q in self.labels}
        if not labelled:
            return {}
        run = self.run({q: fused[q] for q in labelled})
        evaluate(Qrels(labelled), run, METRICS, make_comparable=True)
        return {q: (float(run.scores["ndcg@10"][q]), float(run.scores["recall@100"][q])) for q in labelled}

    def score(self, fused: dict[str, np.ndarray], per_query: bool = False):
        run = self.run(fused)
        if per_query:  # metric -> values in self.qids order
            evaluate(self.qrels, run, METRICS, make_comparable=True)
            return {m: np.asarray([run.scores[m].get(q, 0.0) for q in self.qids]) for m in METRICS}
        got = evaluate(self.qrels, run, METRICS, make_comparable=True)
        return float(got["ndcg@10"]), float(got["recall@100"])


def title_index(c: Collection, folder: Path, eval_dir: Path) -> LexicalIndex:
    """A BM25 index of the same chunk ids whose text is only their document's first line (the corpus entry's
    title where it has one): a deliberately weaker BM25 over the same knowledge base, built with the app's index."""
    import shutil

    from app.evaluate import BeirCollection

    corpus = BeirCollection.load(eval_dir / c.name).corpus
    shutil.rmtree(folder, ignore_errors=True)
    index = LexicalIndex(folder)
    by_doc: dict[str, list[str]] = {}
    for cid, doc in zip(c.data["chunk_ids"], c.chunk_doc, strict=True):
        by_doc.setdefault(doc, []).append(cid)
    docs = []
    for doc, cids in by_doc.items():
        title = corpus[doc.removesuffix(".txt")].strip().split("\n")[0]
        docs.append((doc, cids, [title] * len(cids)))
    index.add_many(docs)
    return index
