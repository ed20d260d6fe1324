"""Ingest throughput on generated PDFs beside the embedder's raw encode rate, measured in the same run.

    python scripts/bench_ingest.py [--pages 100] [--pages-per-file 10] [--json-out FILE]

Prints pages/s and chunks/s of the whole pipeline (parse, chunk, embed, store in Chroma and BM25)
and the rate at which the same embedder encodes the same chunk texts alone (medians of three
alternating rounds); the pipeline should keep at least 80% of it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROUNDS = 3
WORDS = (
    "policy employee annual leave request manager approval salary payment invoice contract clause "
    "termination notice period benefit insurance health travel expense report budget quarter review "
    "safety procedure equipment training record audit compliance data privacy customer service "
    "product warranty return shipping delivery order system access password network server backup"
).split()


def make_page_text(rng: random.Random, words: int = 330) -> str:
    sentences, count = [], 0
    while count < words:
        n = rng.randint(8, 22)
        sentence = " ".join(rng.choice(WORDS) for _ in range(n))
        sentences.append(sentence.capitalize() + ".")
        count += n
    # paragraphs of about five sentences
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 5, text)
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--pages-per-file", type=int, default=10)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KB_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["KB_RERANK_BACKEND"] = "off"
        from app.runtime import Runtime
        from ingest.pipeline import ingest_bytes

        files = []
        for f in range(0, args.pages, args.pages_per_file):
            n = min(args.pages_per_file, args.pages - f)
            files.append((f"doc{f // args.pages_per_file:03d}.pdf", make_pdf([make_page_text(rng) for _ in range(n)])))

        rt = Runtime()
        rt.embedder.encode_documents(["warm up"])  # model load is not ingest time

        def pipeline(round_: int) -> tuple[float, int, int]:
            kb = rt.open_or_create_kb(f"bench{round_}")
            rt.lexical(kb)
            started = time.perf_counter()
            outcomes = [ingest_bytes(rt, kb, name, data) for name, data in files]
            seconds = time.perf_counter() - started
            failed = [o for o in outcomes if not o.ok]
            if failed:
                raise SystemExit(f"ingest failed: {failed[0].summary()}")
            return seconds, sum(o.pages or 0 for o in outcomes), sum(o.chunks for o in outcomes)

        def raw(texts: list[str]) -> float:
            started = time.perf_counter()
            for i in range(0, len(texts), 256):  # the pipeline's embedding batch
                rt.embedder.encode_documents(texts[i : i + 256])
            return time.perf_counter() - started

        # Alternate the two so that a busy moment on a shared machine does not favour either.
        pipeline_runs, raw_runs = [], []
        for round_ in range(ROUNDS):
            pipeline_s, pages, chunks = pipeline(round_)
            pipeline_runs.append(pipeline_s)
            texts = [c.text for c in rt.store.iter_chunks(rt.open_kb(f"bench{round_}"))]
            raw_runs.append(raw(texts))
        pipeline_s, encode_s = statistics.median(pipeline_runs), statistics.median(raw_runs)

    result = {
        "pages": pages,
        "chunks": chunks,
        "rounds": ROUNDS,
        "pipeline_s": round(pipeline_s, 2),
        "pages_per_s": round(pages / pipeline_s, 2),
        "chunks_per_s": round(chunks / pipeline_s, 2),
        "raw_encode_chunks_per_s": round(len(texts) / encode_s, 2),
        "kept_of_raw": round((chunks / pipeline_s) / (len(texts) / encode_s), 3),
        "embed_model": rt.settings.embed_model,
        "chunk_tokens": rt.settings.chunk_tokens,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
