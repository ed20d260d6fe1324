"""Qwen3-Reranker served by `vllm serve` over HTTP (the model card's vLLM recipe).

The server is started as in the official tutorial:

    vllm serve Qwen/Qwen3-Reranker-0.6B --runner pooling \\
        --hf_overrides '{"architectures": ["Qwen3ForSequenceClassification"],
                         "classifier_from_token": ["no", "yes"], "is_original_qwen3_reranker": true}'

and we POST /score with text_1 = the formatted query part and text_2 = the formatted document parts,
so the server scores exactly the prompts the in-process engine scores. Without a `--chat-template`
vLLM joins text_1 + text_2 and tokenizes the whole string, which is the official prompt.
"""

from __future__ import annotations

import httpx

from app.errors import RerankerUnavailable
from app.rerank import prompt

CONNECT_TIMEOUT_S = 3.0


class RemoteReranker:
    """Reranker client for a `vllm serve` pooling server.

    Args:
        url: base URL, e.g. "http://127.0.0.1:8001".
        model: the model name the server serves (its `--served-model-name`, default the model id).
        timeout: seconds to wait for a response (connecting gives up after 3 s).
        max_doc_tokens: document budget in reranker tokens; applied only when `tokenizer` is given.
        tokenizer: the reranker's tokenizer, for exact truncation on this side. Without it documents are
            sent whole and the server rejects prompts over its max_model_len.
    """

    def __init__(
        self, url: str, model: str, timeout: float = 60.0, *, max_doc_tokens: int = 1024, tokenizer=None
    ):
        self.url = url.rstrip("/")
        self.model = model
        self.max_doc_tokens = max_doc_tokens
        self._tokenizer = tokenizer
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)))

    def check(self) -> None:
        """Raise RerankerUnavailable unless the server answers its /health endpoint."""
        self._request("GET", "/health")

    def score(self, query: str, documents: list[str], instruction: str | None = None) -> list[float]:
        if not documents:
            return []
        body = {
            "model": self.model,
            "text_1": prompt.query_part(query, instruction),
            "text_2": [prompt.document_part(self._truncate(doc)) for doc in documents],
        }
        data = self._request("POST", "/score", json=body).json()["data"]
        scores = [0.0] * len(documents)
        for item in data:  # the server may answer out of order; `index` says which document
            scores[item["index"]] = float(item["score"])
        return scores

    def close(self) -> None:
        self._client.close()

    def _truncate(self, document: str) -> str:
        if self._tokenizer is None:
            return document
        ids = prompt.document_ids(self._tokenizer, document, self.max_doc_tokens)
        # document_ids() tokenizes " " + document; drop that space again, the template adds it
        return self._tokenizer.decode(ids)[1:]

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._client.request(method, self.url + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RerankerUnavailable(f"reranker server at {self.url} did not answer in time: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RerankerUnavailable(f"reranker server at {self.url} is not reachable: {exc}") from exc
        if response.status_code != 200:
            raise RerankerUnavailable(
                f"reranker server at {self.url} answered {response.status_code}: {response.text[:300]}"
            )
        return response
