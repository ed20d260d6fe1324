"""First stage: recall candidates by dense similarity, BM25, or both fused.

Each candidate keeps its rank in every list it appeared in, so the UI can say why it was recalled.
Chunks of documents that are not `ready` in the catalog (being written, replaced or deleted) are
never returned.
"""

from __future__ import annotations

from app.catalog import KnowledgeBase
from app.fusion import reciprocal_rank_fusion
from app.models import Candidate, Chunk
from app.runtime import Runtime

# Each list is asked for more than k so that fusion can promote items that only one list ranks high.
FUSION_DEPTH = 2


def recall(rt: Runtime, kb: KnowledgeBase, query: str, k: int, mode: str) -> list[Candidate]:
    hidden = rt.catalog.hidden_doc_ids(kb)
    if mode == "dense":
        return _as_candidates(_dense(rt, kb, query, k, hidden), "dense")
    if mode == "bm25":
        return _as_candidates(_bm25(rt, kb, query, k, hidden), "bm25")
    if mode != "hybrid":
        raise ValueError(f"unknown recall mode {mode!r}")
    depth = k * FUSION_DEPTH
    dense = _dense(rt, kb, query, depth, hidden)
    lexical = _bm25(rt, kb, query, depth, hidden)
    return _fuse(dense, lexical, k)


def _dense(rt: Runtime, kb: KnowledgeBase, query: str, k: int, hidden: list[str]) -> list[tuple[Chunk, float]]:
    return rt.store.query(kb, rt.embedder.encode_query(query), k, exclude_doc_ids=hidden)


def _bm25(rt: Runtime, kb: KnowledgeBase, query: str, k: int, hidden: list[str]) -> list[tuple[Chunk, float]]:
    scored = rt.lexical(kb).search(query, k, exclude_doc_ids=hidden)
    chunks = {c.chunk_id: c for c in rt.store.get(kb, [cid for cid, _ in scored])}
    return [(chunks[cid], score) for cid, score in scored if cid in chunks]


def _as_candidates(scored: list[tuple[Chunk, float]], source: str) -> list[Candidate]:
    return [
        Candidate(
            chunk=chunk,
            recall_rank=rank,
            recall_score=score,
            dense_rank=rank if source == "dense" else None,
            bm25_rank=rank if source == "bm25" else None,
        )
        for rank, (chunk, score) in enumerate(scored, start=1)
    ]


def _fuse(dense: list[tuple[Chunk, float]], lexical: list[tuple[Chunk, float]], k: int) -> list[Candidate]:
    dense_rank = {c.chunk_id: r for r, (c, _) in enumerate(dense, start=1)}
    bm25_rank = {c.chunk_id: r for r, (c, _) in enumerate(lexical, start=1)}
    chunks = {c.chunk_id: c for c, _ in dense + lexical}
    fused = reciprocal_rank_fusion([list(dense_rank), list(bm25_rank)])
    return [
        Candidate(
            chunk=chunks[cid],
            recall_rank=rank,
            recall_score=score,
            dense_rank=dense_rank.get(cid),
            bm25_rank=bm25_rank.get(cid),
        )
        for rank, (cid, score) in enumerate(fused[:k], start=1)
    ]
