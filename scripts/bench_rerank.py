"""Reranker throughput: the official transformers recipe vs the project's vLLM reranker vs the compute floor.

One command runs Q queries x D candidate documents (110-340 words each, default instruction, fixed seed)
through
  (a) transformers, the model card's recipe (batch 32, left padding, last-token yes/no softmax),
  (b) the project's reranker exactly as search() calls it: `VllmReranker.score(query, docs)` per query,
      sequentially (p50/p95 seconds per query, pairs/s) and from 8 concurrent callers (pairs/s),
  (c) the compute floor: 2 x non-embedding parameters x prompt tokens / measured matmul rate.

    python scripts/bench_rerank.py --shape tiny --queries 4 --docs 20          # CPU smoke run
    python scripts/bench_rerank.py --shape 4b --json-out bench.json           # GPU, random 4B weights
    python scripts/bench_rerank.py --model /models/Qwen3-Reranker-0.6B --fp8 --fp8-static

Random-weight models of the released shapes are built on the fly (throughput does not depend on the
weights). Needs only torch, transformers and vllm (0.24 or 0.32): no streamlit, chromadb or pypdf.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")

from app.config import DEFAULT_INSTRUCTION  # noqa: E402
from app.rerank import prompt  # noqa: E402
from app.rerank.token_cache import DocumentTokenCache  # noqa: E402
from testing.random_reranker import build_random_reranker  # noqa: E402

CONCURRENT_CALLERS = 8
HF_BATCH = 32
_WORDS = (
    "system data model query search index document page result vector score rank token retrieval "
    "engine memory cache latency throughput batch server client request answer question passage "
    "knowledge base chunk embedding reranker relevance instruction format network storage disk "
    "the a of and to in is for on with as by that this from are be it at or an was which "
    # longer words, so that a pair averages about 360 prompt tokens as in the workload
    "tokenization quantization parallelism deduplication multilingual orchestration latencies "
    "benchmarking interoperability configurability observability reproducibility "
    "microservices serialization checkpointing"
).split()


def make_workload(n_queries: int, n_docs: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """Q (query, D documents of 110-340 words) pairs, the same for a given seed."""
    rng = random.Random(seed)
    words = lambda n: " ".join(rng.choice(_WORDS) for _ in range(n))  # noqa: E731
    return [
        (words(rng.randint(5, 12)).capitalize() + "?", [words(rng.randint(110, 340)) + "." for _ in range(n_docs)])
        for _ in range(n_queries)
    ]


def _timings(per_query: list[float], pairs: int) -> dict:
    ordered = sorted(per_query)
    return {
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "pairs_per_s": pairs / sum(per_query),
    }


def bench_transformers(model_dir: str, workload, max_doc_tokens: int, device: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").to(device).eval()
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    pad = tokenizer.pad_token_id or 0

    def score(query: str, docs: list[str]) -> list[float]:
        prompts = prompt.build_prompts(tokenizer, query, docs, max_doc_tokens)
        out = []
        for start in range(0, len(prompts), HF_BATCH):
            batch = prompts[start : start + HF_BATCH]
            width = max(map(len, batch))
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=device)
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask).logits[:, -1, :]
            out += torch.softmax(torch.stack([logits[:, no], logits[:, yes]], 1).float(), 1)[:, 1].tolist()
        return out

    score(*workload[0])  # warm-up
    per_query = []
    for query, docs in workload:
        _sync(device)
        t = time.perf_counter()
        score(query, docs)
        _sync(device)
        per_query.append(time.perf_counter() - t)
    return _timings(per_query, sum(len(d) for _, d in workload))


def bench_project(model_dir: str, workload, max_doc_tokens: int, fp8: bool, max_batched_tokens: int | None) -> dict:
    """The reranker as search() calls it: `Runtime.reranker`, a RerankService built from settings."""
    from app.config import load_settings
    from app.rerank.service import RerankService

    settings = load_settings(
        rerank_backend="vllm",
        rerank_model=model_dir,
        max_doc_tokens=max_doc_tokens,
        rerank_quantization="fp8" if fp8 else "none",
        rerank_max_batched_tokens=max_batched_tokens,  # None keeps the KB_ setting
        rerank_gpu_memory=0.85,
    )
    service = RerankService(settings)
    t = time.perf_counter()
    service.ensure_loaded()
    result = {"engine_start_s": time.perf_counter() - t}
    n_queries, n_docs = len(workload), len(workload[0][1])
    # Every phase gets prompts the engine has not seen: vLLM's prefix cache would otherwise serve a repeated
    # prompt without computing it (block hashes chain from the first token, so a new query is enough).
    service.score(*make_workload(1, n_docs, seed=100)[0], None)  # warm-up
    per_query, scores = [], []
    for query, docs in workload:  # documents never seen: tokenized inside the timed call
        t = time.perf_counter()
        scores.append(service.score(query, docs, None))
        per_query.append(time.perf_counter() - t)
    result.update(_timings(per_query, n_queries * n_docs))
    result["scores"] = scores

    # The same documents under new queries: their token ids come from the reranker's cache, as for chunks
    # that were candidates before; the engine still computes every prompt.
    new_queries = [q for q, _ in make_workload(n_queries, 1, seed=1)]
    warm = []
    for query, (_, docs) in zip(new_queries, workload, strict=True):
        t = time.perf_counter()
        service.score(query, docs, None)
        warm.append(time.perf_counter() - t)
    result["cached_tokens_p50_s"] = statistics.median(warm)

    # What the cold phase spent tokenizing: the reranker's own path, on a cache of its own.
    tokens = DocumentTokenCache(service.ensure_loaded().tokenizer, max_doc_tokens)
    tokenize = []
    for query, docs in make_workload(n_queries, n_docs, seed=3):
        t = time.perf_counter()
        tokens.encode(prompt.query_part(query) + prompt.DOC_TAG)
        tokens.ids(docs)
        tokenize.append(time.perf_counter() - t)
    result["tokenize_p50_s"] = statistics.median(tokenize)

    jobs = make_workload(n_queries, n_docs, seed=2)  # fresh documents, like the single-caller phase
    lock = threading.Lock()

    def caller():
        while True:
            with lock:
                if not jobs:
                    return
                query, docs = jobs.pop()
            service.score(query, docs, None)

    threads = [threading.Thread(target=caller) for _ in range(CONCURRENT_CALLERS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    result["concurrent_pairs_per_s"] = n_queries * n_docs / (time.perf_counter() - t)
    result["tokens_per_query"] = _mean_tokens(service.ensure_loaded().tokenizer, workload, max_doc_tokens)
    service.close()
    return result


def _mean_tokens(tokenizer, workload, max_doc_tokens: int) -> float:
    total = sum(sum(map(len, prompt.build_prompts(tokenizer, q, d, max_doc_tokens))) for q, d in workload)
    return total / len(workload)


def matmul_rate(device: str) -> dict:
    """Measured dense matmul FLOP/s: bf16 (and fp32 on CPU, where bf16 may be emulated)."""
    import torch

    n = 8192 if device == "cuda" else 1024
    rates = {}
    for dtype in (torch.bfloat16,) if device == "cuda" else (torch.float32, torch.bfloat16):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        _sync(device)
        reps, t = 20 if device == "cuda" else 5, time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        rates[str(dtype).removeprefix("torch.")] = 2 * n**3 * reps / (time.perf_counter() - t)
    return rates


def non_embedding_params(model_dir: str) -> int:
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_dir)
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    attn = c.hidden_size * head_dim * (2 * c.num_attention_heads + 2 * c.num_key_value_heads)
    mlp = 3 * c.hidden_size * c.intermediate_size
    return c.num_hidden_layers * (attn + mlp)


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="a local reranker checkpoint instead of random shapes")
    src.add_argument("--shapes", default="tiny", help="comma-separated random-weight shapes: tiny, 0.6b, 4b")
    p.add_argument("--queries", type=int, default=16)
    p.add_argument("--docs", type=int, default=100)
    p.add_argument("--max-doc-tokens", type=int, default=1024)
    p.add_argument("--fp8", action="store_true", help="also measure fp8 weights (Spearman against bf16)")
    p.add_argument(
        "--fp8-static",
        action="store_true",
        help="also measure an fp8 checkpoint with calibrated static activation scales (app/rerank/fp8_static.py)",
    )
    p.add_argument("--max-batched-tokens", type=int, help="vLLM max_num_batched_tokens (default: KB_ setting)")
    p.add_argument("--skip-transformers", action="store_true", help="skip the transformers baseline")
    p.add_argument("--json-out", type=Path)
    p.add_argument("--md-out", type=Path, help="write the table as Markdown here")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement in this process
    args = p.parse_args(argv)
    if args.one:
        return _measure_one(json.loads(args.one))

    # This process never touches the GPU: every model is built and run in a child process, so that
    # each engine finds the whole GPU free.
    summary = {
        "device": "",
        "workload": {"queries": args.queries, "docs": args.docs, "instruction": DEFAULT_INSTRUCTION, "seed": 0},
        "command": "python scripts/bench_rerank.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    shapes = [args.model] if args.model else args.shapes.split(",")
    done: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-rerank-") as tmp:
        for shape in shapes:
            model_dir = args.model or str(Path(tmp) / shape)
            if not args.model:
                _in_subprocess(dict(engine="build", shape=shape, model_dir=model_dir), tmp)
            base = dict(model_dir=model_dir, queries=args.queries, docs=args.docs, max_doc_tokens=args.max_doc_tokens)
            base["max_batched_tokens"] = args.max_batched_tokens
            row: dict = {}
            summary[Path(shape).name] = row
            done.append(shape)
            if not args.skip_transformers:
                row["hf_p50_s"] = _in_subprocess(dict(base, engine="transformers"), tmp)["p50_s"]
            # The fp8 variants first and every result written as soon as it exists: on a lent GPU the
            # lease can end mid-run, and the bf16 engine is the one measured most often before.
            scores: dict[str, list] = {}
            if args.fp8_static:
                static_dir = str(Path(tmp) / f"{Path(shape).name}-fp8-static")
                converted = _in_subprocess(dict(base, engine="convert", out_dir=static_dir), tmp)
                static = _run_vllm(dict(base, model_dir=static_dir, fp8=False), tmp, summary, row)
                row["fp8_static"] = _row(static, static_dir, args.docs) | converted
                scores["fp8_static"] = static["scores"]
                _write(summary, done, args)
            if args.fp8:
                fp8 = _run_vllm(dict(base, fp8=True), tmp, summary, row)
                row["fp8"] = _row(fp8, model_dir, args.docs)
                scores["fp8"] = fp8["scores"]
                _write(summary, done, args)
            bf16 = _run_vllm(dict(base, fp8=False), tmp, summary, row)
            row.update(_row(bf16, model_dir, args.docs))
            for variant, variant_scores in scores.items():
                row[variant]["spearman_vs_bf16"] = _spearman(bf16["scores"], variant_scores)
            _write(summary, done, args)
    print(_table(summary, done))
    return summary


def _write(summary: dict, shapes: list[str], args) -> None:
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.md_out:
        args.md_out.write_text(_table(summary, shapes) + "\n")


def _run_vllm(spec: dict, tmp: str, summary: dict, row: dict) -> dict:
    """One measurement of the project's reranker; its device is recorded at once, so that results written
    before the bf16 engine has run name it too."""
    result = _in_subprocess(dict(spec, engine="vllm"), tmp)
    summary["device"] = row["device"] = result["device"]
    return result


def _in_subprocess(spec: dict, tmp: str) -> dict:
    """Each engine in a fresh process: a GPU engine's memory is only reliably freed when its process ends."""
    import subprocess

    out = Path(tmp) / f"result-{time.monotonic_ns()}.json"
    spec = dict(spec, out=str(out))
    subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], check=True)
    return json.loads(out.read_text())


