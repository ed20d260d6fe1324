"""LexicalIndex against real bm25s: search, persistence, incremental updates, merge, several instances."""

from __future__ import annotations

import json
import random
import threading

import bm25s
import numpy as np
import pytest

from app.lexical import LexicalIndex, tokenize

WORDS = (
    "river bank money loan water fish boat bridge city tower train station ticket price market stock bond "
    "rate interest growth storm rain cloud wind solar energy power grid battery engine motor wheel road"
).split()
QUERIES = ["river bank", "money loan interest", "storm wind rain", "solar battery power", "train ticket price",
           "bridge", "engine motor wheel road", "fish", "数据 检索", "银行 利率 money"]


def make_docs(n_docs: int, seed: int = 0) -> dict[str, list[str]]:
    """Documents of 1-4 chunks of random words (some Chinese), with skewed frequencies like real text."""
    rng = random.Random(seed)
    vocab = WORDS + ["数据检索", "银行利率", "北京"]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    return {
        f"doc{d}": [" ".join(rng.choices(vocab, weights, k=rng.randint(3, 40))) for _ in range(rng.randint(1, 4))]
        for d in range(n_docs)
    }


def add_all(ix: LexicalIndex, docs: dict[str, list[str]]) -> None:
    for doc_id, texts in docs.items():
        ix.add(doc_id, [f"{doc_id}:{i}" for i in range(len(texts))], texts)


def reference_scores(docs: dict[str, list[str]], query: str) -> dict[str, float]:
    """Scores of a bm25s index built from scratch on `docs`: what the incremental index must reproduce."""
    ids = [f"{d}:{i}" for d, texts in docs.items() for i in range(len(texts))]
    model = bm25s.BM25()
    model.index([tokenize(t) for texts in docs.values() for t in texts], show_progress=False)
    tokens = [t for t in tokenize(query) if t in model.vocab_dict]
    scores = model.get_scores(tokens) if tokens else np.zeros(len(ids))
    return {ids[i]: float(s) for i, s in enumerate(scores) if s > 0}


def assert_matches_reference(ix: LexicalIndex, docs: dict[str, list[str]]) -> None:
    for q in QUERIES:
        got = dict(ix.search(q, k=10_000))
        want = reference_scores(docs, q)
        assert got.keys() == want.keys(), q
        np.testing.assert_allclose([got[c] for c in want], list(want.values()), rtol=1e-5, err_msg=q)


