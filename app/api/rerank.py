"""POST /v1/rerank: this app's Qwen3 reranker for other tools, Cohere/Jina-style, plus an instruction.

Requests and answers follow the shape RAG tools already speak (`model`, `query`, `documents`, `top_n`,
`return_documents` in; `results` of `index` and `relevance_score`, best first, out); `instruction` is
the Qwen3-Reranker task description, so a tool can rank with a domain instruction.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import RuntimeDep
from app.service import rerank

router = APIRouter(tags=["rerank"])


class TextDocument(BaseModel):
    text: str


class RerankRequest(BaseModel):
    model: str | None = Field(
        None, description="Accepted for compatibility; the app's reranker answers and `model` in the reply names it"
    )
    query: str
    documents: list[str | TextDocument] = Field(description="Strings, or objects with a `text` field")
    top_n: int | None = Field(None, gt=0, description="Results to return (default: all)")
    instruction: str | None = Field(
        None,
        description="Qwen3-Reranker task instruction, e.g. 'Given a maintenance question, retrieve the manual "
        "passage with the fix'; default: general web search",
    )
    return_documents: bool = Field(False, description="Echo each document's text in its result")


class RerankResult(BaseModel):
    index: int = Field(description="Position in `documents` as sent")
    relevance_score: float = Field(description="P(yes) from the official Qwen3-Reranker prompt, in [0, 1]")
    document: TextDocument | None = None


class Usage(BaseModel):
    documents: int


class RerankReply(BaseModel):
    model: str
    results: list[RerankResult] = Field(description="Best first")
    usage: Usage


@router.post(
    "/v1/rerank",
    response_model=RerankReply,
    response_model_exclude_none=True,
    summary="Rerank documents for a query (Cohere/Jina-compatible, with an instruction)",
)
def rerank_documents(request: RerankRequest, rt: RuntimeDep) -> RerankReply:
    texts = [d if isinstance(d, str) else d.text for d in request.documents]
    ranking = rerank.rank(rt, request.query, texts, instruction=request.instruction, top_n=request.top_n)
    results = [
        RerankResult(
            index=r.index,
            relevance_score=r.score,
            document=TextDocument(text=texts[r.index]) if request.return_documents else None,
        )
        for r in ranking.results
    ]
    return RerankReply(model=ranking.model, results=results, usage=Usage(documents=len(texts)))
