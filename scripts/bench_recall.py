"""Recall benchmark on a generated corpus: build time, query latency, memory, incremental add.

The corpus is random English-like text: pseudo-words from a fixed vocabulary drawn with a Zipf distribution,
~150 words a chunk, fixed seed, so runs are comparable. Each retriever gets one `bench_*` function that takes
the same corpus and queries and returns a dict of numbers; `main()` prints them. Dense and hybrid recall
plug in as further `bench_*` functions and `--only` choices.

Usage:
    .venv/bin/python scripts/bench_recall.py                 # 100,000 chunks
    .venv/bin/python scripts/bench_recall.py --chunks 20000  # quicker
"""

from __future__ import annotations

import argparse
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

SEED = 1234
VOCAB_SIZE = 5_000
CHUNK_WORDS = (120, 180)
DOC_CHUNKS = 40  # a 20-page document
N_QUERIES = 200


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
    """BM25: bulk build (log + merge into a bm25s base), reopen mmap, 200 queries, add one document."""
    t0 = time.perf_counter()
    LexicalIndex(workdir / "bm25").add_many(corpus.docs)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ix = LexicalIndex(workdir / "bm25")  # a fresh process-like instance: loads the base memory-mapped
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
    t0 = time.perf_counter()
    ix.merge()
    merge_s = time.perf_counter() - t0
    disk = sum(f.stat().st_size for f in (workdir / "bm25").rglob("*") if f.is_file())
    return {
        "chunks": len(ix),
        "build_s": build_s,
        "open_s": open_s,
        "query_p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "query_p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "query_p50_ms_with_delta": 1000 * float(np.percentile(after_add, 50)),
        "add_40_chunk_doc_s": add_s,
        "merge_s": merge_s,
        "index_memory_mib": ix.memory_bytes() / 2**20,
        "disk_mib": disk / 2**20,
        "process_peak_rss_mib": rss_mib(),
    }


BENCHES = {"lexical": bench_lexical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these retrievers")
    args = parser.parse_args()
    t0 = time.perf_counter()
    corpus = make_corpus(args.chunks)
    print(f"corpus: {corpus.n_chunks} chunks in {len(corpus.docs)} documents, {len(corpus.queries)} queries "
          f"(generated in {time.perf_counter() - t0:.1f} s)")
    workdir = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        for name in args.only or BENCHES:
            for key, value in BENCHES[name](corpus, workdir).items():
                shown = f"{value:10.2f}" if isinstance(value, float) else f"{value:10d}"
                print(f"{name:8s} {key:26s} {shown}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
