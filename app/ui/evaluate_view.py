"""Drawing a workbench run (a record from `app.service.evaluation`): metric tables, charts, per-query rows.

Everything a user typed (configuration specs, instructions, query texts, document names) is data in
tables and charts, never Markdown.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app.workbench.metrics import METRICS


def metrics_table(record: dict) -> pd.DataFrame:
    rows = []
    for config in record["report"]["configs"]:
        row = {"configuration": config["name"]}
        for m in METRICS:
            low, high = config[f"{m}_ci"]
            row[m] = config[m]
            row[f"{m} 95% CI"] = f"[{low:.3f}, {high:.3f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def comparisons_table(record: dict) -> pd.DataFrame:
    return pd.DataFrame([
        {"configuration": c["config"], "against": c["baseline"], "Δ nDCG@10": c["delta_ndcg@10"],
         "Δ MRR@10": c.get("delta_mrr@10"), "p-value": c["p_value"],
         "significant (p < 0.05)": "yes" if c["p_value"] < 0.05 else "no",
         "wins / ties / losses": f"{c['wins']} / {c['ties']} / {c['losses']}"}
        for c in record["report"]["comparisons"]
    ])


def metric_chart(record: dict, metric: str = "ndcg@10") -> alt.LayerChart:
    """The metric per configuration with its 95% interval."""
    data = pd.DataFrame([
        {"configuration": c["name"], metric: c[metric], "low": c[f"{metric}_ci"][0], "high": c[f"{metric}_ci"][1]}
        for c in record["report"]["configs"]
    ])
    base = alt.Chart(data).encode(y=alt.Y("configuration:N", sort=None, title=None))
    points = base.mark_point(filled=True, size=90).encode(x=alt.X(f"{metric}:Q", scale=alt.Scale(domain=[0, 1])))
    bars = base.mark_rule(strokeWidth=2).encode(x="low:Q", x2="high:Q")
    return (bars + points).properties(height=max(80, 40 * len(data)), title=f"{metric} with 95% CI")


def per_query_frame(record: dict, config: str) -> pd.DataFrame:
    """One row per query: the baseline's and `config`'s nDCG@10 and their difference, worst loss first."""
    baseline = record["configs"][0]["name"]
    ours, theirs = record["per_query"][config], record["per_query"][baseline]
    rows = [
        {"query": q, "baseline": theirs[q]["ndcg@10"], "this": ours[q]["ndcg@10"],
         "difference": ours[q]["ndcg@10"] - theirs[q]["ndcg@10"]}
        for q in ours
    ]
    return pd.DataFrame(rows).sort_values(["difference", "query"]).reset_index(drop=True)


def difference_chart(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame.assign(order=range(len(frame))))
        .mark_bar()
        .encode(
            x=alt.X("order:O", axis=None, title="queries, worst loss first"),
            y=alt.Y("difference:Q", title="Δ nDCG@10"),
            color=alt.condition("datum.difference < 0", alt.value("#c0392b"), alt.value("#27ae60")),
            tooltip=["query:N", "difference:Q"],
        )
        .properties(height=180, title="per-query difference against the baseline")
    )


def rankings_side_by_side(record: dict, query: str, config: str) -> None:
    """The baseline's and `config`'s top passages for `query`, labelled ones marked by their grade."""
    baseline = record["configs"][0]["name"]
    for column, name in zip(st.columns(2), (baseline, config), strict=True):
        with column:
            st.text(name)
            rows = record["rankings"][name].get(query, [])
            st.dataframe(
                pd.DataFrame([
                    {"#": r["rank"], "label": _grade(r["grade"]), "score": r["score"],
                     "document": r["doc"] + ("" if r["page"] is None else f" p. {r['page']}"), "text": r["text"]}
                    for r in rows
                ]),
                hide_index=True,
                width="stretch",
                column_config={"text": st.column_config.TextColumn(width="large")},
            )


def _grade(grade: int | None) -> str:
    return {None: "", 0: "0 not relevant", 1: "★ 1 partly", 2: "★★ 2 answers it"}.get(grade, f"★ {grade}")
