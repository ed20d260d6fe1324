"""Recall on a tiny real corpus: the real embedder, Chroma on disk and the BM25 index."""

from __future__ import annotations

import pytest

from app.models import Chunk, Hit
from app.query_history import MIN_QUERIES, QueryHistory
from app.recall import is_cjk_query, query_signals, query_weights, recall
from ingest.pipeline import ingest_bytes

# One question with two relevant documents, each in the top 3 of only one list: the dense list knows that
# "automobile ... turn over" is a car that will not start (no shared word); BM25 matches the part number
# exactly (to the embedder it is sub-word noise in a sentence about shipping).
DOCS = {
    "engine.txt": "My automobile refuses to turn over on frosty mornings.",
    "code.txt": "Order XJ-4711 ships from the Leipzig warehouse on Tuesdays.",
    "bakery.txt": "The bakery sells bread, car-shaped cookies and cakes every morning.",
    "garden.txt": "Tomatoes need sun, water and a fault-free trellis to grow tall.",
    "weather.txt": "Snow is forecast all week in the mountains.",
    "garage.txt": "The garage repairs cars and vans of every make.",
    "tyres.txt": "Winter tyres help cars grip on icy roads.",
    "windscreen.txt": "Frost covers the windscreen of a parked car overnight.",
    "ferry.txt": "The car ferry leaves the harbour at noon.",
    "zh-tea.txt": "绿茶是中国最古老的茶类，产于浙江杭州西湖一带。",
    "zh-train.txt": "高速铁路连接北京和上海，全程约四个半小时。",
}
QUERY = "car will not start in the frost, part XJ-4711"
RELEVANT = {"engine.txt", "code.txt"}


@pytest.fixture
def kb(runtime):
    kb = runtime.open_or_create_kb("kb")
    for name, text in DOCS.items():
        assert ingest_bytes(runtime, kb, name, text.encode()).ok
    return kb


def found_at(runtime, kb, query, k, mode) -> set[str]:
    return {c.chunk.doc_name for c in recall(runtime, kb, query, k, mode)}


def test_hybrid_finds_what_either_list_alone_misses(runtime, kb):
    got = {mode: len(found_at(runtime, kb, QUERY, 3, mode) & RELEVANT) for mode in ("dense", "bm25", "hybrid")}
    assert got["hybrid"] == 2
    assert got["dense"] < 2 and got["bm25"] < 2


def test_candidates_carry_every_rank(runtime, kb, make_runtime):
    plain = make_runtime(rerank_backend="off", prf_docs=0)  # without feedback: BM25's ranks for the query itself
    hybrid = recall(plain, kb, QUERY, 8, "hybrid")
    dense = [c.chunk.chunk_id for c in recall(runtime, kb, QUERY, 16, "dense")]
    bm25 = [c.chunk.chunk_id for c in recall(runtime, kb, QUERY, 16, "bm25")]
    assert [c.recall_rank for c in hybrid] == list(range(1, len(hybrid) + 1))
    assert [c.recall_score for c in hybrid] == sorted((c.recall_score for c in hybrid), reverse=True)
    for c in hybrid:
        cid = c.chunk.chunk_id
        assert c.dense_rank == (dense.index(cid) + 1 if cid in dense else None)
        assert c.bm25_rank == (bm25.index(cid) + 1 if cid in bm25 else None)
    assert any(c.dense_rank and c.bm25_rank for c in hybrid)
    # With feedback (the default), a BM25 rank is the better of the query's and the expanded query's.
    assert runtime.settings.prf_docs > 0
    for c in recall(runtime, kb, QUERY, 8, "hybrid"):
        cid = c.chunk.chunk_id
        assert c.dense_rank == (dense.index(cid) + 1 if cid in dense else None)
        if cid in bm25:
            assert c.bm25_rank <= bm25.index(cid) + 1
    only = recall(runtime, kb, QUERY, 3, "bm25")
    assert [(c.recall_rank, c.bm25_rank, c.dense_rank) for c in only] == [(r, r, None) for r in (1, 2, 3)]


def test_hybrid_candidates_carry_the_weights_their_query_got(runtime, kb):
    lexical = runtime.lexical(kb)
    weights = {}
    for query in (QUERY, "vehicle ignition trouble"):  # the second shares no word with any document
        dense = runtime.store.query_ids(kb, runtime.embedder.encode_query(query), 32)
        bm25 = lexical.search(query, 32)
        weights[query] = query_weights(query_signals(lexical, query, dense, bm25), runtime.settings.cjk_dense_weight)
        hybrid = recall(runtime, kb, query, 8, "hybrid")  # reads 4 x 8 = 32 from each list
        w_dense, w_bm25, w_feedback = weights[query]
        want = (("dense", w_dense), ("bm25", w_bm25), ("feedback", w_feedback)) if w_feedback else (
            ("dense", w_dense), ("bm25", 1 - w_dense))
        assert hybrid and all(c.fusion_weights == want for c in hybrid)
        assert sum(w for _, w in want) == pytest.approx(1.0)
        assert Hit(hybrid[0], 1, hybrid[0].recall_score, False).as_json()["fusion_weights"] == dict(want)
    # BM25 finds nothing for the second query: dense gets (almost) everything and feedback is skipped.
    assert weights["vehicle ignition trouble"][0] > 0.99 and weights["vehicle ignition trouble"][2] == 0
    assert 0.05 < weights[QUERY][0] < 0.95  # both lists match this one
    for mode in ("dense", "bm25"):
        assert all(c.fusion_weights == () for c in recall(runtime, kb, QUERY, 8, mode))


