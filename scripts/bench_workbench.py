"""Workbench throughput: `kb compare`'s reranking stage against the reranker's single-caller rate.

Q queries x C reranked configurations (different instructions) x D candidates go through the workbench's
own runner (`app.workbench.runner.rank_all` with `RerankService.score_many`, exactly as `kb compare`
calls it), after one recall per query (here the candidates are generated: the GPU machine has no vector
store, and recall is not what is measured). It reports
  - total wall time against the time the engine spent inside its calls (VllmReranker.busy_seconds):
    the overhead of the runner, tokenizing, queueing and threads (target <= 30%);
  - pairs/s against the single-caller rate of the same engine on the same kind of workload: one query's
    candidates per `score` call, one call after another, as `scripts/bench_rerank.py` measures it
    (target >= 90%).

    python scripts/bench_workbench.py --shape tiny --queries 20 --docs 20      # CPU smoke run
    python scripts/bench_workbench.py --shape 4b --json-out wb.json           # GPU, random 4B weights

Needs only torch, transformers and vllm: no streamlit, chromadb or pypdf.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

from app.config import load_settings  # noqa: E402
from app.models import Candidate, Chunk  # noqa: E402
from app.rerank.service import RerankService  # noqa: E402
from app.workbench.runner import RunConfig, rank_all  # noqa: E402
from scripts.bench_rerank import make_workload  # noqa: E402
from testing.random_reranker import build_random_reranker  # noqa: E402

INSTRUCTIONS = (
    "Given a web search query, retrieve relevant passages that answer the query",
    "Given a technical question, retrieve the documentation passages that answer it",
    "Given a question about the system, retrieve the passage that states the answer directly",
)


def candidates(workload, seed_offset: int = 0) -> dict[str, list[Candidate]]:
    """The workload as recalled candidates, one list per query."""
    out = {}
    for q, (query, docs) in enumerate(workload):
        out[query] = [
            Candidate(Chunk(f"d{q}-{i}:0", f"d{q}-{i}", f"doc{q}-{i}.txt", 0, text, None, 0, len(text)), i + 1, 1.0)
            for i, text in enumerate(docs)
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="tiny", choices=("tiny", "0.6b", "4b"))
    parser.add_argument("--model", help="a reranker directory instead of a random model of --shape")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--configs", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--max-doc-tokens", type=int, default=1024)
    parser.add_argument("--json-out")
    args = parser.parse_args()

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_random_reranker(
            Path(tmp) / "model", args.shape, device=device, dtype="bfloat16" if device == "cuda" else "float32"
        ))
        settings = load_settings(
            env={}, rerank_backend="vllm", rerank_model=model, max_doc_tokens=args.max_doc_tokens,
            rerank_gpu_memory=0.85,
        )
        service = RerankService(settings)
        t = time.perf_counter()
        engine = service.ensure_loaded()
        start_s = time.perf_counter() - t
        # Fresh documents in every phase: vLLM's prefix cache would serve a repeated prompt without computing it.
        service.score(*make_workload(1, args.docs, seed=100)[0], None)  # warm-up

        single = make_workload(args.queries, args.docs, seed=11)
        busy0, t = engine.busy_seconds, time.perf_counter()
        for query, docs in single:
            service.score(query, docs, INSTRUCTIONS[0])
        single_wall = time.perf_counter() - t
        single_rate = args.queries * args.docs / single_wall
        single_busy = engine.busy_seconds - busy0

        workload = make_workload(args.queries, args.docs, seed=12)
        recalled = candidates(workload)
        configs = [
            RunConfig(f"config {i + 1}", f"instruction={text}", True, text, "hybrid", args.docs)
            for i, text in enumerate(INSTRUCTIONS[: args.configs])
        ]
        busy0, pairs0, t = engine.busy_seconds, engine.pairs_scored, time.perf_counter()
        rank_all(list(recalled), configs, lambda query, mode, k: recalled[query], service.score_many)
        wall = time.perf_counter() - t
        busy = engine.busy_seconds - busy0
        pairs = engine.pairs_scored - pairs0
        service.close()

    result = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "CPU",
        "shape": args.model or args.shape,
        "queries": args.queries,
        "configs": args.configs,
        "docs": args.docs,
        "engine_start_s": round(start_s, 1),
        "single_caller": {"wall_s": round(single_wall, 3), "engine_busy_s": round(single_busy, 3),
                          "pairs_per_s": round(single_rate, 1)},
        "workbench": {"wall_s": round(wall, 3), "engine_busy_s": round(busy, 3), "pairs": pairs,
                      "pairs_per_s": round(pairs / wall, 1)},
        "overhead_vs_engine": round(wall / busy - 1, 3),
        "rate_vs_single_caller": round(pairs / wall / single_rate, 3),
    }
    print(f"{result['device']}, {result['shape']}: {args.queries} queries x {args.configs} configs x {args.docs} docs")
    print(f"  single caller : {single_rate:8.1f} pairs/s  (wall {single_wall:.2f} s, engine busy {single_busy:.2f} s)")
    print(f"  workbench     : {pairs / wall:8.1f} pairs/s  (wall {wall:.2f} s, engine busy {busy:.2f} s)")
    print(f"  overhead over engine time {result['overhead_vs_engine']:+.1%} (target <= 30%); "
          f"rate {result['rate_vs_single_caller']:.1%} of single caller (target >= 90%)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
