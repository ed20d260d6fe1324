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


@pytest.fixture(scope="session")
def inverted_reranker_dir(tmp_path_factory):
    """A tiny reranker that ranks inverted: the first seed whose model passes the self-test (scored in
    transformers, which the engine matches), with its "yes" and "no" rows swapped."""
    from app.selftest import PAIRS, verdict
    from testing.random_reranker import build_random_reranker, swap_yes_no, transformers_scores

    pairs = [(q, d) for q, relevant, irrelevant in PAIRS for d in (relevant, irrelevant)]
    root = tmp_path_factory.mktemp("inverted-reranker")
    for seed in range(64):
        model = build_random_reranker(root / f"seed{seed}", shape="tiny", seed=seed, dtype="float32")
        scores = transformers_scores(model, pairs)
        if verdict(list(zip(scores[::2], scores[1::2], strict=True))).ok:
            return swap_yes_no(model, root / "inverted")
    raise AssertionError("no seed in 0..63 gives a tiny reranker that passes the self-test")
