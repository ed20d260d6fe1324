"""A process that used the in-process engine and ends without closing it (the CLI, a server stopped) takes vLLM's
torch process group down at exit; on a GPU a group left up makes torch print "destroy_process_group() was not
called before program exit" as the process ends. On CPU the group is gloo and says nothing, so the test reads
the group's state from an exit handler that runs after the app's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import atexit, sys
import torch.distributed as dist

# Registered before the app's hook, so it runs after it (exit handlers run last registered first).
atexit.register(lambda: print("process group up at exit:", dist.is_initialized(), flush=True))
from app.rerank.vllm_engine import VllmReranker, _close_at_exit

if sys.argv[2] == "without-hook":
    atexit.unregister(_close_at_exit)
reranker = VllmReranker(sys.argv[1], max_doc_tokens=512, dtype="float32")
print("scores", len(reranker.score("q", ["a document", "another one"])), flush=True)
"""


def _run(model_dir: Path, mode: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(model_dir), mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


@pytest.mark.slow
def test_an_engine_left_open_is_closed_and_its_process_group_taken_down_at_exit(tiny_reranker_dir):
    assert _run(tiny_reranker_dir, "with-hook")[-2:] == ["scores 2", "process group up at exit: False"]
    # Without the app's exit hook the group is still up when the process ends: what torch warns about on a GPU.
    assert _run(tiny_reranker_dir, "without-hook")[-2:] == ["scores 2", "process group up at exit: True"]
