"""Recall benchmark on a generated corpus: build time, query latency, memory, incremental add.

The corpus is random English-like text: pseudo-words from a fixed vocabulary drawn with a Zipf distribution,
~150 words a chunk, fixed seed, so runs are comparable. Each `bench_*` function takes the same corpus and
queries and returns a dict of numbers; `main()` prints them.

- `lexical`: the BM25 index alone.
- `recall`: the product path, app.recall.recall() in each mode on a knowledge base on disk (catalog, Chroma,
  BM25 index). To build 100,000 chunks quickly their vectors are random unit vectors (384-d) written straight
  into the store and the index through their APIs, instead of embedding them; queries are embedded by the
  real model. Then one 20-page PDF is added through ingest_bytes (parse, chunk, embed, store, index).

Usage:
    .venv/bin/python scripts/bench_recall.py                          # 100,000 chunks, both benches
    .venv/bin/python scripts/bench_recall.py --chunks 20000 --only recall
    .venv/bin/python scripts/bench_recall.py --json docs/benchmarks/recall_cpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.lexical import LexicalIndex  # noqa: E402
from app.models import Chunk  # noqa: E402

SEED = 1234
VOCAB_SIZE = 5_000
CHUNK_WORDS = (120, 180)
DOC_CHUNKS = 40  # a 20-page document
N_QUERIES = 200
NOTES = (
    "recall: app.recall.recall(k=50, KB_RECALL_K's default) on a knowledge base on disk (SQLite catalog, "
    "embedded Chroma, BM25 index); the 100,000 chunks' vectors are random 384-d unit vectors written "
    "straight into the store and the index (not embedded); queries are embedded by the real MiniLM "
    "(queries_embedded_by: onnx or torch, KB_EMBED_BACKEND); "
    "hybrid reads 200 chunks from each list, with pseudo-relevance feedback as configured (KB_PRF_DOCS), "
    "hybrid_no_feedback with KB_PRF_DOCS=0. add_20_page_pdf_s: ingest_bytes of a generated 20-page PDF "
    "(parse, chunk, embed, store, index) into that knowledge base. The machine is shared: see load_avg."
)


@dataclass(frozen=True)
class Corpus:
    """Chunks grouped into documents of DOC_CHUNKS chunks, plus one extra document to add at the end."""

    docs: list[tuple[str, list[str], list[str]]]  # (doc_id, chunk_ids, texts)
    extra_doc: tuple[str, list[str], list[str]]
    queries: list[str]

    @property
    def n_chunks(self) -> int:
        return sum(len(ids) for _, ids, _ in self.docs)


def make_vocabulary(rng: np.random.Generator) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["ing", "er", "ed", "ion", "al"]
    words: set[str] = set()
    while len(words) < VOCAB_SIZE:
        words.add("".join(rng.choice(syllables, size=rng.integers(1, 4))))
    return sorted(words)


def make_corpus(n_chunks: int, seed: int = SEED) -> Corpus:
    rng = np.random.default_rng(seed)
    vocab = np.array(make_vocabulary(rng))
    p = 1 / np.arange(1, VOCAB_SIZE + 1) ** 1.07
    p /= p.sum()
    rng.shuffle(vocab)  # frequency rank independent of spelling

    # All words drawn at once: per-chunk draws with `p` recompute the distribution each time (slow).
    lengths = rng.integers(*CHUNK_WORDS, size=n_chunks + DOC_CHUNKS)
    words = rng.choice(vocab, size=int(lengths.sum()), p=p)
    chunks = iter(" ".join(ws) for ws in np.split(words, np.cumsum(lengths)[:-1]))

    def document(name: str, n: int) -> tuple[str, list[str], list[str]]:
        return name, [f"{name}:{i}" for i in range(n)], [next(chunks) for _ in range(n)]

    docs = [document(f"doc{d}", min(DOC_CHUNKS, n_chunks - d * DOC_CHUNKS)) for d in range(-(-n_chunks // DOC_CHUNKS))]
    # Queries: 2-5 words, skipping the 50 most frequent (stopword-like) words.
    queries = [" ".join(rng.choice(vocab[50:], size=rng.integers(2, 6))) for _ in range(N_QUERIES)]
    return Corpus(docs, document("extra", DOC_CHUNKS), queries)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_lexical(corpus: Corpus, workdir: Path, k: int = 50) -> dict[str, float]:
    """BM25: bulk build (one add_many), reopen, 200 queries, add one document."""
    t0 = time.perf_counter()
    LexicalIndex(workdir / "bm25").add_many(corpus.docs)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ix = LexicalIndex(workdir / "bm25")  # a fresh process-like instance: opens the index memory-mapped
    ix.search("warm up", k)
    open_s = time.perf_counter() - t0
    latencies = []
    for q in corpus.queries:
        t0 = time.perf_counter()
        ix.search(q, k)
        latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    ix.add(*corpus.extra_doc)
    add_s = time.perf_counter() - t0
    after_add = []
    for q in corpus.queries[:50]:
        t0 = time.perf_counter()
        ix.search(q, k)
        after_add.append(time.perf_counter() - t0)
    disk = sum(f.stat().st_size for f in (workdir / "bm25").rglob("*") if f.is_file())
    return {
        "chunks": len(ix),
        "build_s": build_s,
        "open_s": open_s,
        "query_p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "query_p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "query_p50_ms_after_add": 1000 * float(np.percentile(after_add, 50)),
        "add_40_chunk_doc_s": add_s,
        "disk_mib": disk / 2**20,
        "process_peak_rss_mib": rss_mib(),
    }


def bench_recall(corpus: Corpus, workdir: Path, k: int = 50) -> dict[str, float | str]:
    """app.recall.recall() per mode on a knowledge base of `corpus`, then ingest_bytes of a 20-page PDF."""
    from app.config import load_settings
    from app.recall import recall
    from app.runtime import Runtime
    from ingest.pipeline import ingest_bytes

    rt = Runtime(load_settings(data_dir=workdir / "kb-data", rerank_backend="off"))
    kb = rt.open_or_create_kb("bench")
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    lexical = rt.lexical(kb)
    for start in range(0, len(corpus.docs), 250):  # 10,000 chunks a batch: bounded memory
        docs = corpus.docs[start : start + 250]
        chunks = [
            Chunk(cid, doc_id, f"{doc_id}.txt", i, text, None, None, 0, len(text))
            for doc_id, ids, texts in docs
            for i, (cid, text) in enumerate(zip(ids, texts, strict=True))
        ]
        vectors = rng.standard_normal((len(chunks), rt.embedder.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for doc_id, _, _ in docs:
            rt.catalog.begin_document(kb, doc_id, f"{doc_id}.txt", 0)
        rt.store.add(kb, chunks, vectors)
        lexical.add_many(docs)
        for doc_id, ids, _ in docs:
            rt.catalog.commit_document(kb, doc_id, None, len(ids), replaces=[])
    build_s = time.perf_counter() - t0

    out: dict[str, float | str] = {"chunks": corpus.n_chunks, "build_s (random vectors)": build_s,
                                   "queries_embedded_by": rt.embedder.backend}
    settings = rt.settings
    # hybrid as configured (pseudo-relevance feedback on with KB_PRF_DOCS' default), then without feedback.
    for label, mode, prf_docs in (
        ("dense", "dense", settings.prf_docs),
        ("bm25", "bm25", settings.prf_docs),
        ("hybrid", "hybrid", settings.prf_docs),
        ("hybrid_no_feedback", "hybrid", 0),
    ):
        rt.settings = dataclasses.replace(settings, prf_docs=prf_docs)
        recall(rt, kb, "warm up", k, mode)
        latencies = []
        for q in corpus.queries:
            t0 = time.perf_counter()
            recall(rt, kb, q, k, mode)
            latencies.append(time.perf_counter() - t0)
        out[f"{label}_p50_ms"] = 1000 * float(np.percentile(latencies, 50))
        out[f"{label}_p95_ms"] = 1000 * float(np.percentile(latencies, 95))
    rt.settings = settings

    pdf = twenty_page_pdf(corpus)
    t0 = time.perf_counter()
    outcome = ingest_bytes(rt, kb, "added.pdf", pdf)
    out["add_20_page_pdf_s"] = time.perf_counter() - t0
    if not outcome.ok:
        raise RuntimeError(outcome.summary())
    out["added_pdf_chunks"] = outcome.chunks
    out["process_peak_rss_mib"] = rss_mib()
    return out


def twenty_page_pdf(corpus: Corpus) -> bytes:
    """A 20-page PDF of the extra document's text (two chunks' worth of words a page)."""
    from fpdf import FPDF

    _, _, texts = corpus.extra_doc
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for page in range(20):
        pdf.add_page()
        pdf.multi_cell(0, 5, " ".join(texts[2 * page : 2 * page + 2]))
    return bytes(pdf.output())


BENCHES = {"lexical": bench_lexical, "recall": bench_recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these benches")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    corpus = make_corpus(args.chunks)
    print(f"corpus: {corpus.n_chunks} chunks in {len(corpus.docs)} documents, {len(corpus.queries)} queries "
          f"(generated in {time.perf_counter() - t0:.1f} s)")
    workdir = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    # The machine may be shared: the load average is part of the result.
    report = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "load_avg_before": os.getloadavg(), "chunks_requested": args.chunks, "notes": NOTES}
    try:
        for name in args.only or BENCHES:
            report[name] = BENCHES[name](corpus, workdir)
            for key, value in report[name].items():
                shown = f"{value:10.2f}" if isinstance(value, float) else f"{value:>10}"
                print(f"{name:8s} {key:28s} {shown}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["load_avg_after"] = os.getloadavg()
    print(f"load average before {report['load_avg_before']}, after {report['load_avg_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
