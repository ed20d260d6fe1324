"""POST /api/search: `kb search` over HTTP, with the same parameters and the same hit objects."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import RuntimeDep
from app.service import search

router = APIRouter(tags=["search"])


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in the error, not ignored

    kb: str = Field(description="Knowledge base to search")
    question: str
    instruction: str | None = Field(None, description="Reranker instruction; default: general web search")
    top: int | None = Field(None, gt=0, description="Results to return (default KB_TOP_N)")
    recall: int | None = Field(None, gt=0, description="Candidates to rerank (default KB_RECALL_K)")
    recall_mode: Literal["dense", "bm25", "hybrid"] | None = Field(None, description="Default KB_RECALL_MODE")
    no_rerank: bool = Field(False, description="Recall order only")


class Hit(BaseModel):
    """The objects `kb search --json` prints."""

    doc: str
    page: int | None
    section: str = Field(description="The heading path the passage sits under; empty without headings")
    text: str
    score: float = Field(description="Rerank score P(yes) when reranked, else the recall score")
    rank: int
    recall_rank: int
    dense_rank: int | None
    bm25_rank: int | None
    fusion_weights: dict[str, float] = Field(
        description="Hybrid recall: the weight each list got for this query (dense, bm25, feedback); empty otherwise"
    )
    reranked: bool
    chunk_id: str
    doc_id: str
    position: int
    char_start: int
    char_end: int


class SearchReply(BaseModel):
    hits: list[Hit]
    rerank_note: str = Field(description="Why the hits are in recall order; empty when reranked")
    timings: dict[str, float] = Field(description="Seconds per stage: recall_s, rerank_s")


@router.post("/api/search", response_model=SearchReply, summary="Search a knowledge base")
def run_search(request: SearchRequest, rt: RuntimeDep) -> dict:
    answer = search.run(
        rt,
        request.kb,
        request.question,
        instruction=request.instruction,
        top_n=request.top,
        recall_k=request.recall,
        recall_mode=request.recall_mode,
        rerank=not request.no_rerank,
        context=False,
    )
    return answer.result.as_json()
