"""The workbench end to end on real components: query sets in the catalog, `kb compare` / `kb tune` with the
real tiny vLLM reranker, labels that survive re-chunking, imports refused whole."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.errors import InvalidInput
from app.rerank.service import RerankService
from app.service import documents, evaluation, kbs, presets, queries, tuning
from app.workbench.labels import LabelImportError
from app.workbench.specs import parse_spec
from tests.conftest import EVAL_DIR
from tests.fixtures_rerank import TINY_MAX_DOC_TOKENS

XQUADR = EVAL_DIR / "xquadr-en"
N_QUERIES = 40


def xquadr_subset(folder, n_queries: int = N_QUERIES) -> dict[str, str]:
    """The first `n_queries` judged queries of xquadr-en and the corpus around them, as a BEIR folder;
    returns {document name: text} to ingest."""
    corpus = {}
    for line in (XQUADR / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        corpus[row["_id"]] = row["text"]
    qrels = [line.split("\t") for line in (XQUADR / "qrels.tsv").read_text().splitlines()[1:]]
    chosen = list(dict.fromkeys(q for q, _, _ in qrels))[:n_queries]
    judged = [(q, d, s) for q, d, s in qrels if q in chosen]
    paragraphs = {d.split("_")[0] for _, d, _ in judged}
    docs = {f"{cid}.txt": text for cid, text in corpus.items() if cid.split("_")[0] in paragraphs}
    folder.mkdir()
    queries_rows = [json.loads(line) for line in (XQUADR / "queries.jsonl").read_text().splitlines()]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries_rows if r["_id"] in chosen))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in judged))
    return docs


@pytest.fixture
def tiny_runtime(make_runtime, tiny_vllm_reranker):
    def make(**overrides):
        settings_rt = make_runtime(max_doc_tokens=TINY_MAX_DOC_TOKENS, **overrides)
        service = RerankService(settings_rt.settings, reranker=tiny_vllm_reranker)
        return type(settings_rt)(settings_rt.settings, embedder=settings_rt.embedder, reranker=service)

    return make


@pytest.mark.slow
@pytest.mark.skipif(not XQUADR.exists(), reason="needs ../shared/eval/xquadr-en")
def test_kb_compare_catches_a_reranker_that_makes_results_worse(tiny_runtime, tmp_path, monkeypatch, capsys):
    rt = tiny_runtime()
    docs = xquadr_subset(tmp_path / "beir")
    outcomes = documents.ingest_uploads(rt, "wiki", [(name, text.encode()) for name, text in docs.items()])
    assert all(o.ok for o in outcomes)
    assert main(["queries", "import", str(tmp_path / "beir"), "--kb", "wiki", "--set", "dev"]) == 0
    monkeypatch.setattr("app.cli._runtime", lambda: rt)  # the CLI's code path, with the session's engine
    capsys.readouterr()

    assert main(["compare", "--kb", "wiki", "--set", "dev", "--config", "recall=hybrid;rerank=off",
                 "--config", "recall=hybrid", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lines = (tmp_path / "beir" / "queries.jsonl").read_text().splitlines()
    asked = {json.loads(line)["text"].strip() for line in lines}
    assert out["queries"] == len(asked) > 30  # query texts are the ids: a question asked twice is one query
    assert [c["name"] for c in out["configs"]] == ["recall=hybrid;rerank=off", "recall=hybrid"]
    for config in out["configs"]:
        assert set(config) >= {"name", "spec", "ndcg@10", "mrr@10", "recall@k", "p@1", "ndcg@10_ci", "mrr@10_ci",
                               "recall@k_ci", "p@1_ci"}
        low, high = config["ndcg@10_ci"]
        assert low <= config["ndcg@10"] <= high
    (cmp,) = out["comparisons"]
    assert set(cmp) >= {"baseline", "config", "delta_ndcg@10", "p_value", "wins", "ties", "losses"}
    assert cmp["wins"] + cmp["ties"] + cmp["losses"] == len(asked)
    # Recall ranks xquadr-en well; random reranker weights scramble it: the workbench must say so.
    assert cmp["delta_ndcg@10"] < 0 and cmp["p_value"] < 0.05, cmp
    assert out["configs"][0]["recall@k"] == out["configs"][1]["recall@k"]  # same candidates, reordered

    runs = evaluation.saved_runs(rt, "wiki")
    assert len(runs) == 1 and runs[0].configs == ["recall=hybrid;rerank=off", "recall=hybrid"]
    saved = evaluation.reopen(rt, "wiki", runs[0].id)
    assert saved["report"] == out
    assert len(saved["rankings"]["recall=hybrid"]) == len(asked)


@pytest.mark.slow
def test_kb_tune_plans_runs_and_reports_on_held_out_queries(tiny_runtime, capsys, monkeypatch):
    rt = tiny_runtime()
    texts = {f"policy{i}.txt": f"Policy {i}: employees in team {i} may claim {i + 3} days of parental leave "
             f"after {i + 1} months of service." for i in range(8)}
    documents.ingest_uploads(rt, "hr", [(n, t.encode()) for n, t in texts.items()])
    rows = "query,doc,grade\n" + "".join(f"parental leave for team {i},policy{i}.txt,2\n" for i in range(8))
    assert queries.import_file(rt, "hr", "leave", "leave.csv", rows.encode()) == 8
    presets.save(rt, "hr", "HR", "Given an employee question, retrieve the policy that answers it")

    the_plan = tuning.plan(rt, "hr", "leave")
    labels = [c.label for c in the_plan.candidates]
    assert "preset: General web search" in labels and "saved: HR v1" in labels
    assert any(label.startswith("template en") for label in labels)
    assert not any(label.endswith("(中文)") for label in labels)  # an English knowledge base
    assert len(the_plan.tune_queries) == len(the_plan.held_out_queries) == 4
    assert the_plan.reranker_pairs == rt.settings.recall_k * (len(labels) * 4 + (tuning.FINALISTS + 1) * 4)

    monkeypatch.setattr("app.cli._runtime", lambda: rt)
    assert main(["tune", "--kb", "hr", "--set", "leave", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["tuning"]) == len(labels)
    scores = [t["ndcg@10"] for t in out["tuning"]]
    assert scores == sorted(scores, reverse=True)
    held = out["held_out"]
    assert held["queries"] == 4 and held["configs"][0]["spec"].startswith("instruction=")
    assert len(held["comparisons"]) == tuning.FINALISTS
    assert out["verdict"].startswith("No candidate beats") != out["beats_default"]
    # the figures of the held-out run are kept on the saved version that was measured, if it was a finalist
    assert rt.reranker.pairs_per_second() > 0
    assert tuning.plan(rt, "hr", "leave").estimated_s > 0


def test_labels_survive_re_ingest_with_another_chunk_size(make_runtime):
    words = ["travel", "meal", "phone", "housing", "tuition", "parking"] * 6
    sentences = [f"Clause {i} says that the {word} allowance is paid monthly." for i, word in enumerate(words)]
    files = [("rules.txt", " ".join(sentences[:18]).encode()), ("more.txt", " ".join(sentences[18:]).encode())]
    rows = "query,doc,quote,grade\n" + "".join(
        f"{word} allowance clause {i},{'rules.txt' if i < 18 else 'more.txt'},Clause {i} says that the {word},2\n"
        for i, word in ((i, words[i]) for i in (3, 10, 20, 31))
    )

    def measure(rt):
        first = documents.listing(rt, "kb")[0].doc_id
        chunking = [(c.char_start, c.char_end) for c in documents.chunks(rt, "kb", first)]
        result = evaluation.compare_configs(rt, "kb", "set", [parse_spec("recall=bm25;rerank=off")], save=False)
        return chunking, result.report.configs[0].mean

    rt = make_runtime(chunk_tokens=128, chunk_overlap=8, rerank_backend="off")
    documents.ingest_uploads(rt, "kb", files)
    queries.import_file(rt, "kb", "set", "labels.csv", rows.encode())
    chunks_before, before = measure(rt)
    rt = make_runtime(chunk_tokens=32, chunk_overlap=8, rerank_backend="off")
    for doc in documents.listing(rt, "kb"):
        assert documents.reingest(rt, "kb", doc).ok
    chunks_after, after = measure(rt)
    assert chunks_before != chunks_after and len(chunks_after) > len(chunks_before)
    assert before == after and before["recall@k"] == 1.0
    assert all(outcome.ok for outcome in kbs.reindex(rt, "kb"))  # a new KB key: labels move with the KB
    assert measure(rt)[1] == before


def test_an_import_with_bad_rows_stores_nothing(make_runtime):
    rt = make_runtime(rerank_backend="off")
    documents.ingest_uploads(rt, "kb", [("a.txt", b"The pump must be cleaned weekly.")])
    bad = (
        "query,doc,quote,grade\nclean pump,a.txt,cleaned weekly,2\n"
        "x,missing.txt,,1\ny,a.txt,not there,1\nz,a.txt,,two\n"
    )
    with pytest.raises(LabelImportError) as caught:
        queries.import_file(rt, "kb", "set", "bad.csv", bad.encode())
    assert [p.line for p in caught.value.problems] == [3, 4, 5]
    assert queries.sets(rt, "kb") == []
    with pytest.raises(InvalidInput, match="No query set 'set'"):
        queries.labels(rt, "kb", "set")
