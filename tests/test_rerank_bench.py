"""Smoke test of scripts/bench_rerank.py on the tiny shape (starts its own engine in a subprocess: slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_workload_is_fixed_and_in_range():
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_rerank import make_workload

    workload = make_workload(3, 5, seed=0)
    assert workload == make_workload(3, 5, seed=0) and workload != make_workload(3, 5, seed=1)
    assert all(110 <= len(doc.split()) <= 340 for _, docs in workload for doc in docs)
    assert [len(docs) for _, docs in workload] == [5, 5, 5]


@pytest.mark.slow
def test_bench_runs_on_cpu_with_the_tiny_shape(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "bench_rerank.py"),
        "--shape",
        "tiny",
        "--queries",
        "2",
        "--docs",
        "4",
        "--max-doc-tokens",
        "256",
        "--json-out",
        str(out),
    ]
    subprocess.run(cmd, check=True, env=env, cwd=tmp_path, timeout=300, capture_output=True)
    report = json.loads(out.read_text())
    assert report["device"] == "CPU" and report["queries"] == 2 and report["docs"] == 4
    for engine in ("transformers", "vllm"):
        assert 0 < report[engine]["p50_s"] <= report[engine]["p95_s"]
        assert report[engine]["pairs_per_s"] > 0
    assert report["vllm"]["concurrent_pairs_per_s"] > 0 and report["vllm"]["engine_start_s"] > 0
    assert report["floor"]["s_per_query"] > 0 and report["floor"]["matmul_flops_per_s"]["float32"] > 1e8
