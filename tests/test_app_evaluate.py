"""The Evaluate page and the Search page's label control through AppTest, on real components (reranking off:
the configurations differ by recall; reranked comparisons are in test_workbench_compare.py)."""

from __future__ import annotations

import time

from app.service import evaluation, queries
from app.ui import resources
from tests.test_app_pages import app, catalog, click, seed  # noqa: F401 (app is a fixture)

COLOURS = ["red", "blue", "green", "steel", "brass", "copper"]
DOCS = {
    f"tool{i}.txt": f"Tool {i}: the {w} wrench fits bolts of size {i + 8} mm and needs oil every {i} weeks.".encode()
    for i, w in enumerate(COLOURS)
}
LABELS = "query,doc,grade\n" + "".join(f"{w} wrench oil,tool{i}.txt,2\n" for i, w in enumerate(COLOURS))


def test_a_click_on_a_result_card_labels_it_into_the_chosen_set(app):  # noqa: F811
    seed("tools", DOCS)
    at = app()
    at.text_input(key="query").input("blue wrench oil")
    click(at, "Search")
    assert at.selectbox(key="label_set").value == "default"  # no set yet: the first label starts one
    first = next(w for w in at.get("button_group") if w.key.startswith("label-main-"))
    first.set_value(2).run()
    assert not at.exception, at.exception
    (label,) = queries.labels(resources.runtime(), "tools", "default")
    assert (label.query, label.grade, label.doc) == ("blue wrench oil", 2, "tool1.txt")
    assert "Labelled 2 (answers it) in set default" in [t.value for t in at.text]


def test_evaluate_page_runs_two_configurations_and_opens_a_query(app):  # noqa: F811
    seed("tools", DOCS)
    rt = resources.runtime()
    queries.import_file(rt, "tools", "wrenches", "labels.csv", LABELS.encode())
    at = app("evaluate")
    assert at.selectbox(key="eval_set").value == "wrenches"
    at.selectbox(key="eval_source_1").set_value("No reranking (recall order)")
    at.selectbox(key="eval_mode_1").set_value("dense").run()
    click(at, "Run evaluation")
    deadline = time.monotonic() + 120
    while "eval_record" not in at.session_state and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.exception, at.exception
    record = at.session_state["eval_record"]
    assert [c["name"] for c in record["configs"]] == ["recall=hybrid;k=50;rerank=off", "recall=dense;k=50;rerank=off"]
    metrics = at.dataframe[0].value
    assert list(metrics["configuration"]) == [c["name"] for c in record["configs"]]
    assert {"ndcg@10", "ndcg@10 95% CI", "p@1"} <= set(metrics.columns)
    assert len(at.get("vega_lite_chart")) == 2  # metric with CI, per-query differences
    per_query = at.dataframe[2].value
    assert list(per_query["difference"]) == sorted(per_query["difference"])
    opened = at.selectbox(key="eval_open_query").value
    assert opened == per_query["query"][0]
    baseline, other = at.dataframe[3].value, at.dataframe[4].value
    assert len(baseline) and len(other) and "label" in baseline.columns
    assert any(v.startswith("★★") for v in baseline["label"])  # the labelled passage is marked
    assert [r.configs for r in evaluation.saved_runs(rt, "tools")] == [[c["name"] for c in record["configs"]]]
