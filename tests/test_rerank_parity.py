"""The project's vLLM reranker against a direct transformers run of the official model-card recipe."""

from __future__ import annotations

import threading

import pytest

from app.config import DEFAULT_INSTRUCTION
from tests.fixtures_rerank import TINY_MAX_DOC_TOKENS

pytestmark = pytest.mark.slow  # every test scores with the session's vLLM engine

# The model card's recipe, written out here independently of app.rerank.prompt.
CARD_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
CARD_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"

QUERIES = {
    "What is the capital of France?": [
        "Paris is the capital and most populous city of France.",
        "The Eiffel Tower was completed in 1889.",
        "Bananas are rich in potassium.",
        "France borders Belgium, Germany, Switzerland, Italy and Spain.",
        "Lyon is known for its cuisine.",
    ],
    "How does BM25 rank documents?": [
        "BM25 scores a document by term frequency, inverse document frequency and length normalisation.",
        "Dense retrieval embeds queries and passages into one vector space.",
        "The k1 parameter controls term frequency saturation.",
        "Cats sleep for most of the day.",
        "Reciprocal rank fusion combines several rankings.",
    ],
    "量子计算机是如何工作的？": [
        "量子计算机利用量子比特的叠加和纠缠进行计算。",
        "北京是中国的首都。",
        "Quantum computers use qubits that can be in superposition.",
        "今天天气很好，我们去公园散步吧。",
        "经典计算机使用二进制比特。",
    ],
    "When was the first moon landing?": [
        "Apollo 11 landed on the Moon on 20 July 1969.",
        "The Moon orbits the Earth every 27.3 days.",
        "123 456 789",
        "",
        "Neil Armstrong was the first person to walk on the Moon.",
    ],
}
CUSTOM_INSTRUCTION = "Given a question, find passages written in Chinese that answer it"


def card_scores(model, tokenizer, instruction, query, docs, batch_size=8):
    """Model card: ids(prefix) + ids(pair) + ids(suffix), left padding, last-token yes/no softmax."""
    import torch

    enc = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    prefix, suffix = enc(CARD_PREFIX), enc(CARD_SUFFIX)
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in docs]
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    scores = []
    for start in range(0, len(pairs), batch_size):
        ids = [prefix + enc(p) + suffix for p in pairs[start : start + batch_size]]
        width = max(map(len, ids))
        pad = tokenizer.pad_token_id or 0
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids])
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=mask).logits[:, -1, :]
        pair_logits = torch.stack([logits[:, no], logits[:, yes]], dim=1)
        scores += torch.nn.functional.log_softmax(pair_logits, dim=1)[:, 1].exp().tolist()
    return scores


@pytest.fixture(scope="module")
def hf_model(tiny_reranker_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_reranker_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_reranker_dir, dtype=torch.float32).eval()
    return model, tokenizer


def test_scores_match_official_recipe(tiny_vllm_reranker, hf_model):
    model, tokenizer = hf_model
    worst, pairs = 0.0, 0
    for instruction in (None, CUSTOM_INSTRUCTION):
        for query, docs in QUERIES.items():
            ours = tiny_vllm_reranker.score(query, docs, instruction)
            ref = card_scores(model, tokenizer, instruction or DEFAULT_INSTRUCTION, query, docs)
            assert all(0.0 <= s <= 1.0 for s in ours)
            worst = max(worst, *(abs(a - b) for a, b in zip(ours, ref, strict=True)))
            pairs += len(docs)
    assert pairs >= 20
    print(f"parity: {pairs} pairs, max |vLLM - recipe| = {worst:.2e}")
    assert worst < 1e-4, worst
    # the instruction is really used: it changes the scores
    query, docs = next(iter(QUERIES.items()))
    assert tiny_vllm_reranker.score(query, docs) != tiny_vllm_reranker.score(query, docs, CUSTOM_INSTRUCTION)


def test_long_document_is_truncated_like_the_recipe_on_truncated_text(tiny_vllm_reranker, hf_model):
    model, tokenizer = hf_model
    long_doc = " ".join(f"Sentence {i} talks about the history of Paris and France." for i in range(200))
    assert len(tokenizer.encode(long_doc)) > 3 * TINY_MAX_DOC_TOKENS
    # Independently: keep the document's first tokens (counting the space after "<Document>:"), decode
    # them back to text, and run the recipe on that text.
    kept = tokenizer.decode(tokenizer.encode(" " + long_doc)[:TINY_MAX_DOC_TOKENS])[1:]
    assert long_doc.startswith(kept) and len(kept) < len(long_doc) // 3
    query = "What is the capital of France?"
    [ours] = tiny_vllm_reranker.score(query, [long_doc])
    [ref] = card_scores(model, tokenizer, DEFAULT_INSTRUCTION, query, [kept])
    [untruncated] = card_scores(model, tokenizer, DEFAULT_INSTRUCTION, query, [long_doc])
    assert abs(ours - ref) < 1e-4
    assert abs(ours - untruncated) > 1e-3  # the cut mattered, so the check above is meaningful


def test_concurrent_callers_get_their_own_scores(tiny_vllm_reranker):
    jobs = [
        (q, docs[i:] + docs[:i], instr)
        for i, (q, docs) in enumerate(QUERIES.items())
        for instr in (None, CUSTOM_INSTRUCTION)
    ]
    expected = [tiny_vllm_reranker.score(*job) for job in jobs]
    results: dict[int, list[float]] = {}
    barrier = threading.Barrier(len(jobs))

    def call(i):
        barrier.wait()  # all 8 callers hit the engine at once, so their requests are merged
        results[i] = tiny_vllm_reranker.score(*jobs[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(jobs) == 8
    for i, exp in enumerate(expected):
        assert results[i] == pytest.approx(exp, abs=1e-6)


def test_too_long_query_is_refused_with_a_reason(tiny_vllm_reranker):
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput, match="too long"):
        tiny_vllm_reranker.score("word " * 3000, ["doc"])
    assert tiny_vllm_reranker.score("q", []) == []
    assert len(tiny_vllm_reranker.score("q", ["a", "b"])) == 2
