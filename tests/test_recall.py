"""Recall on a tiny real corpus: the real embedder, Chroma on disk and the BM25 index."""

from __future__ import annotations

import pytest

from app.models import Chunk
from app.recall import DENSE_WEIGHT, dense_weight, is_cjk_query, recall
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


def test_cjk_queries_lean_on_bm25(make_runtime):
    assert is_cjk_query("北京到上海的高铁") and is_cjk_query("高速铁路 to 北京")
    assert not is_cjk_query("high-speed rail 北京") and not is_cjk_query("")
    assert dense_weight("北京到上海的高铁", 0.1) == pytest.approx(0.1 * DENSE_WEIGHT)
    assert dense_weight("Beijing to Shanghai", 0.1) == DENSE_WEIGHT
    assert is_cjk_query("Sky Digital是什么时候推出的？") and is_cjk_query("2000到2005年的变化")

    query = "上海高速铁路"
    for weight in (0.0, 1.0):
        rt = make_runtime(rerank_backend="off", cjk_dense_weight=weight)
        kb = rt.open_or_create_kb("kb")
        for name, text in DOCS.items():
            assert ingest_bytes(rt, kb, name, text.encode()).ok
        hybrid = recall(rt, kb, query, 8, "hybrid")
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
