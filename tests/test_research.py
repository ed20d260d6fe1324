"""The experiments in research/ keep running on the public API of `app/`: each on toy inputs, no figures checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_evaluate import CORPUS, QRELS, QUERIES, write_beir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # each starts a fresh interpreter that loads the embedder or a vLLM engine

CHINESE = {
    "z1": ("", "上海高速铁路每天运送很多乘客。"),
    "z2": ("", "北京的冬天很冷，经常下雪。"),
}


def research(script: str, *args: str, cwd: Path) -> list[str]:
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    cmd = [sys.executable, str(ROOT / "research" / script), *args]
    done = subprocess.run(cmd, check=True, env=env, cwd=cwd, timeout=300, capture_output=True, text=True)
    return done.stdout.splitlines()


@pytest.fixture
def eval_dir(tmp_path) -> Path:
    write_beir(tmp_path / "eval" / "tiny", CORPUS, QUERIES, QRELS)
    write_beir(tmp_path / "eval" / "xquadr-zh-dev", CHINESE, {"c1": "高速铁路", "c2": "北京下雪"},
               [("c1", "z1", 1), ("c2", "z2", 1)])
    return tmp_path / "eval"


def test_eval_fusion_scores_variants_and_compares_tokenizers(eval_dir, tmp_path):
    lines = research("eval_fusion.py", "tiny", "--eval-dir", str(eval_dir), "--filter", "d800", cwd=tmp_path)
    rows = [line for line in lines if line.startswith("tiny")]
    for label in ("rrf k60 d800", "cc min-max a0.5 d800", "cc zmuv a0.5 d800", "cc max a0.5 d800"):
        assert any(label in row for row in rows), lines
    assert all(0 <= float(value) <= 1 for row in rows for value in row.split()[-2:])
    tokenizers = research("eval_fusion.py", "--tokenizers", "--eval-dir", str(eval_dir), cwd=tmp_path)
    assert [line.split()[0] for line in tokenizers[1:]] == ["bigram", "jieba"]


def test_eval_prf_runs_rm3_and_rocchio(eval_dir, tmp_path):
    variants = ["m0 T0 l1 b0", "m2 T5 l0.5 b0.5 i1"]
    lines = research("eval_prf.py", "tiny", "--eval-dir", str(eval_dir), "--variants", *variants, cwd=tmp_path)
    rows = [line for line in lines if line.startswith("tiny")]
    assert len(rows) == 2 and all(v in r for v, r in zip(variants, rows, strict=True)), lines


def test_profile_runs_on_cpu_with_the_tiny_shape(tmp_path):
    lines = research("profile_rerank.py", "--shape", "tiny", "--queries", "1", cwd=tmp_path)
    full, short = (float(line.split()[-2]) for line in lines if line.startswith("wall p50"))
    assert 0 < short < full  # 100 prompts of a few tokens cost less than 100 of ~360


def test_fusion_cache_and_leave_one_out_run_on_a_toy_collection(eval_dir, tmp_path):
    cache = tmp_path / "cache"
    research("fusion_cache.py", "tiny", "--eval-dir", str(eval_dir), "--out", str(cache), cwd=tmp_path)
    assert (cache / "tiny.pkl").exists() and (cache / "tiny-bm25").is_dir()
    lines = research("fusion_loo.py", "--cache", str(cache), "--eval-dir", str(eval_dir), "--collections", "tiny",
                     "--kinds", "normal", "bm25half", "densehalf", cwd=tmp_path)
    assert lines[0].startswith("fold ALL: bias="), lines
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == ["tiny", "tiny/bm25half", "tiny/densehalf"], lines
    assert all(0 <= float(row[i]) <= 1 for row in rows for i in (2, 4, 6, 8)), lines
    # The knowledge-base term alone, from the shipped per-query rule, whose other settings it keeps.
    lines = research("fusion_loo.py", "--cache", str(cache), "--eval-dir", str(eval_dir), "--collections", "tiny",
                     "--kinds", "normal", "bm25half", "--kb-term-only", cwd=tmp_path)
    from app.recall import RULE

    assert lines[0].startswith(f"fold ALL: bias={RULE.bias} coverage={RULE.coverage} dense_top={RULE.dense_top} ")
    assert " kb_coverage=" in lines[0] and " kb_coverage_low=" in lines[0], lines