def test_cjk_queries_lean_on_bm25(make_runtime):
    assert is_cjk_query("北京到上海的高铁") and is_cjk_query("高速铁路 to 北京")
    assert not is_cjk_query("high-speed rail 北京") and not is_cjk_query("")
    assert is_cjk_query("Sky Digital是什么时候推出的？") and is_cjk_query("2000到2005年的变化")

    query = "上海高速铁路"
    for weight in (0.0, 1.0):
        rt = make_runtime(rerank_backend="off", cjk_dense_weight=weight)
        kb = rt.open_or_create_kb("kb")
        for name, text in DOCS.items():
            assert ingest_bytes(rt, kb, name, text.encode()).ok
        hybrid = recall(rt, kb, query, 8, "hybrid")
        # A CJK query: the fixed share KB_CJK_DENSE_WEIGHT x 0.5 against BM25's 0.5, and no feedback.
        lexical = rt.lexical(kb)
        dense = rt.store.query_ids(kb, rt.embedder.encode_query(query), 32)
        assert query_signals(lexical, query, dense, lexical.search(query, 32)) is None
        w_dense, w_bm25, w_feedback = query_weights(None, weight)
        assert (w_dense, w_bm25, w_feedback) == pytest.approx((weight / (1 + weight), 1 / (1 + weight), 0.0))
        assert hybrid[0].fusion_weights == (("dense", w_dense), ("bm25", 1 - w_dense))
        bm25 = [c.chunk.doc_name for c in recall(rt, kb, query, 8, "bm25")]
        assert [c.chunk.doc_name for c in hybrid[: len(bm25)]] == bm25 == ["zh-train.txt"]
        dense_only = [c for c in hybrid if c.bm25_rank is None]
        assert len(dense_only) == 7 and all(c.dense_rank for c in dense_only)
        # Weight 0: the English-only embedder cannot move anything, its chunks only fill the list.
        assert all((c.recall_score > 0) == (weight > 0) for c in dense_only[:-1]), weight


def test_hidden_documents_are_never_returned(runtime, kb):
    pending = "fault XJ-4711 car will not start cold mornings"
    doc_id = "pending-doc"
    runtime.catalog.begin_document(kb, doc_id, "pending.txt", len(pending))
    # Written to both indexes, as a crash between writing and committing would leave it.
    chunk = Chunk(f"{doc_id}:0", doc_id, "pending.txt", 0, pending, None, 0, len(pending))
    runtime.store.add(kb, [chunk], runtime.embedder.encode_documents([pending]))
    runtime.lexical(kb).add(doc_id, [chunk.chunk_id], [pending])
    for mode in ("dense", "bm25", "hybrid"):
        assert "pending.txt" not in found_at(runtime, kb, QUERY, 20, mode), mode
    runtime.catalog.commit_document(kb, doc_id, None, 1, replaces=[])
    assert all("pending.txt" in found_at(runtime, kb, QUERY, 20, m) for m in ("dense", "bm25", "hybrid"))


# Pseudo-relevance feedback: "wing flutter" shares no word with the second flutter report, which says
# "aeroelastic" and "instability" like the best hit does; the distractors share the query's words only.
FLUTTER = {
    "flutter.txt": "Wing flutter is an aeroelastic instability: the wing oscillates and the structure can fail.",
    "report.txt": "Aeroelastic instability was seen on the glider; oscillations grew until the structure failed.",
    "birds.txt": "Birds flutter their wings before landing on the branch.",
    "flags.txt": "Flags flutter in the wind above the stadium.",
    "chicken.txt": "Chicken wings are served with a spicy sauce.",
    "door.txt": "The wing mirror of the car was replaced at the garage.",
}


def test_feedback_expands_the_bm25_query_from_the_top_hits(make_runtime):
    ranks = {}
    for prf_docs in (0, 1):
        rt = make_runtime(rerank_backend="off", prf_docs=prf_docs)
        kb = rt.open_or_create_kb("kb")
        for name, text in FLUTTER.items():
            assert ingest_bytes(rt, kb, name, text.encode()).ok
        hybrid = recall(rt, kb, "wing flutter", 6, "hybrid")
        ranks[prf_docs] = {c.chunk.doc_name: (c.recall_rank, c.bm25_rank) for c in hybrid}
        assert hybrid[0].chunk.doc_name == "flutter.txt"
    # Without feedback BM25 cannot see the report; with the best hit as feedback, the expanded query finds it.
    assert ranks[0]["report.txt"][1] is None
    assert ranks[1]["report.txt"][1] is not None
    assert ranks[1]["report.txt"][0] < ranks[0]["report.txt"][0]


def test_feedback_leaves_cjk_queries_alone(make_runtime, kb):
    rt = make_runtime(rerank_backend="off", prf_docs=3)
    on = recall(rt, rt.open_kb("kb"), "上海高速铁路", 8, "hybrid")
    off = recall(make_runtime(rerank_backend="off", prf_docs=0), rt.open_kb("kb"), "上海高速铁路", 8, "hybrid")
    assert on == off


def test_a_kb_whose_questions_bm25_misses_leans_later_queries_on_dense(runtime, kb):
    before = dict(recall(runtime, kb, QUERY, 8, "hybrid")[0].fusion_weights)
    assert runtime.query_history.median(kb) is None  # one query says nothing about the knowledge base yet
    for _ in range(MIN_QUERIES):
        recall(runtime, kb, "vehicle ignition trouble", 8, "hybrid")  # no word of it is in any document
    assert runtime.query_history.median(kb) == 0.0
    assert QueryHistory(runtime.catalog).median(kb) == 0.0  # written to the catalog for the next process
    after = dict(recall(runtime, kb, QUERY, 8, "hybrid")[0].fusion_weights)
    assert 0.05 < before["dense"] < 0.95 and after["dense"] > 0.99
