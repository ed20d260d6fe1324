"""The GPU benchmark script must keep running on CPU with the tiny shape (no timing claims here)."""

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


@pytest.mark.slow  # starts a vLLM engine
def test_bench_runs_on_cpu_with_the_tiny_shape(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "bench_rerank.py"),
        "--shapes",
        "tiny",
        "--queries",
        "2",
        "--docs",
        "4",
        "--max-doc-tokens",
        "256",
        "--json-out",
        str(out),
        "--md-out",
        str(tmp_path / "table.md"),
    ]
    subprocess.run(cmd, check=True, env=env, cwd=tmp_path, timeout=300, capture_output=True)
    report = json.loads(out.read_text())
    assert report["device"] == "CPU" and report["workload"]["queries"] == 2 and report["workload"]["docs"] == 4
    row = report["tiny"]
    assert 0 < row["p50_s"] <= row["p95_s"] and 0 < row["hf_p50_s"]
    assert row["pairs_per_s"] > 0 and row["concurrent_pairs_per_s"] > 0 and row["engine_start_s"] > 0
    assert 0 < row["tokenize_p50_s"] < row["p50_s"] and row["cached_tokens_p50_s"] > 0
    assert row["floor_p50_s"] > 0 and row["tokens_per_query"] > 4 * 100  # four documents of 110+ words
    assert (tmp_path / "table.md").read_text().count("| tiny |") == 1

