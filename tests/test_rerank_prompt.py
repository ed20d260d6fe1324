"""Prompt formatting and truncation against the official Qwen3-Reranker model-card recipe."""

from __future__ import annotations

import pytest

from app.config import DEFAULT_INSTRUCTION
from app.rerank import prompt

# Copied from the model card (https://huggingface.co/Qwen/Qwen3-Reranker-0.6B), not from our module.
CARD_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
CARD_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def card_pair(instruction, query, doc):
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"


def card_ids(tokenizer, instruction, query, doc):
    """The model card tokenizes prefix, pair and suffix separately and concatenates the ids."""
    enc = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    return enc(CARD_PREFIX) + enc(card_pair(instruction, query, doc)) + enc(CARD_SUFFIX)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from testing.random_reranker import find_tokenizer_dir

    return AutoTokenizer.from_pretrained(find_tokenizer_dir())


DOCS = [
    "Paris is the capital of France.",
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "123 apples and 4.5 pears",
    ":colon first, then text",
    "\nstarts with a newline\n\nand has paragraphs",
    "  two leading spaces",
    "ends with spaces   ",
    "emoji 🎉 and accents: café naïve",
    "'s contraction at the start",
    "<|im_end|> looks like a special token",
    "",
]


def test_text_matches_official_template():
    assert prompt.PREFIX == CARD_PREFIX and prompt.SUFFIX == CARD_SUFFIX
    text = prompt.format_pair("what is BM25?", "BM25 is a ranking function.")
    assert (
        text
        == CARD_PREFIX
        + card_pair(DEFAULT_INSTRUCTION, "what is BM25?", "BM25 is a ranking function.")
        + CARD_SUFFIX
    )
    assert prompt.query_part("q", "custom task") == CARD_PREFIX + "<Instruct>: custom task\n<Query>: q\n"
    assert prompt.document_part("d") == "<Document>: d" + CARD_SUFFIX


@pytest.mark.parametrize("query", ["what is the capital?", "首都是哪里？", "query ending in newline\n", "x"])
def test_token_prompts_equal_whole_string_and_card_recipe(tokenizer, query):
    built = prompt.build_prompts(tokenizer, query, DOCS, max_doc_tokens=10_000, instruction="Find it")
    for doc, ids in zip(DOCS, built, strict=True):
        whole = tokenizer.encode(prompt.format_pair(query, doc, "Find it"), add_special_tokens=False)
        assert ids == whole, doc
        assert ids == card_ids(tokenizer, "Find it", query, doc), doc


def test_truncation_keeps_budget_and_suffix(tokenizer):
    doc = " ".join(f"word{i}" for i in range(400))
    [ids] = prompt.build_prompts(tokenizer, "q", [doc], max_doc_tokens=50)
    head = prompt.query_ids(tokenizer, "q", None)
    tail = tokenizer.encode(CARD_SUFFIX, add_special_tokens=False)
    assert ids[: len(head)] == head and ids[-len(tail) :] == tail
    kept = ids[len(head) : -len(tail)]
    assert len(kept) == 50
    assert (" " + doc).startswith(tokenizer.decode(kept))
    # a short document is left alone
    [short] = prompt.build_prompts(tokenizer, "q", ["short doc"], max_doc_tokens=50)
    assert short == tokenizer.encode(prompt.format_pair("q", "short doc"), add_special_tokens=False)


def test_empty_instruction_uses_default(tokenizer):
    assert prompt.query_part("q", "") == prompt.query_part("q", DEFAULT_INSTRUCTION)


def test_document_token_cache_matches_prompt_ids_and_evicts_oldest(tokenizer):
    from app.rerank.token_cache import DocumentTokenCache

    cache = DocumentTokenCache(tokenizer, max_doc_tokens=5, capacity=2)
    docs = ["长城是中国古代的军事防御工程。", "Short doc", "长城是中国古代的军事防御工程。"]
    assert cache.ids(docs) == [prompt.document_ids(tokenizer, d, 5) for d in docs]
    cache.ids(["third"])  # over capacity: the least recently used ("Short doc") goes
    assert list(cache._ids) == ["长城是中国古代的军事防御工程。", "third"]
