"""First stage: recall candidates by dense similarity, BM25, or both fused.

Each candidate keeps its rank in every list it appeared in, so the UI can say why it was recalled.
Chunks of documents that are not `ready` in the catalog (being written, replaced or deleted) are
never returned.

Hybrid recall fuses the two lists by a convex combination of their scores, each divided by the list's best
score (`app.fusion.convex_combination`, norm "max": both scores have a natural floor of 0, so, unlike
min-max, the normalized value does not depend on how deep the list was read). docs/EVAL.md has the
measurements behind every constant here: on the five eval collections this beat reciprocal rank fusion
(k = 20 or 60), min-max and z-score normalization, other weights and depths.
"""

from __future__ import annotations

import re

from app.catalog import KnowledgeBase
from app.fusion import convex_combination
from app.models import Candidate, Chunk
from app.runtime import Runtime

# Each list is read deeper than k so that fusion can promote items that only one list ranks high
# (4 x k measured a little better than 2 x k on nfcorpus and the same elsewhere).
FUSION_DEPTH = 4
# Share of the fused score given to the dense list (BM25 gets the rest): equal weights.
DENSE_WEIGHT = 0.5
FUSION_NORM = "max"
# Han, Hiragana, Katakana: the tokenizer's CJK ranges.
_CJK = "\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_OTHER_WORD = re.compile(f"[^\\W\\d_{_CJK}]+")  # runs of letters that are not CJK


def is_cjk_query(query: str) -> bool:
    """True when the query's CJK characters outnumber its other words (a CJK character is about a word;
    digits do not count): "Sky Digital是什么时候推出的？" is CJK, "high-speed rail 北京" is not."""
    return len(_CJK_CHAR.findall(query)) > len(_OTHER_WORD.findall(query))


def dense_weight(query: str, cjk_dense_weight: float) -> float:
    """The dense list's weight for this query: scaled by `cjk_dense_weight` (KB_CJK_DENSE_WEIGHT) for a
    mostly-CJK query, since the bundled MiniLM embedder is English-only and ranks Chinese text poorly."""
    return DENSE_WEIGHT * (cjk_dense_weight if is_cjk_query(query) else 1.0)


def recall(rt: Runtime, kb: KnowledgeBase, query: str, k: int, mode: str) -> list[Candidate]:
    """The k best chunks for `query`, by `mode`: "dense", "bm25" or "hybrid"."""
    if mode not in ("dense", "bm25", "hybrid"):
        raise ValueError(f"unknown recall mode {mode!r}")
    hidden = rt.catalog.hidden_doc_ids(kb)
    if mode == "dense":
        return _as_candidates(_dense(rt, kb, query, k, hidden), "dense")
    if mode == "bm25":
        lexical = rt.lexical(kb).search(query, k, exclude_doc_ids=hidden)
        return _as_candidates(_with_chunks(rt, kb, lexical, {}), "bm25")
    depth = k * FUSION_DEPTH
    dense = _dense(rt, kb, query, depth, hidden)
    lexical = rt.lexical(kb).search(query, depth, exclude_doc_ids=hidden)
    w = dense_weight(query, rt.settings.cjk_dense_weight)
    fused = convex_combination([[(c.chunk_id, s) for c, s in dense], lexical], [w, 1 - DENSE_WEIGHT], FUSION_NORM)
    # Dense hits come with their text; only the BM25-only chunks that made the cut are fetched.
    chunks = {c.chunk_id: c for c, _ in dense}
    dense_rank = {c.chunk_id: r for r, (c, _) in enumerate(dense, start=1)}
    bm25_rank = {cid: r for r, (cid, _) in enumerate(lexical, start=1)}
    return [
        Candidate(
            chunk=chunk,
            recall_rank=rank,
            recall_score=score,
            dense_rank=dense_rank.get(chunk.chunk_id),
            bm25_rank=bm25_rank.get(chunk.chunk_id),
        )
        for rank, (chunk, score) in enumerate(_with_chunks(rt, kb, fused[:k], chunks), start=1)
    ]


def _dense(rt: Runtime, kb: KnowledgeBase, query: str, k: int, hidden: list[str]) -> list[tuple[Chunk, float]]:
    return rt.store.query(kb, rt.embedder.encode_query(query), k, exclude_doc_ids=hidden)


def _with_chunks(
    rt: Runtime, kb: KnowledgeBase, scored: list[tuple[str, float]], known: dict[str, Chunk]
) -> list[tuple[Chunk, float]]:
    """(chunk id, score) pairs as (Chunk, score), fetching from the store those not in `known`; ids the store
    lacks (the BM25 index ahead of a crashed write) are dropped."""
    missing = [cid for cid, _ in scored if cid not in known]
    chunks = {**known, **{c.chunk_id: c for c in rt.store.get(kb, missing)}}
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
