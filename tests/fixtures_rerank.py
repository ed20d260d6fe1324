"""Reranker fixtures: a tiny random-weight Qwen3 reranker with the real tokenizer, and ONE vLLM engine
on it for the whole session (starting one costs ~25 s of CPU; search, CLI and app tests reuse it)."""

from __future__ import annotations

import pytest

# Small enough to keep engine start and scoring fast, large enough that search-test chunks fit whole.
TINY_MAX_DOC_TOKENS = 512


@pytest.fixture(scope="session")
def tiny_reranker_dir(tmp_path_factory):
    """A seeded random Qwen3ForCausalLM (hidden 128, 2 layers, fp32) plus the real Qwen3 tokenizer."""
    from testing.random_reranker import build_random_reranker

    return build_random_reranker(
        tmp_path_factory.mktemp("tiny-reranker"), shape="tiny", seed=0, dtype="float32"
    )


@pytest.fixture(scope="session")
def tiny_vllm_reranker(tiny_reranker_dir):
    """The session's one in-process vLLM engine on the tiny model (max_doc_tokens=512)."""
    from app.rerank.vllm_engine import VllmReranker

    # fp32 end to end: with "auto" vLLM would downcast the fp32 checkpoint to fp16
    reranker = VllmReranker(str(tiny_reranker_dir), max_doc_tokens=TINY_MAX_DOC_TOKENS, dtype="float32")
    yield reranker
    reranker.close()
