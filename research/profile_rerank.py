"""Where one 100-document rerank query spends its time: wall clock, GPU busy time, kernels, and the
per-request cost the engine pays whatever the prompt length (docs/BENCHMARKS.md, "Where the fp8 time goes").

    python research/profile_rerank.py --shape 4b --fp8          # on the GPU machine (../shared/gpu/README.md)
    python research/profile_rerank.py --shape tiny              # CPU smoke run (no GPU timeline)

The reranker is called with ready token ids (`VllmReranker.score_prompts`), so the numbers leave out
tokenizing, which `VllmReranker.score` adds; they include the hop to the engine's worker thread.
`scripts/bench_rerank.py` measures the whole path. Needs torch, transformers and vllm only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")

from app.rerank import prompt  # noqa: E402
from app.rerank.vllm_engine import VllmReranker  # noqa: E402
from scripts.bench_rerank import make_workload  # noqa: E402
from testing.random_reranker import build_random_reranker  # noqa: E402

MAX_DOC_TOKENS = 1024
TOP_KERNELS = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a local reranker checkpoint instead of a random shape")
    parser.add_argument("--shape", default="tiny", help="random-weight shape: tiny, 0.6b, 4b")
    parser.add_argument("--fp8", action="store_true", help="fp8 weights")
    parser.add_argument("--queries", type=int, default=10)
    args = parser.parse_args()

    import torch

    cuda = torch.cuda.is_available()
    if args.model:
        _profile(Path(args.model), args.fp8, args.queries, cuda)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_random_reranker(Path(tmp) / args.shape, shape=args.shape, device="cuda" if cuda else "cpu")
        _profile(model_dir, args.fp8, args.queries, cuda)


def _profile(model_dir: Path, fp8: bool, queries: int, cuda: bool) -> None:
    reranker = VllmReranker(
        str(model_dir), max_doc_tokens=MAX_DOC_TOKENS, quantization="fp8" if fp8 else "none", gpu_memory=0.85
    )
    tokenizer = reranker.tokenizer

    def prompts(seed: int, doc_chars: int | None = None) -> list[list[int]]:
        query, docs = make_workload(1, 100, seed=seed)[0]  # a new query each time: no prefix-cache hits
        docs = [d[:doc_chars] for d in docs] if doc_chars else docs
        return prompt.build_prompts(tokenizer, query, docs, MAX_DOC_TOKENS)

    def wall(batch: list[list[int]]) -> float:
        t = time.perf_counter()
        reranker.score_prompts(batch)
        return time.perf_counter() - t

    try:
        for seed in (900, 901):  # warm-up
            reranker.score_prompts(prompts(seed))
        full = [wall(prompts(10 + i)) for i in range(queries)]
        short = [wall(prompts(100 + i, doc_chars=20)) for i in range(queries)]
        print(f"wall p50, 100 documents: {statistics.median(full):.4f} s")
        print(f"wall p50, 100 documents of ~5 tokens (the per-request cost): {statistics.median(short):.4f} s")
        if cuda:
            _gpu_timeline(reranker, prompts(200))
    finally:
        reranker.close()


def _gpu_timeline(reranker: VllmReranker, batch: list[list[int]]) -> None:
    """GPU busy time (union of kernel intervals) against wall time, and the kernels that take it."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    # The engine runs in VllmReranker's worker thread. CUPTI traces CUDA kernels per process, so they should
    # be counted; not yet checked on a GPU since this script moved from the private engine call to score_prompts.
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t = time.perf_counter()
        reranker.score_prompts(batch)
        wall = time.perf_counter() - t
    spans, by_kernel = [], {}
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            start, end = event.time_range.start, event.time_range.end
            spans.append((start, end))
            by_kernel[event.name] = by_kernel.get(event.name, 0) + end - start
    busy, reached = 0, float("-inf")
    for start, end in sorted(spans):
        if end > reached:
            busy += end - max(start, reached)
            reached = end
    print(f"profiled wall {wall:.4f} s, GPU busy {busy / 1e6:.4f} s, {len(spans)} kernels")
    total = sum(by_kernel.values()) or 1
    for name, us in sorted(by_kernel.items(), key=lambda kv: -kv[1])[:TOP_KERNELS]:
        print(f"{us / 1e3:9.2f} ms {100 * us / total:5.1f}%  {name[:110]}")


if __name__ == "__main__":
    main()
