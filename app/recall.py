"""First stage: recall candidates by dense similarity, BM25, or both fused.

Each candidate keeps its rank in every list it appeared in, so the UI can say why it was recalled.
Chunks of documents that are not `ready` in the catalog (being written, replaced or deleted) are
never returned.

Hybrid recall fuses the two lists by a convex combination of their scores, each divided by the list's best
score (`app.fusion.convex_combination`, norm "max": both scores have a natural floor of 0, so, unlike
min-max, the normalized value does not depend on how deep the list was read). The weights are chosen per
query from what the lists say about themselves (`app.fusion.hybrid_weights` with `RULE`): a query whose best
BM25 chunk matches little of its idf mass leans on dense, one whose best dense hit is a weak match leans on BM25,
and every query of a knowledge base whose recent queries BM25 mostly matched little leans on dense.
docs/EVAL.md has the measurements behind every constant here, the rule's chosen by leave-one-collection-out.

With pseudo-relevance feedback (KB_PRF_DOCS, on by default) the first round's top fused chunks expand the BM25
query (`app.feedback.rm3_terms`), and the expanded query's BM25 list is fused as a third list, so a chunk that
shares the top hits' vocabulary but not the query's words can still be recalled (cranfield: nDCG@10 .411 ->
.434). The rule skips feedback when BM25's best chunk covers little of the query. The dense list is read once,
as ids and scores only; the chunks returned are fetched at the end.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.catalog import Hidden, KnowledgeBase
from app.feedback import rm3_terms
from app.fusion import ListSignals, WeightRule, convex_combination, hybrid_weights, list_signals
from app.ids import version_of
from app.models import Candidate, Chunk
from app.runtime import Runtime
from app.text import CJK_CHARS

if TYPE_CHECKING:
    from app.lexical import LexicalIndex

# Each list is read deeper than k so that fusion can promote items that only one list ranks high
# (4 x k measured a little better than 2 x k on nfcorpus and the same elsewhere).
FUSION_DEPTH = 4
FUSION_NORM = "max"
# The per-query weights (docs/EVAL.md, "Weights per query"): chosen by leave-one-collection-out
# (research/fusion_loo.py); these are the settings its descent picks on all five collections together. A trust
# region: a query whose BM25 coverage is in 0.36..1.2 and whose best cosine is in 0.5..0.75 gets exactly the fixed
# weights used before (dense 0.5, BM25 0.2, feedback 0.3); only a signal outside its band moves the dense share,
# and feedback is skipped below coverage 0.12. Coverage in tantivy's BM25 units. A knowledge base whose recent
# queries' median coverage is below 0.48 (`app.query_history`) leans every query on dense, by -8 x log(median /
# 0.48) in the logit: BM25 matching little of most of its questions is what a weak BM25 looks like
# (docs/EVAL.md, "The knowledge base's coverage").
RULE = WeightRule(bias=0.0, coverage=-3.0, dense_top=4.0, feedback_share=0.6, feedback_min_coverage=0.12,
                  coverage_band=(0.36, 1.2), dense_top_band=(0.5, 0.75), kb_coverage=-8.0, kb_coverage_low=0.48)
# The feedback chunks come from a first round with equal weights, the one RULE was chosen with (a first round at
# the query's own weights measured no better: docs/EVAL.md).
FEEDBACK_ROUND = (0.5, 0.5)
# Pseudo-relevance feedback (KB_PRF_DOCS > 0 top fused chunks): the BM25 query is expanded by RM3 with
# PRF_TERMS terms, the original query keeping PRF_QUERY_WEIGHT of the term weights; the expanded query's BM25
# list is fused next to the original one with RULE's share of BM25's weight. Not for mostly-CJK queries.
PRF_TERMS = 30
PRF_QUERY_WEIGHT = 0.5
# Han, Hiragana, Katakana: the tokenizer's CJK ranges (app/text.py).
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
_OTHER_WORD = re.compile(f"[^\\W\\d_{CJK_CHARS}]+")  # runs of letters that are not CJK


def is_cjk_query(query: str) -> bool:
    """True when the query's CJK characters outnumber its other words (a CJK character is about a word;
    digits do not count): "Sky Digital是什么时候推出的？" is CJK, "high-speed rail 北京" is not."""
    return len(_CJK_CHAR.findall(query)) > len(_OTHER_WORD.findall(query))


def recall(rt: Runtime, kb: KnowledgeBase, query: str, k: int, mode: str) -> list[Candidate]:
    """The k best chunks for `query`, by `mode`: "dense", "bm25" or "hybrid".

    Runs under the data dir's read lock: the hidden set and every list come from one committed state,
    never from the middle of another process's write (`app.locks`).
    """
    if mode not in ("dense", "bm25", "hybrid"):
        raise ValueError(f"unknown recall mode {mode!r}")
    embedding = rt.embedder.encode_query(query) if mode != "bm25" else None  # the model runs outside the lock
    with rt.lock.read():
        return _recall(rt, kb, query, k, mode, embedding)


def _recall(rt: Runtime, kb: KnowledgeBase, query: str, k: int, mode: str, embedding) -> list[Candidate]:
    hidden = rt.catalog.hidden(kb)
    if mode == "dense":
        return _as_candidates(_dense(rt, kb, embedding, k, hidden), "dense")
    if mode == "bm25":
        lexical = rt.lexical(kb).search(query, k, exclude_doc_ids=hidden.versions)
        return _as_candidates(_with_chunks(rt, kb, lexical, {}), "bm25")
    depth = k * FUSION_DEPTH
    lexical_index = rt.lexical(kb)
    dense = _dense_ids(rt, kb, embedding, depth, hidden)
    lexical = lexical_index.search(query, depth, exclude_doc_ids=hidden.versions)
    signals = query_signals(lexical_index, query, dense, lexical, rt.query_history.median(kb))
    if signals is not None:
        rt.query_history.add(kb, signals.bm25_coverage)
    weights = query_weights(signals, rt.settings.cjk_dense_weight)
    w_dense, w_bm25, w_feedback = weights
    bm25_lists = [lexical]
    feedback: list[Chunk] = []
    n_feedback = rt.settings.prf_docs
    if w_feedback > 0 and n_feedback > 0:
        first = convex_combination([dense, lexical], list(FEEDBACK_ROUND), FUSION_NORM)[:n_feedback]
        feedback = rt.store.get(kb, [cid for cid, _ in first])
    if feedback:
        terms = expanded_query(lexical_index, query, feedback, dict(first))
        bm25_lists.append(lexical_index.search_terms(terms, depth, exclude_doc_ids=hidden.versions))
        # The expanded query's list joins the original one, with the rule's share of BM25's weight.
        fused = convex_combination([dense, *bm25_lists], list(weights), FUSION_NORM)
        shown = (("dense", w_dense), ("bm25", w_bm25), ("feedback", w_feedback))
    else:
        fused = convex_combination([dense, lexical], [w_dense, 1 - w_dense], FUSION_NORM)
        shown = (("dense", w_dense), ("bm25", 1 - w_dense))
    dense_rank = _best_ranks([dense])
    bm25_rank = _best_ranks(bm25_lists)  # with feedback: the better of the original and the expanded query's
    return [
        Candidate(
            chunk=chunk,
            recall_rank=rank,
            recall_score=score,
            dense_rank=dense_rank.get(chunk.chunk_id),
            bm25_rank=bm25_rank.get(chunk.chunk_id),
            fusion_weights=shown,
        )
        for rank, (chunk, score) in enumerate(
            _with_chunks(rt, kb, fused[:k], {c.chunk_id: c for c in feedback}), start=1
        )
    ]


def query_signals(
    lexical_index: LexicalIndex,
    query: str,
    dense: list[tuple[str, float]],
    lexical: list[tuple[str, float]],
    kb_coverage: float | None = None,
) -> ListSignals | None:
    """What this query's lists say about themselves (`app.fusion.list_signals`, the BM25 coverage measured
    against the query's idf mass in this index), beside the knowledge base's median coverage; None for a
    mostly-CJK query, which keeps fixed weights (`query_weights`)."""
    if is_cjk_query(query):
        return None
    terms = lexical_index.analyze(query)
    idf = lexical_index.idf(terms)
    return list_signals(dense, lexical, sum(idf.get(t, 0.0) for t in terms), kb_coverage)


def query_weights(signals: ListSignals | None, cjk_dense_weight: float) -> tuple[float, float, float]:
    """(dense, BM25, feedback) weights for a query with these `query_signals`: `app.fusion.hybrid_weights`
    with `RULE`.

    A mostly-CJK query (None) keeps the fixed share `cjk_dense_weight` (KB_CJK_DENSE_WEIGHT) x 0.5 against
    BM25's 0.5, renormalized, and no feedback: with the rule its dense share rose where BM25's coverage of its
    bigrams was low, giving the English-only embedder weight (xquadr-zh-dev Recall@100 .9798 -> .9765,
    docs/EVAL.md)."""
    if signals is None:
        share = cjk_dense_weight / (1 + cjk_dense_weight)
        return share, 1 - share, 0.0
    return hybrid_weights(signals, RULE)


def expanded_query(
    lexical_index: LexicalIndex, query: str, feedback: list[Chunk], scores: dict[str, float]
) -> dict[str, float]:
    """The BM25 query expanded by RM3 from the feedback chunks (weighted by their first-round fused scores),
    expansion terms chosen by P(t|feedback) x idf (`app.feedback.rm3_terms`)."""
    texts = [(lexical_index.analyze(c.text), scores[c.chunk_id]) for c in feedback]
    idf = lexical_index.idf({t for tokens, _ in texts for t in tokens})
    return rm3_terms(lexical_index.analyze(query), texts, PRF_TERMS, PRF_QUERY_WEIGHT, idf=idf)


def _best_ranks(lists: list[list[tuple[str, float]]]) -> dict[str, int]:
    """Each id's best rank (1-based) over the lists."""
    ranks: dict[str, int] = {}
    for scored in lists:
        for r, (cid, _) in enumerate(scored, start=1):
            ranks[cid] = min(r, ranks.get(cid, r))
    return ranks


def _dense(rt: Runtime, kb: KnowledgeBase, embedding, k: int, hidden: Hidden) -> list[tuple[Chunk, float]]:
    extra = _partly_hidden(hidden)
    found = rt.store.query(kb, embedding, k * 2 if extra else k, exclude_doc_ids=hidden.doc_ids)
    return [(c, s) for c, s in found if version_of(c.chunk_id) not in extra][:k]


def _dense_ids(rt: Runtime, kb: KnowledgeBase, embedding, k: int, hidden: Hidden) -> list[tuple[str, float]]:
    extra = _partly_hidden(hidden)
    found = rt.store.query_ids(kb, embedding, k * 2 if extra else k, exclude_doc_ids=hidden.doc_ids)
    return [(cid, s) for cid, s in found if version_of(cid) not in extra][:k]


def _partly_hidden(hidden: Hidden) -> set[str]:
    """Hidden chunk generations of documents that are visible (a re-ingest under way, or its leftovers):
    the store's filter works on document ids, so these are dropped from its answer (over-fetched 2x)."""
    whole = set(hidden.doc_ids)
    return {v for v in hidden.versions if v.split(":", 1)[0] not in whole}


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