def test_search_returns_best_chunks_first_with_positive_scores(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add("d1", ["d1:0", "d1:1"], ["Cats purr on the sofa.", "Dogs bark loudly at night."])
    ix.add("d2", ["d2:0"], ["A barking dog and a sleeping dog."])
    hits = ix.search("barking dogs", k=5)
    assert [c for c, _ in hits] == ["d2:0", "d1:1"]
    assert hits[0][1] > hits[1][1] > 0
    assert ix.search("barking dogs", k=1) == hits[:1]
    assert ix.search("quantum chromodynamics", k=5) == []
    assert ix.search("the of", k=5) == []  # stopwords only
    assert [c for c, _ in ix.search("dog", k=5, exclude_doc_ids={"d2"})] == ["d1:1"]
    assert len(ix) == 3 and ix.doc_ids() == {"d1", "d2"}


def test_empty_index_searches_without_creating_files(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    assert ix.search("anything", k=5) == [] and len(ix) == 0 and ix.doc_ids() == set()
    assert not (tmp_path / "bm25").exists()


def test_incremental_updates_match_a_from_scratch_index(tmp_path):
    docs = make_docs(120)
    ix = LexicalIndex(tmp_path / "bm25", merge_min=10_000)
    first = dict(list(docs.items())[:70])
    add_all(ix, first)
    ix.merge()
    add_all(ix, {d: t for d, t in docs.items() if d not in first})  # a base segment plus a delta
    assert ix._base is not None and len(ix._delta.chunks) > 0
    assert_matches_reference(ix, docs)

    for d in ("doc3", "doc50", "doc119"):  # tombstones in the base and removals from the delta
        ix.remove(d)
        del docs[d]
    docs["doc7"] = ["river bank river bank", "北京 数据检索"]  # replace a base document
    add_all(ix, {"doc7": docs["doc7"]})
    assert ix._n_dead > 0
    assert_matches_reference(ix, docs)
    assert len(ix) == sum(len(t) for t in docs.values()) and ix.doc_ids() == set(docs)


def test_remove_hides_every_chunk_of_a_document(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25", merge_min=2)
    ix.add("a", ["a:0", "a:1"], ["solar power", "solar battery"])
    ix.add("b", ["b:0"], ["wind power"])  # merged: "a" lives in the base now
    ix.add("c", ["c:0"], ["solar wind"])  # in the delta
    ix.remove("a")
    ix.remove("c")
    assert ix.search("solar power", k=10) == [("b:0", pytest.approx(ix.search("power", k=1)[0][1]))]
    assert ix.doc_ids() == {"b"} and len(ix) == 1
    ix.remove("never-added")  # no-op
    assert len(ix) == 1


def test_reopening_from_disk_gives_the_same_results(tmp_path):
    docs = make_docs(40)
    ix = LexicalIndex(tmp_path / "bm25", merge_min=30)
    add_all(ix, docs)
    ix.remove("doc1")
    before = {q: ix.search(q, k=20) for q in QUERIES}
    again = LexicalIndex(tmp_path / "bm25")
    assert {q: again.search(q, k=20) for q in QUERIES} == before
    assert again.doc_ids() == ix.doc_ids()
    assert isinstance(again._base.model.scores["data"], np.memmap)


def test_merge_keeps_results_and_drops_old_generations(tmp_path):
    docs = make_docs(30)
    ix = LexicalIndex(tmp_path / "bm25", merge_min=10_000)
    add_all(ix, docs)
    ix.remove("doc2")
    del docs["doc2"]
    assert ix._base is None
    before = {q: ix.search(q, k=50) for q in QUERIES}
    ix.merge()
    ix.merge()
    assert ix._base is not None and len(ix._delta.chunks) == 0 and ix._n_dead == 0
    after = {q: ix.search(q, k=50) for q in QUERIES}
    for q in QUERIES:
        assert [c for c, _ in after[q]] == [c for c, _ in before[q]]
        np.testing.assert_allclose([s for _, s in after[q]], [s for _, s in before[q]], rtol=1e-5)
    names = sorted(p.name for p in (tmp_path / "bm25").iterdir())
    assert names == ["base-1", "base-2", "lock", "log-1.jsonl", "log-2.jsonl", "manifest.json"]
    assert_matches_reference(ix, docs)


def test_merge_of_an_emptied_index(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25", merge_min=1)
    ix.add("a", ["a:0"], ["river bank"])
    ix.remove("a")
    ix.merge()
    assert len(ix) == 0 and ix.search("river", k=3) == []
    assert LexicalIndex(tmp_path / "bm25").doc_ids() == set()


def test_a_reader_instance_sees_changes_of_a_writer_instance(tmp_path):
    writer = LexicalIndex(tmp_path / "bm25", merge_min=3)
    reader = LexicalIndex(tmp_path / "bm25")
    writer.add("a", ["a:0"], ["river bank"])
    assert [c for c, _ in reader.search("river", k=3)] == ["a:0"]
    writer.add("b", ["b:0"], ["river boat"])
    writer.add("c", ["c:0", "c:1"], ["river fish", "fish market"])  # merges into a new generation
    assert writer._generation == 1
    assert {c for c, _ in reader.search("river", k=10)} == {"a:0", "b:0", "c:0"}
    reader.remove("b")  # the reader writes too; the writer catches up before its own write
    writer.add("d", ["d:0"], ["river"])
    assert writer.doc_ids() == reader.doc_ids() == {"a", "c", "d"}
    assert reader.search("river fish", k=10) == writer.search("river fish", k=10)


def test_a_torn_log_line_is_ignored_and_cut_by_the_next_writer(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add("a", ["a:0"], ["river bank"])
    log = tmp_path / "bm25" / "log-0.jsonl"
    with open(log, "ab") as f:
        f.write(b'{"add": "b", "chunks": [["b:0", ["riv')  # a crash in the middle of a write
    reader = LexicalIndex(tmp_path / "bm25")
    assert reader.doc_ids() == {"a"}
    reader.add("c", ["c:0"], ["river"])
    lines = log.read_text().splitlines()
    assert [json.loads(line).get("add") for line in lines] == ["a", "c"]
    assert LexicalIndex(tmp_path / "bm25").doc_ids() == {"a", "c"}


def test_concurrent_searches_during_writes_see_consistent_snapshots(tmp_path):
    docs = make_docs(60, seed=1)
    ix = LexicalIndex(tmp_path / "bm25", merge_min=25)
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop():
        try:
            while not stop.is_set():
                for q in QUERIES:
                    hits = ix.search(q, k=10)
                    assert all(s > 0 for _, s in hits) and hits == sorted(hits, key=lambda h: (-h[1], h[0]))
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=search_loop) for _ in range(2)]
    for t in threads:
        t.start()
    add_all(ix, docs)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert_matches_reference(ix, docs)


def test_add_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="one per chunk"):
        LexicalIndex(tmp_path / "bm25").add("a", ["a:0", "a:1"], ["only one"])


def test_an_existing_index_keeps_its_cjk_tokenizer(tmp_path):
    LexicalIndex(tmp_path / "bm25", cjk="jieba").add("a", ["a:0"], ["我在北京大学读书"])
    reopened = LexicalIndex(tmp_path / "bm25", cjk="bigram")
    assert reopened.cjk == "jieba"
    assert [c for c, _ in reopened.search("北京", k=3)] == ["a:0"]
    assert reopened.search("京大", k=3) == []  # a bigram that jieba never produces


def test_ties_are_broken_by_chunk_id(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25", merge_min=1)
    ix.add_many([(d, [f"{d}:0"], ["same words here"]) for d in ("c", "a", "d", "b")])
    assert ix._base is not None
    assert [c for c, _ in ix.search("words", k=2)] == ["a:0", "b:0"]


def test_weighted_query_is_the_weighted_sum_of_its_terms_reference_scores(tmp_path):
    docs = make_docs(60, seed=3)
    ix = LexicalIndex(tmp_path / "bm25", merge_min=10, merge_at=40)
    add_all(ix, docs)  # past merge_at: a base segment plus a delta, both scored
    terms = {"river": 1.0, "bank": 0.25, "storm": 0.6, "solar": 2.0, "unknownword": 5.0, "rain": 0.0}
    want: dict[str, float] = {}
    for term, weight in terms.items():
        for cid, score in reference_scores(docs, term).items():
            want[cid] = want.get(cid, 0.0) + weight * score
    want = {c: s for c, s in want.items() if s > 0}
    got = dict(ix.search_terms(terms, k=10_000))
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[c] for c in want], list(want.values()), rtol=1e-5)
    # An unweighted query is the query's tokens counted.
    assert ix.search_terms({"river": 2.0, "bank": 1.0}, k=20) == ix.search("river bank river", k=20)
    assert ix.analyze("The Rivers") == ["river"]


def test_idf_counts_live_chunks_of_base_and_delta(tmp_path):
    docs = make_docs(60, seed=4)
    ix = LexicalIndex(tmp_path / "bm25", merge_min=10, merge_at=40)
    add_all(ix, docs)
    for gone in ("doc1", "doc7", "doc55"):  # tombstones in the base, removals from the delta
        ix.remove(gone)
        del docs[gone]
    chunks = [set(tokenize(t)) for texts in docs.values() for t in texts]
    terms = ["river", "solar", "北京", "unknownword"]
    got = ix.idf(terms)
    n = len(chunks)
    want = {}
    for t in terms:
        df = sum(t in c for c in chunks)
        if df:
            want[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    assert got.keys() == want.keys() == {"river", "solar", "北京"}
    assert got == pytest.approx(want)
