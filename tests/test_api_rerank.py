"""The API with the real reranker engine (the session's tiny Qwen3 reranker in vLLM), in this process:
`/v1/rerank` gives exactly `Reranker.score`, search reranks, health carries the self-test verdict."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import load_settings
from app.rerank.service import RerankService
from app.runtime import Runtime
from app.selftest import run_selftest
from app.service import health
from tests.fixtures_rerank import TINY_MAX_DOC_TOKENS

pytestmark = pytest.mark.slow

QUERY = "How do I stop the pump from overheating?"
DOCS = [
    "Troubleshooting: if the pump overheats, clean the intake filter with warm water.",
    "Refunds are issued within 14 days of purchase.",
    "The pump's intake filter should be replaced every six months.",
    "Our office is closed on public holidays.",
]
INSTRUCTION = "Given a maintenance question, retrieve the manual passage with the fix"


@pytest.fixture
def rt(embedder, tiny_vllm_reranker) -> Runtime:
    settings = load_settings(rerank_backend="vllm", max_doc_tokens=TINY_MAX_DOC_TOKENS)
    return Runtime(settings, embedder=embedder, reranker=RerankService(settings, tiny_vllm_reranker))


@pytest.mark.parametrize("instruction", [None, INSTRUCTION])
def test_rerank_scores_are_the_rerankers_own(rt, tiny_vllm_reranker, instruction):
    expected = tiny_vllm_reranker.score(QUERY, DOCS, instruction)
    body = {"model": "Qwen/Qwen3-Reranker-0.6B", "query": QUERY, "documents": DOCS}
    if instruction:
        body["instruction"] = instruction
    reply = TestClient(create_app(rt)).post("/v1/rerank", json=body)
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
    assert {r["index"]: r["relevance_score"] for r in results} == dict(enumerate(expected))  # exactly equal
    assert [r["relevance_score"] for r in results] == sorted(expected, reverse=True)
    assert all("document" not in r for r in results)
    assert reply.json()["model"] == tiny_vllm_reranker.model and reply.json()["usage"] == {"documents": 4}


def test_an_instruction_changes_the_scores(rt):
    client = TestClient(create_app(rt))

    def scores(**extra):
        results = client.post("/v1/rerank", json={"query": QUERY, "documents": DOCS, **extra}).json()["results"]
        return {r["index"]: r["relevance_score"] for r in results}

    assert scores() != scores(instruction=INSTRUCTION)


def test_rerank_takes_document_objects_top_n_and_returns_documents(rt, tiny_vllm_reranker):
    expected = tiny_vllm_reranker.score(QUERY, DOCS, None)
    best = max(range(4), key=lambda i: expected[i])
    body = {"query": QUERY, "documents": [{"text": d} for d in DOCS], "top_n": 1, "return_documents": True}
    [result] = TestClient(create_app(rt)).post("/v1/rerank", json=body).json()["results"]
    assert result == {"index": best, "relevance_score": expected[best], "document": {"text": DOCS[best]}}


def test_search_through_the_api_is_reranked_by_the_engine(rt, tiny_vllm_reranker):
    client = TestClient(create_app(rt))
    files = [("files", (f"doc{i}.txt", d.encode())) for i, d in enumerate(DOCS)]
    assert client.post("/api/kbs/m/documents", files=files).status_code == 200
    reply = client.post("/api/search", json={"kb": "m", "question": QUERY, "top": 4, "recall": 4}).json()
    assert reply["rerank_note"] == "" and set(reply["timings"]) == {"recall_s", "rerank_s"}
    hits = reply["hits"]
    assert all(h["reranked"] for h in hits) and [h["rank"] for h in hits] == [1, 2, 3, 4]
    by_recall = sorted(hits, key=lambda h: h["recall_rank"])
    expected = tiny_vllm_reranker.score(QUERY, [h["text"] for h in by_recall], None)
    assert [h["score"] for h in by_recall] == expected


def test_health_runs_the_self_test_once_per_engine_and_reports_its_verdict(rt, tiny_vllm_reranker):
    client = TestClient(create_app(rt))
    first = client.get("/api/health").json()
    assert (first["state"], first["model"], first["device"]) == ("ready", tiny_vllm_reranker.model, "CPU")
    verdict = health.checked_selftest(rt)  # waits for the test the first health call started
    assert verdict == run_selftest(tiny_vllm_reranker.score, None)
    assert health.checked_selftest(rt) is verdict and health.engine_health(rt).verdict is verdict  # not re-run
    reply = client.get("/api/health").json()
    assert reply["selftest"]["status"] == verdict.status and reply["ok"] == verdict.ok
    # The tiny model has random weights: whatever its verdict, a failing one is reported with its reason.
    assert reply["reason"] == ("" if verdict.ok else f"self-test {verdict.status}: {verdict.message}")
