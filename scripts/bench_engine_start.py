"""Reranker engine start: seconds to ready, and where they go, stage by stage (from vLLM's own log lines).

Run it twice with the same --cache: the first start fills vLLM's compile cache (cold), the second reuses it
(warm), as a restart of the app does with the cache in its data dir.

    python scripts/bench_engine_start.py --shape 4b --model-dir /tmp/rr4b --cache /tmp/kb-data/vllm-cache

Needs only torch, transformers and vllm.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="tiny", choices=("tiny", "0.6b", "4b"))
    parser.add_argument("--model-dir", required=True, help="built here once (random weights), reused after")
    parser.add_argument("--cache", required=True, help="VLLM_CACHE_ROOT")
    parser.add_argument("--compile", choices=("on", "off"), default="on", help="KB_RERANK_COMPILE")
    parser.add_argument("--rank", type=int, default=0, metavar="N",
                        help="then rank N queries of 100 documents (bench_rerank's workload, seed 1): p50, pairs/s")
    parser.add_argument("--scores-out", help="with --rank: write the scores here, to compare two starts' engines")
    parser.add_argument("--json-out")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also sample the stacks during the start and print the N functions on them longest")
    args = parser.parse_args()
    began = time.monotonic()
    os.environ["VLLM_CACHE_ROOT"] = args.cache
    cold = not Path(args.cache).exists()
    from app.rerank.service import keep_caches_in

    keep_caches_in(Path(args.cache).parent)  # as the app does with its data dir, before torch is imported
    import torch

    from app.config import load_settings
    from app.rerank.service import RerankService
    from testing.random_reranker import build_random_reranker
    from testing.stack_sampler import StackSampler

    model = Path(args.model_dir)
    if not (model / "config.json").exists():
        device = "cuda" if torch.cuda.is_available() else "cpu"
        build_random_reranker(model, args.shape, device=device, dtype="bfloat16" if device == "cuda" else "float32")
    service = RerankService(load_settings(env={}, rerank_backend="vllm", rerank_model=str(model),
                                          rerank_gpu_memory=0.85, rerank_compile=args.compile))
    sampler = StackSampler()
    t = time.monotonic()
    if args.profile:
        with sampler:
            service.ensure_loaded()
    else:
        service.ensure_loaded()
    ready = time.monotonic()
    timeline = service.stage_history
    stages = [
        {"stage": stage, "s": round((timeline[i + 1][1] if i + 1 < len(timeline) else ready) - at, 1)}
        for i, (stage, at) in enumerate(timeline)
    ]
    result = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU",
        "compile_cache": "cold" if cold else "warm",
        "compile": args.compile,
        "process_start_to_ready_s": round(ready - began, 1),  # imports of torch and the app included
        "engine_start_s": round(ready - t, 1),
        "bytecode_cache": sys.pycache_prefix,  # set where the install keeps no bytecode (app/bytecode.py)
        "stages": stages,
    }
    if args.rank:
        result.update(_rank(service, args.rank, args.scores_out))
    if args.profile:  # inclusive seconds per function; the outermost frames (this script) come first
        result["profile"] = [{"function": f, "s": round(s, 2)} for f, s in sampler.top(args.profile)]
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    service.close()


def _rank(service, n_queries: int, scores_out: str | None) -> dict:
    """Ranking speed of the started engine, so that a start lever cannot cost it unseen."""
    from scripts.bench_rerank import _timings, make_workload

    service.score(*make_workload(1, 100, seed=100)[0], None)  # warm-up, prompts of its own
    per_query, scores = [], []
    for query, docs in make_workload(n_queries, 100, seed=1):
        t = time.perf_counter()
        scores.append(service.score(query, docs, None))
        per_query.append(time.perf_counter() - t)
    if scores_out:
        Path(scores_out).write_text(json.dumps(scores))
    timings = _timings(per_query, 100 * n_queries)
    return {"rank_p50_s": round(timings["p50_s"], 3), "pairs_per_s": round(timings["pairs_per_s"])}


if __name__ == "__main__":
    main()