def _measure_one(spec: dict) -> dict:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if spec["engine"] == "build":
        build_random_reranker(Path(spec["model_dir"]), shape=spec["shape"], device=device)
        Path(spec["out"]).write_text("{}")
        return {}
    if spec["engine"] == "convert":
        result = convert_fp8_static(spec["model_dir"], spec["out_dir"], spec["max_doc_tokens"])
        _print({"convert": result}, "convert")
        Path(spec["out"]).write_text(json.dumps(result))
        return result
    workload = make_workload(spec["queries"], spec["docs"])
    if spec["engine"] == "transformers":
        result = bench_transformers(spec["model_dir"], workload, spec["max_doc_tokens"], device)
    else:
        result = bench_project(
            spec["model_dir"], workload, spec["max_doc_tokens"], spec["fp8"], spec["max_batched_tokens"]
        )
        result["matmul_flops_per_s"] = max(matmul_rate(device).values())
        result["device"] = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    label = f"{spec['engine']}{' fp8' if spec.get('fp8') else ''} {Path(spec['model_dir']).name}"
    _print({label: result}, label)
    Path(spec["out"]).write_text(json.dumps(result))
    return result


def convert_fp8_static(model_dir: str, out_dir: str, max_doc_tokens: int) -> dict:
    """The static fp8 checkpoint of `model_dir`, calibrated on workload-like pairs the timed phases never
    use (seeds 50 and 51), with its emulated agreement on held-out pairs."""
    from transformers import AutoTokenizer

    from app.rerank.fp8_static import calibration_pairs, pair_prompts, quantize_fp8_static

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def prompts(seed: int, n: int) -> list[list[int]]:
        texts = [doc for _, docs in make_workload(8, 40, seed=seed) for doc in docs]
        return pair_prompts(tokenizer, calibration_pairs(texts, n, seed=seed), max_doc_tokens, [None])

    t = time.perf_counter()
    report = quantize_fp8_static(Path(model_dir), Path(out_dir), prompts(50, 128), prompts(51, 64))
    return {
        "convert_s": time.perf_counter() - t,
        "calibration_prompts": report.calibration_prompts,
        "emulated_spearman_vs_original": report.spearman,
    }


