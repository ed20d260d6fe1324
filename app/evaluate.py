"""Measure retrieval on a BEIR-format collection: `kb eval DIR` and scripts/eval_table.py call this.

The corpus is ingested like any upload (each entry one document, chunked), into a temporary
knowledge base in a temporary data dir, so the user's own data is never touched. Chunk hits are
mapped back to documents by each document's best chunk. Metrics come from ranx.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.catalog import KnowledgeBase
from app.errors import InvalidInput
from app.recall import recall
from app.runtime import Runtime
from app.search import rerank_hits

METHODS = ("dense", "bm25", "hybrid", "rerank")
METRICS = ("ndcg@10", "recall@100", "mrr@10")
# Chunks are recalled deeper than the documents scored, since one document can fill several places.
CHUNKS_PER_DOC = 2


@dataclass(frozen=True)
class BeirCollection:
    corpus: dict[str, str]  # id -> "title\n\ntext"
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @classmethod
    def load(cls, folder: Path) -> BeirCollection:
        folder = Path(folder)
        missing = [n for n in ("corpus.jsonl", "queries.jsonl", "qrels.tsv") if not (folder / n).exists()]
        if missing:
            raise InvalidInput(f"{folder} is not a BEIR folder: missing {', '.join(missing)}.")
        corpus = {}
        for row in _jsonl(folder / "corpus.jsonl"):
            title, text = (row.get("title") or "").strip(), (row.get("text") or "").strip()
            corpus[str(row["_id"])] = f"{title}\n\n{text}" if title else text
        qrels: dict[str, dict[str, int]] = {}
        with open(folder / "qrels.tsv", encoding="utf-8") as f:
            next(f)  # header: query-id, corpus-id, score
            for line in f:
                qid, did, score = line.rstrip("\n").split("\t")[:3]
                qrels.setdefault(qid, {})[did] = int(float(score))
        queries = {str(r["_id"]): r["text"] for r in _jsonl(folder / "queries.jsonl") if str(r["_id"]) in qrels}
        return cls(corpus, queries, qrels)


@dataclass(frozen=True)
class EvalReport:
    method: str
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    queries: int
    seconds: float  # querying only (the corpus ingest is `ingest_seconds`)
    ingest_seconds: float = 0.0

    @property
    def queries_per_s(self) -> float:
        return self.queries / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict:
        return {
            "ndcg@10": round(self.ndcg_at_10, 4),
            "recall@100": round(self.recall_at_100, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "queries": self.queries,
            "method": self.method,
            "seconds": round(self.seconds, 3),
        }


def evaluate(
    rt: Runtime,
    folder: Path,
    methods: Sequence[str] = ("hybrid",),
    k: int = 100,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[EvalReport]:
    """Ingest the collection once into a throw-away store, then score every method on it.

    Args:
        rt: supplies settings, the embedder and the reranker; its data dir and store are not used.
        methods: any of METHODS; `rerank` reranks the hybrid candidates.
        k: documents scored per query (Recall@k needs k >= 100).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InvalidInput(f"Unknown method {unknown[0]!r}; use one of: {', '.join(METHODS)}.")
    progress = progress or (lambda stage, done, total: None)
    with ingested(rt, folder, progress, reranker="rerank" in methods) as corpus:
        return [_score(corpus, method, k, progress) for method in methods]


@dataclass(frozen=True)
class IngestedCollection:
    """A collection ingested into a scratch knowledge base (see `ingested`)."""

    rt: Runtime  # the scratch runtime: its store and BM25 index hold only this collection
    kb: KnowledgeBase
    collection: BeirCollection
    twins: dict[str, list[str]]  # stored document name -> corpus ids with the same text
    ingest_seconds: float


