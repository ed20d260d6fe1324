"""RerankService: backend choice, state for the UI, fast failure when the model is not on this machine."""

from __future__ import annotations

import json
import socket
import time

import pytest

from app.config import load_settings
from app.errors import RerankerUnavailable
from app.rerank.service import EngineState, RerankService

NOT_OFFLINE = (
    "model Qwen/Qwen3-Reranker-0.6B is not available offline: not in the Hugging Face cache and no network "
    "(set KB_RERANK_MODEL to a local path)"
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_uncached_hub_model_fails_fast_and_the_failure_is_remembered():
    service = RerankService(load_settings(rerank_model="Qwen/Qwen3-Reranker-0.6B"))
    assert service.state is EngineState.NOT_LOADED
    started = time.monotonic()
    with pytest.raises(RerankerUnavailable) as exc:
        service.score("q", ["d"])
    assert time.monotonic() - started < 10
    assert str(exc.value) == NOT_OFFLINE
    assert (service.state, service.error) == (EngineState.FAILED, NOT_OFFLINE)
    started = time.monotonic()
    with pytest.raises(RerankerUnavailable, match="not available offline"):
        service.score("q", ["d"])
    assert time.monotonic() - started < 0.5  # no new attempt on every query
    service.retry()
    assert (service.state, service.error) == (EngineState.NOT_LOADED, "")


def test_uncached_hub_model_without_network_fails_fast(monkeypatch):
    """Hub mode on, but the hub cannot be reached: the bounded check answers in seconds."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    service = RerankService(load_settings(rerank_model="Qwen/Qwen3-Reranker-0.6B"))
    started = time.monotonic()
    service.start_loading().join(timeout=10)
    assert time.monotonic() - started < 10
    assert (service.state, service.error) == (EngineState.FAILED, NOT_OFFLINE)


def test_missing_local_directory_is_named(tmp_path):
    service = RerankService(load_settings(rerank_model=str(tmp_path / "no-such-model")))
    with pytest.raises(RerankerUnavailable, match="no-such-model does not exist"):
        service.ensure_loaded()
    (tmp_path / "empty").mkdir()
    service = RerankService(load_settings(rerank_model=str(tmp_path / "empty")))
    with pytest.raises(RerankerUnavailable, match="no config.json"):
        service.ensure_loaded()


def test_off_backend():
    service = RerankService(load_settings(rerank_backend="off"))
    assert service.state is EngineState.OFF
    with pytest.raises(RerankerUnavailable, match="KB_RERANK_BACKEND=off"):
        service.score("q", ["d"])


@pytest.mark.slow
def test_shared_engine_is_ready_and_scores(tiny_vllm_reranker):
    service = RerankService(load_settings(), reranker=tiny_vllm_reranker)
    assert (service.state, service.backend, service.device) == (EngineState.READY, "vllm", "CPU")
    assert service.model == tiny_vllm_reranker.model
    docs = ["Paris is the capital of France.", "Bananas are yellow."]
    assert service.score("capital of France?", docs) == tiny_vllm_reranker.score("capital of France?", docs)


def test_remote_backend_down_fails_with_the_url():
    url = f"http://127.0.0.1:{closed_port()}"
    service = RerankService(load_settings(rerank_backend="remote", rerank_url=url, rerank_model="m"))
    started = time.monotonic()
    with pytest.raises(RerankerUnavailable, match=f"reranker server at {url} is not reachable"):
        service.score("q", ["d"])
    # refused at once: before the client's tokenizer is loaded (5-7 s) and long before the 60 s response timeout
    assert time.monotonic() - started < 3
    assert service.state is EngineState.FAILED and service.device == f"remote server {url}"


def test_engine_state_reads_as_its_value_in_comparisons_text_and_json():
    state = EngineState.NOT_LOADED
    assert state == "not loaded" and state in ("loading", "not loaded")
    assert (str(state), f"**{state}**", json.dumps({"state": state})) == (
        "not loaded",
        "**not loaded**",
        '{"state": "not loaded"}',
    )
    assert [s.value for s in EngineState] == ["off", "not loaded", "loading", "ready", "failed"]


def test_engine_step_size_follows_the_setting_then_the_gpu():
    from app.rerank.vllm_engine import LARGE_GPU_BATCHED_TOKENS, batched_tokens

    gib = 2**30
    assert batched_tokens(8192, 80 * gib) == 8192  # an explicit setting always wins
    assert batched_tokens(0, 80 * gib) == LARGE_GPU_BATCHED_TOKENS  # H100 / H200
    assert batched_tokens(0, 24 * gib) is None  # smaller GPU: vLLM's default
    assert batched_tokens(0, 0) is None  # CPU


def test_started_engine_sends_no_usage_report(tiny_vllm_reranker):
    """vLLM's GPU worker reports usage to stats.vllm.ai when this predicate holds; the app reaches no
    outside host, so once the engine started it must not hold (the CPU worker never asks)."""
    from vllm.usage import usage_lib

    usage_lib._USAGE_STATS_ENABLED = None  # re-read the environment the engine started with
    assert not usage_lib.is_usage_stats_enabled()

