"""The REST API and the CLI through it: what one warm engine per app process buys.

Measures, against a running app (`--url`) or one this script starts (`kb serve` with a tiny random-weight
reranker on a throw-away data dir, seeded with CISI abstracts from ../shared/eval):
  (a) `kb search` end to end, process start included: through the app vs in-process (which loads the
      embedder and its own reranker engine every time): p50 / p95 seconds;
  (b) `POST /api/search`: p50 from one client, then throughput and p50 with 8 concurrent clients;
  (c) `POST /v1/rerank` with 100 documents of 110-340 words (the workload of scripts/bench_rerank.py,
      361 prompt tokens a pair): p50 / p95 seconds per request and pairs/s; with the app started here,
      each request also straight to a `RerankService.score` in this process (same model, built as the
      app builds it), alternating which goes first, so the ratio is what HTTP and JSON cost.

    python scripts/bench_api.py                                   # CPU: starts its own app (tiny reranker)
    python scripts/bench_api.py --url http://gpu-host:8502 --token "$KB_API_TOKEN" --only rerank
    KB_RERANK_MODEL=/tmp/rr4b python scripts/bench_api.py --api-here --only rerank   # GPU machine

`--api-here` serves the API from this process on the reranker that KB_RERANK_* name (Runtime plus
app.api.server, as `kb serve` does, without Streamlit, which the GPU machine lacks), and the direct
reference is that same engine, so the two differ only by HTTP and JSON.

Prints a table and writes JSON (default docs/benchmarks/api_cpu.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from scripts.bench_rerank import make_workload  # noqa: E402

CISI = ROOT.parent / "shared" / "eval" / "cisi"
CLIENTS = 8
RERANK_DOCS = 100
KB = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(seconds: list[float]) -> dict:
    return {"runs": len(seconds), "p50_s": statistics.median(seconds), "p95_s": percentile(seconds, 0.95),
            "min_s": min(seconds), "max_s": max(seconds)}


def queries(n: int, start: int = 0) -> list[str]:
    """n CISI queries from `start` on; each phase takes its own, because vLLM's prefix cache would serve a
    query already asked (same candidates, same prompts) almost for free. Past the end they repeat with a
    suffix, which makes them new prompts."""
    texts = [json.loads(line)["text"] for line in (CISI / "queries.jsonl").read_text().splitlines()]
    n_texts = len(texts)
    return [texts[i % n_texts] + ("" if i < n_texts else f" ({i // n_texts})") for i in range(start, start + n)]


# --- an app of our own -------------------------------------------------------------------------------------


def start_app(tmp: Path, docs: int) -> tuple[subprocess.Popen, str, dict]:
    """`kb serve` on free ports with the tiny reranker, ready (engine loaded, self-tested) and seeded."""
    from testing.random_reranker import build_random_reranker

    model = build_random_reranker(tmp / "tiny", shape="tiny", seed=0, dtype="float32")
    api_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KB_")},
        "KB_DATA_DIR": str(tmp / "data"), "KB_RERANK_MODEL": str(model), "KB_MAX_DOC_TOKENS": "512",
        "KB_API_PORT": str(api_port), "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "HF_HUB_OFFLINE": "1", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = open(tmp / "serve.log", "w")  # noqa: SIM115 (lives as long as the app)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(free_port())], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{api_port}"
    started = time.monotonic()
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).json()["selftest"]:
                break
        except (httpx.HTTPError, ValueError):
            pass
        if proc.poll() is not None or time.monotonic() - started > 400:
            raise SystemExit(f"kb serve did not get ready:\n{(tmp / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.5)
    print(f"app ready in {time.monotonic() - started:.1f} s (engine loaded, self-test done)", file=sys.stderr)
    seed_kb(url, "", docs)
    return proc, url, env


def seed_kb(url: str, token: str, docs: int) -> None:
    from app.api_client import ApiClient

    client = ApiClient(url, token)
    lines = (CISI / "corpus.jsonl").read_text().splitlines()[:docs]
    files = []
    for line in lines:
        doc = json.loads(line)
        files.append((f"cisi-{doc['_id']}.txt", f"{doc['title']}\n\n{doc['text']}".encode()))
    started = time.monotonic()
    for i in range(0, len(files), 64):
        client.upload(KB, files[i : i + 64])
    print(f"ingested {len(files)} CISI documents in {time.monotonic() - started:.1f} s", file=sys.stderr)


def stop_app(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# --- the measurements ----------------------------------------------------------------------------------------


def bench_cli(env: dict, runs: int, in_process_runs: int) -> dict:
    """Wall time of `kb search` processes: through the app, then in-process (KB_API_URL where nothing is);
    also `kb --help` (interpreter start and the CLI's imports) and the search's own recall + rerank time."""

    def timed(run_env: dict, *args: str) -> tuple[float, str]:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=run_env, capture_output=True,
                              text=True)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"kb {args[0]} failed: {proc.stderr[-2000:]}")
        return elapsed, proc.stderr

    def search(run_env: dict, question: str) -> tuple[float, float]:
        """(wall seconds, recall + rerank seconds from the timings line on stderr)"""
        elapsed, stderr = timed(run_env, "search", question, "--kb", KB)
        stages = [part.split() for part in stderr.strip().splitlines()[-1].split(", ")]
        return elapsed, sum(float(seconds) for _stage, seconds, _unit in stages)

    qs = queries(runs + in_process_runs, start=10)
    start_only = [timed(env, "--help")[0] for _ in range(runs)]
    via_app = [search(env, q) for q in qs[:runs]]
    local = {**env, "KB_API_URL": f"http://127.0.0.1:{free_port()}"}
    in_process = [search(local, q)[0] for q in qs[runs:]]
    out = {
        "kb_help": summary(start_only),
        "via_app": {**summary([wall for wall, _ in via_app]),
                    "search_p50_s": statistics.median(work for _, work in via_app)},
    }
    if in_process:
        out["in_process"] = summary(in_process)
    return out


def bench_search(client: httpx.Client, runs: int, concurrent_requests: int) -> dict:
    qs = queries(runs + concurrent_requests, start=200)

    def one(question: str) -> float:
        started = time.perf_counter()
        reply = client.post("/api/search", json={"kb": KB, "question": question})
        reply.raise_for_status()
        if reply.json()["rerank_note"]:
            raise SystemExit(f"search was not reranked: {reply.json()['rerank_note']}")
        return time.perf_counter() - started

    single = [one(q) for q in qs[:runs]]
    latencies: list[float] = []
    pending = list(qs[runs:])
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                question = pending.pop()
            seconds = one(question)
            with lock:
                latencies.append(seconds)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "single_client": {**summary(single), "searches_per_s": len(single) / sum(single)},
        f"{CLIENTS}_clients": {**summary(latencies), "searches_per_s": len(latencies) / wall, "wall_s": wall},
    }


def bench_rerank(client: httpx.Client, runs: int, instruction: str | None, direct=None) -> dict:
    """Seconds per 100-document `/v1/rerank` request over `runs` requests (after one untimed warm-up).

    With `direct` (a `score(query, documents, instruction)` in this process), each request also goes there,
    alternating which goes first, so that both see the same load on a shared machine.
    """

    def api(query: str, docs: list[str]) -> None:
        body = {"query": query, "documents": docs, **({"instruction": instruction} if instruction else {})}
        reply = client.post("/v1/rerank", json=body)
        reply.raise_for_status()
        assert len(reply.json()["results"]) == RERANK_DOCS

    calls = {"v1_rerank": api}
    if direct is not None:
        calls["rerank_direct"] = lambda query, docs: direct(query, docs, instruction)
    # Each path gets prompts of its own (seeds 1 and 2): vLLM's prefix cache would serve a repeated prompt
    # without computing it, and the path that went second would look faster.
    workloads = {name: make_workload(runs + 1, RERANK_DOCS, seed=1 + j) for j, name in enumerate(calls)}
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(runs + 1):
        for name in list(calls)[:: 1 if i % 2 else -1]:
            started = time.perf_counter()
            calls[name](*workloads[name][i])
            if i:
                seconds[name].append(time.perf_counter() - started)
    return {name: {**summary(s), "pairs_per_s": RERANK_DOCS * len(s) / sum(s)} for name, s in seconds.items()}


def serve_api_here(tmp: Path):
    """The API on a free loopback port of this process, its Runtime's reranker loaded first."""
    from app.api import server
    from app.config import load_settings
    from app.runtime import Runtime

    rt = Runtime(load_settings(data_dir=tmp / "kb-data", api_host="127.0.0.1", api_port=free_port()))
    rt.reranker.ensure_loaded()
    api = server.start(rt)
    if api is None:
        raise SystemExit("the API did not start")
    return api, rt


def direct_reranker(env: dict):
    """A `RerankService` in this process on the app's model, built as the app builds it (loaded)."""
    from app.config import load_settings
    from app.rerank.service import RerankService

    os.environ.update({k: v for k, v in env.items() if k.startswith("VLLM_")})
    service = RerankService(load_settings(env=env))
    service.ensure_loaded()
    return service


def table(report: dict) -> str:
    rows = [("what", "p50 s", "p95 s", "rate")]
    cli = report.get("kb_search")
    if cli:
        via = cli["via_app"]
        rows += [("kb --help (start, imports)", f"{cli['kb_help']['p50_s']:.3f}", f"{cli['kb_help']['p95_s']:.3f}", ""),
                 ("kb search via the app", f"{via['p50_s']:.3f}", f"{via['p95_s']:.3f}",
                  f"of which recall+rerank {via['search_p50_s']:.3f} s (p50)")]
        if "in_process" in cli:
            rows.append(("kb search in-process", f"{cli['in_process']['p50_s']:.2f}",
                         f"{cli['in_process']['p95_s']:.2f}", ""))
    search = report.get("api_search")
    if search:
        one, many = search["single_client"], search[f"{CLIENTS}_clients"]
        rows += [("/api/search, 1 client", f"{one['p50_s']:.3f}", f"{one['p95_s']:.3f}",
                  f"{one['searches_per_s']:.1f} searches/s"),
                 (f"/api/search, {CLIENTS} clients", f"{many['p50_s']:.3f}", f"{many['p95_s']:.3f}",
                  f"{many['searches_per_s']:.1f} searches/s")]
    rerank = report.get("v1_rerank")
    if rerank:
        rows.append((f"/v1/rerank, {RERANK_DOCS} docs", f"{rerank['p50_s']:.3f}", f"{rerank['p95_s']:.3f}",
                     f"{rerank['pairs_per_s']:.0f} pairs/s"))
    direct = report.get("rerank_direct")
    if direct:
        ratio = rerank["pairs_per_s"] / direct["pairs_per_s"]
        rows.append((f"RerankService.score, {RERANK_DOCS} docs", f"{direct['p50_s']:.3f}", f"{direct['p95_s']:.3f}",
                     f"{direct['pairs_per_s']:.0f} pairs/s (API: {ratio:.0%})"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app's API (default: start one with the tiny reranker)")
    parser.add_argument("--token", default=os.environ.get("KB_API_TOKEN", ""), help="its KB_API_TOKEN")
    parser.add_argument("--only", choices=("cli", "search", "rerank"), action="append",
                        help="measure only these (repeatable); with --url the KB 'bench' must exist for cli/search")
    parser.add_argument("--docs", type=int, default=300, help="CISI documents to ingest into the app started here")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement")
    parser.add_argument("--in-process-runs", type=int, default=3, help="in-process kb search runs (each loads models)")
    parser.add_argument("--concurrent-requests", type=int, default=80, help="searches spread over the 8 clients")
    parser.add_argument("--instruction", help="instruction for /v1/rerank (default: the model's default)")
    parser.add_argument("--api-here", action="store_true",
                        help="serve the API from this process (no Streamlit); rerank only")
    parser.add_argument("--no-direct", action="store_true", help="skip the in-process RerankService reference")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "api_cpu.json"))
    args = parser.parse_args(argv)
    only = set(args.only or ("cli", "search", "rerank"))

    tmp = tempfile.TemporaryDirectory(prefix="bench-api-")
    proc = api = None
    if args.api_here:
        api, rt = serve_api_here(Path(tmp.name))
        url, env = api.url, dict(os.environ)
    elif args.url:
        url, env = args.url.rstrip("/"), {**os.environ, "KB_API_URL": args.url, "KB_API_TOKEN": args.token}
    else:
        proc, url, env = start_app(Path(tmp.name), args.docs)
    try:
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        client = httpx.Client(base_url=url, headers=headers, timeout=600)
        health = client.get("/api/health").json()
        report: dict = {
            "url": url if args.url else (
                "served from this process (Runtime + app.api.server, no Streamlit)" if api
                else "started here (kb serve, tiny random-weight reranker, CPU)"),
            "reranker": {k: health[k] for k in ("model", "device", "state")},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "date": time.strftime("%Y-%m-%d"),
            "kb_docs": args.docs if proc is not None else None,
            # 1/5/15-minute load averages: on a shared machine other work takes cores from the timed one
            "load_average_before": os.getloadavg(),
        }
        if only & {"cli", "search"}:  # untimed: the first searches load what a cold index needs
            for question in queries(3, start=0):
                client.post("/api/search", json={"kb": KB, "question": question}).raise_for_status()
        if "cli" in only:
            report["kb_search"] = bench_cli(env, args.runs, args.in_process_runs)
        if "search" in only:
            report["api_search"] = bench_search(client, args.runs, args.concurrent_requests)
        if "rerank" in only and api is not None:
            direct = None if args.no_direct else rt.reranker.score
            report.update(bench_rerank(client, args.runs, args.instruction, direct))
        elif "rerank" in only:
            service = direct_reranker(env) if proc is not None and not args.no_direct else None
            try:
                report.update(bench_rerank(client, args.runs, args.instruction, service and service.score))
            finally:
                if service is not None:
                    service.close()
        if proc is not None:
            report["reranker"]["model"] = "tiny random-weight Qwen3 (hidden 128, 2 layers)"
        report["load_average_after"] = os.getloadavg()
    finally:
        if proc is not None:
            stop_app(proc)
        if api is not None:
            api.stop()
            rt.reranker.close()
        tmp.cleanup()
    print(table(report))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