@contextmanager
def ingested(
    rt: Runtime, folder: Path, progress: Callable[[str, int, int], None] | None = None, reranker: bool = False
) -> Iterator[IngestedCollection]:
    """Ingest a BEIR folder through the real pipeline into a temporary data dir, removed on exit.

    Args:
        rt: supplies settings (chunking included) and the loaded embedder; its data dir and store are not used.
        reranker: share `rt`'s reranker too (building it loads the model).
    """
    progress = progress or (lambda stage, done, total: None)
    collection = BeirCollection.load(folder)
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        settings = dataclasses.replace(rt.settings, data_dir=Path(tmp), chroma_host="")
        scratch = Runtime(settings, embedder=rt.embedder, reranker=rt.reranker if reranker else None)
        started = time.perf_counter()
        twins = _ingest_corpus(scratch, collection, progress)
        ingest_s = time.perf_counter() - started
        yield IngestedCollection(scratch, scratch.open_kb("eval"), collection, twins, ingest_s)


def _ingest_corpus(rt: Runtime, collection: BeirCollection, progress) -> dict[str, list[str]]:
    """Returns, for each stored document name, the corpus ids with the same text.

    Identical texts are one document in a knowledge base (ids are content hashes); a hit on it
    counts for each of its twins, as it would for an exact-duplicate search engine.
    """
    from ingest.pipeline import ingest_many

    kb = rt.open_or_create_kb("eval")
    twins: dict[str, list[str]] = {}
    first_name: dict[str, str] = {}
    files = []
    for doc_id, text in collection.corpus.items():
        if not text.strip():  # nothing to index (cranfield has one): no method can find it, it stays in qrels
            continue
        data = text.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        name = first_name.setdefault(digest, f"{doc_id}.txt")
        twins.setdefault(name, []).append(doc_id)
        if name == f"{doc_id}.txt":
            files.append((name, data))
    batch = 256
    for start in range(0, len(files), batch):
        progress("ingest", start, len(files))
        for outcome in ingest_many(rt, kb, files[start : start + batch]):
            if not outcome.ok:
                raise InvalidInput(f"corpus document {outcome.name} failed to ingest: {outcome.message}")
    progress("ingest", len(files), len(files))
    return twins


def _score(corpus: IngestedCollection, method: str, k: int, progress) -> EvalReport:
    from ranx import Qrels, Run, evaluate

    rt, kb, collection = corpus.rt, corpus.kb, corpus.collection
    run: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    for n, (qid, query) in enumerate(collection.queries.items()):
        if n % 50 == 0:
            progress(method, n, len(collection.queries))
        mode = "hybrid" if method == "rerank" else method
        candidates = recall(rt, kb, query, k * CHUNKS_PER_DOC, mode)
        chunks = [c.chunk for c in candidates]
        if method == "rerank":
            scores = rt.reranker.score(query, [c.text for c in chunks], None)
            chunks = [h.chunk for h in rerank_hits(candidates, scores)]
        run[qid] = documents_ranked([c.doc_name for c in chunks], corpus.twins, k)
    seconds = time.perf_counter() - started
    progress(method, len(collection.queries), len(collection.queries))

    qrels = {q: docs for q, docs in collection.qrels.items() if q in run}
    # ranx refuses a run without any document for a query: give such queries an impossible one.
    run = {q: (docs or {"__none__": 0.0}) for q, docs in run.items()}
    scores = evaluate(Qrels(qrels), Run(run), list(METRICS), make_comparable=True)
    return EvalReport(
        method=method,
        ndcg_at_10=float(scores["ndcg@10"]),
        recall_at_100=float(scores["recall@100"]),
        mrr_at_10=float(scores["mrr@10"]),
        queries=len(run),
        seconds=seconds,
        ingest_seconds=corpus.ingest_seconds,
    )


def documents_ranked(doc_names: Sequence[str], twins: dict[str, list[str]], k: int) -> dict[str, float]:
    """Corpus ids scored by the rank of their best chunk (higher is better), the top k, from the stored
    document name of each ranked chunk, best first."""
    ranked: dict[str, float] = {}
    for name in doc_names:
        for doc in twins.get(name, []):
            if doc not in ranked:
                ranked[doc] = float(len(doc_names) - len(ranked))
        if len(ranked) >= k:
            break
    return ranked


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
