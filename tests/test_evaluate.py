"""`kb eval`: a BEIR folder ingested through the real pipeline, scored by ranx."""

from __future__ import annotations

import json
import math
import random

import pytest

from app.cli import main
from app.evaluate import METHODS, BeirCollection, evaluate
from tests.conftest import EVAL_DIR

CORPUS = {
    "d1": ("Cats", "The cat sat on the mat all afternoon."),
    "d2": ("", "Dogs bark at the postman every morning."),
    "d3": ("Physics", "Quantum physics explains how atoms behave."),
    "d4": ("Cats", "The cat sat on the mat all afternoon."),  # a twin of d1: same bytes, one stored document
}
QUERIES = {"q1": "cat mat", "q2": "dogs bark atoms", "q3": "unjudged query"}
QRELS = [("q1", "d1", 1), ("q1", "d4", 1), ("q2", "d3", 1), ("q2", "d2", 0)]


def write_beir(folder, corpus, queries, qrels) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, (title, text) in corpus.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(folder / "qrels.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)


@pytest.fixture
def beir(tmp_path):
    write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)
    return tmp_path / "tiny"


def test_kb_eval_json_has_exact_keys_and_hand_computed_metrics(beir, capsys):
    assert main(["eval", str(beir), "--method", "bm25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"ndcg@10", "recall@100", "mrr@10", "queries", "method", "seconds"}
    assert (report["method"], report["queries"]) == ("bm25", 2)  # q3 has no judgments
    # q1: BM25 finds only the d1/d4 document; a hit counts for both twins, at ranks 1 and 2: nDCG 1.
    # q2: "dogs bark" (d2, judged 0) outranks "atoms" (d3): d3 at rank 2 gives nDCG 1/log2(3), MRR 1/2.
    assert report["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2, abs=1e-4)
    assert report["mrr@10"] == pytest.approx((1 + 0.5) / 2, abs=1e-4)
    assert report["recall@100"] == 1.0
    assert report["seconds"] >= 0


def test_every_method_runs_on_one_ingest_and_bad_input_is_refused(runtime, beir, tmp_path):
    reports = evaluate(runtime, beir, ["dense", "bm25", "hybrid"], k=10)
    assert [r.method for r in reports] == ["dense", "bm25", "hybrid"]
    assert len({r.ingest_seconds for r in reports}) == 1
    assert all(r.queries == 2 and 0 < r.ndcg_at_10 <= 1 for r in reports)
    assert runtime.catalog.list_kbs() == []  # the user's data dir is untouched
    assert "rerank" in METHODS
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput, match="Unknown method 'bogus'"):
        evaluate(runtime, beir, ["bogus"])
    with pytest.raises(InvalidInput, match="missing corpus.jsonl"):
        evaluate(runtime, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not (EVAL_DIR / "xquadr-en").exists(), reason="needs ../shared/eval/xquadr-en")
def test_hybrid_beats_its_parts_on_an_xquadr_en_subset(runtime, tmp_path):
    """300 sentences of XQuAD-R (English) and their questions: hybrid must beat both of its parts."""
    full = BeirCollection.load(EVAL_DIR / "xquadr-en")
    rows = [json.loads(line) for line in open(EVAL_DIR / "xquadr-en" / "corpus.jsonl", encoding="utf-8")]
    keep = {r["_id"]: (r.get("title", ""), r["text"]) for r in rows[:300]}
    qrels = [(q, d, s) for q, docs in full.qrels.items() for d, s in docs.items() if d in keep]
    qids = sorted({q for q, _, _ in qrels})
    random.Random(0).shuffle(qids)
    qids = set(qids[:150])
    write_beir(
        tmp_path / "sub",
        keep,
        {q: t for q, t in full.queries.items() if q in qids},
        [r for r in qrels if r[0] in qids],
    )
    dense, bm25, hybrid = evaluate(runtime, tmp_path / "sub", ["dense", "bm25", "hybrid"])
    assert hybrid.ndcg_at_10 > max(dense.ndcg_at_10, bm25.ndcg_at_10)
    assert hybrid.recall_at_100 >= max(dense.recall_at_100, bm25.recall_at_100)