def _row(measured: dict, model_dir: str, docs: int) -> dict:
    flops = 2 * non_embedding_params(model_dir) * measured["tokens_per_query"]
    keys = (
        "p50_s",
        "p95_s",
        "pairs_per_s",
        "concurrent_pairs_per_s",
        "cached_tokens_p50_s",
        "tokenize_p50_s",
        "engine_start_s",
        "tokens_per_query",
    )
    row = {k: measured[k] for k in keys}
    row["floor_p50_s"] = flops / measured["matmul_flops_per_s"]
    row["matmul_tflops"] = measured["matmul_flops_per_s"] / 1e12
    return row


def _spearman(a: list[list[float]], b: list[list[float]]) -> float:
    """Mean over queries of the rank correlation of two engines' scores for the same documents."""
    from scipy.stats import spearmanr

    return statistics.fmean(float(spearmanr(x, y).statistic) for x, y in zip(a, b, strict=True))


def _table(summary: dict, shapes: list[str]) -> str:
    lines = [
        f"Device: {summary['device']}. Workload: {summary['workload']['queries']} queries x "
        f"{summary['workload']['docs']} documents, default instruction, seed 0.",
        "",
        "| shape | transformers p50 s | project p50 s | p95 s | p50, tokens cached | tokenizing p50 | pairs/s |"
        " 8 callers pairs/s | floor p50 s | fp8 p50 s | fp8 p50, tokens cached | fp8 Spearman |"
        " fp8 static p50 s | fp8 static p50, tokens cached | fp8 static Spearman |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape in shapes:
        r = summary[Path(shape).name]
        fp8, static = r.get("fp8", {}), r.get("fp8_static", {})
        cells = [
            Path(shape).name,
            _fmt(r.get("hf_p50_s")),
            _fmt(r.get("p50_s")),
            _fmt(r.get("p95_s")),
            _fmt(r.get("cached_tokens_p50_s")),
            _fmt(r.get("tokenize_p50_s")),
            _fmt(r.get("pairs_per_s"), 0),
            _fmt(r.get("concurrent_pairs_per_s"), 0),
            _fmt(r.get("floor_p50_s")),
            _fmt(fp8.get("p50_s")),
            _fmt(fp8.get("cached_tokens_p50_s")),
            _fmt(fp8.get("spearman_vs_bf16"), 4),
            _fmt(static.get("p50_s")),
            _fmt(static.get("cached_tokens_p50_s")),
            _fmt(static.get("spearman_vs_bf16"), 4),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Command: `{summary['command']}`"]
    return "\n".join(lines)


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print(report: dict, key: str) -> None:
    print(
        f"{key:>13}: "
        + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in report[key].items()
            if not isinstance(v, list)
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
