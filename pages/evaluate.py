"""Evaluate: query sets with labels, configurations compared on them, past runs, Suggest, instruction versions."""

import time

import streamlit as st

from app.config import RECALL_MODES
from app.errors import KBError
from app.service import access, evaluation, presets, queries, tuning
from app.ui import evaluate_view as view
from app.ui import jobs, nav, resources, sidebar
from app.ui.text import literal, plain
from app.workbench.specs import parse_spec

JOB, RECORD, SUGGESTION = "eval_job", "eval_record", "eval_suggestion"
NO_RERANK, TYPED = "No reranking (recall order)", "Typed instruction…"

rt = resources.runtime()
state = st.session_state
st.title("Evaluate")
kb = nav.require_kb(sidebar.selected_kb())

# ---- query sets ----------------------------------------------------------------------------------------
st.subheader("Query set")
sets = queries.sets(rt, kb)
names = [s.name for s in sets]
left, right = st.columns([2, 3])
set_name = left.selectbox("Query set", names, key="eval_set", index=0 if names else None, format_func=plain,
                          placeholder="none yet: import one or label search results")
if set_name:
    summary = next(s for s in sets if s.name == set_name)
    made_by = access.authors(rt, kb, "query_set").get(set_name)
    left.caption(f"{summary.queries} queries, {summary.labels} labels")
    by = ", ".join(f"{email} ({n})" for email, n in queries.label_authors(rt, kb, set_name).items())
    if made_by or by:  # text, not Markdown: an e-mail may hold _ or *
        left.text(f"made by {made_by or 'unknown'}; labels by {by or 'nobody recorded'}")
    csv_col, jsonl_col = left.columns(2)
    csv_col.download_button("Export CSV", queries.export(rt, kb, set_name, "csv"), file_name=f"{set_name}.csv")
    jsonl_col.download_button("Export JSONL", queries.export(rt, kb, set_name, "jsonl"),
                              file_name=f"{set_name}.jsonl")
with right.form("import_labels", clear_on_submit=True):
    upload = st.file_uploader("Import labels (CSV or JSONL: query, doc, grade; optional page, quote)",
                              type=["csv", "jsonl"])
    target = st.text_input("Into set", value=set_name or "default")
    if st.form_submit_button("Import") and upload is not None:
        try:
            n = queries.import_file(rt, kb, target, upload.name, upload.getvalue())
        except KBError as exc:
            st.error("Nothing was imported.")
            st.code(str(exc), language=None)  # several lines, one per bad row: shown as text
        else:
            st.success(f"Imported {n} labels.")
            state["eval_set"] = target.strip()
            st.rerun()

# ---- configurations ------------------------------------------------------------------------------------
st.subheader("Configurations")
choices = presets.available(rt, kb)
versions = presets.versions(rt, kb)
sources = [NO_RERANK, *(f"preset: {p.name}" for p in choices), *(f"version: {v.name}@{v.version}" for v in versions),
           TYPED]
count = st.number_input("How many", min_value=2, max_value=6, value=2, key="eval_count")
specs = []
for i in range(int(count)):
    with st.container(border=True):
        st.caption("baseline" if i == 0 else f"configuration {i + 1}")
        a, b, c, d = st.columns([3, 1, 1, 1])
        source = a.selectbox("Reranking", sources, index=0 if i == 0 else 1, key=f"eval_source_{i}", format_func=plain)
        mode = b.selectbox("Recall", RECALL_MODES, index=RECALL_MODES.index(rt.settings.recall_mode),
                           key=f"eval_mode_{i}")
        k = c.number_input("Recall K", 1, 1000, rt.settings.recall_k, key=f"eval_k_{i}")
        top = d.number_input("Top N (0: all)", 0, 1000, 0, key=f"eval_top_{i}")
        parts = [f"recall={mode}", f"k={k}", *([f"top={top}"] if top else [])]
        if source == NO_RERANK:
            parts.append("rerank=off")
        elif source == TYPED:
            text = st.text_area("Instruction", key=f"eval_text_{i}", height=68)
            parts.append(f"instruction={text}")
        else:
            parts.append(f"preset={source.split(': ', 1)[1]}")
        specs.append(";".join(parts))

job = state.get(JOB)
if st.button("Run evaluation", type="primary", disabled=not set_name or (job is not None and job.running)):
    try:
        parsed = [parse_spec(s) for s in specs]
    except KBError as exc:
        st.error(literal(str(exc)))
    else:
        state[JOB] = jobs.start("evaluation", lambda j: evaluation.compare_configs(
            rt, kb, set_name, parsed, progress=j.progress, cancel=j.cancel))
        st.rerun()


@st.fragment(run_every=1.0 if state.get(JOB) is not None and state[JOB].running else None)
def job_panel():
    job = state.get(JOB)
    if job is None:
        return
    if job.running:
        elapsed = time.monotonic() - job.started
        st.progress(job.fraction, text=literal(f"{job.title}: {job.stage} {job.done}/{job.total} ({elapsed:.0f} s)"))
        if st.button("Cancel"):
            job.cancel.set()
        return
    state.pop(JOB)
    if job.error:
        st.error(literal(job.error))
    elif job.title == "evaluation":
        state[RECORD] = {**job.result.record(), "id": job.result.run_id}
        st.rerun()
    else:
        state[SUGGESTION] = job.result
        st.rerun()


job_panel()

# ---- results -------------------------------------------------------------------------------------------
record = state.get(RECORD)
if record is not None:
    st.subheader("Results")
    st.text(f"run {record.get('id')} on set {record['set']}: {record['report']['queries']} queries; "
            f"baseline: {record['configs'][0]['name']}")
    st.dataframe(view.metrics_table(record), hide_index=True, width="stretch")
    if record["report"]["comparisons"]:
        st.dataframe(view.comparisons_table(record), hide_index=True, width="stretch")
    st.altair_chart(view.metric_chart(record), width="stretch")
    others = [c["name"] for c in record["configs"][1:]]
    if others:
        config = st.selectbox("Per-query differences of", others, key="eval_diff_config", format_func=plain)
        frame = view.per_query_frame(record, config)
        st.altair_chart(view.difference_chart(frame), width="stretch")
        st.dataframe(frame, hide_index=True, width="stretch")
        query = st.selectbox("Open a query (worst loss first)", list(frame["query"]), key="eval_open_query",
                             format_func=plain)
        view.rankings_side_by_side(record, query, config)

# ---- past runs -----------------------------------------------------------------------------------------
past = evaluation.saved_runs(rt, kb)
if past:
    st.subheader("Saved runs")
    labels = {r.id: f"run {r.id} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(r.ran_at))} · set {r.set_name} · "
              f"{' | '.join(r.configs)}" for r in past}
    chosen = st.selectbox("Saved run", list(labels), format_func=lambda r: plain(labels[r]), key="eval_saved")
    open_col, compare_col = st.columns(2)
    if open_col.button("Open"):
        state[RECORD] = {**evaluation.reopen(rt, kb, chosen), "id": chosen}
        st.rerun()
    if record is not None and record.get("id") != chosen and compare_col.button("Compare with the run shown"):
        saved = evaluation.reopen(rt, kb, chosen)
        try:
            rows = [evaluation.against_saved(record, chosen, saved, c["name"]) for c in saved["configs"]]
        except KBError as exc:
            st.error(literal(str(exc)))
        else:
            st.dataframe(rows, hide_index=True, width="stretch")

# ---- suggest -------------------------------------------------------------------------------------------
st.subheader("Suggest an instruction")
if set_name:
    try:
        the_plan = tuning.plan(rt, kb, set_name)
    except KBError as exc:
        st.caption(literal(str(exc)))
    else:
        eta = ("unknown until the reranker has scored a search" if the_plan.estimated_s is None
               else f"about {the_plan.estimated_s:.0f} s at the engine's measured rate")
        st.caption(f"{len(the_plan.candidates)} candidates, {len(the_plan.tune_queries)} tuning and "
                   f"{len(the_plan.held_out_queries)} held-out queries: up to {the_plan.reranker_pairs} reranker "
                   f"pairs, {eta}.")
        if st.button("Run Suggest", disabled=job is not None and job.running):
            state[JOB] = jobs.start("suggest", lambda j: tuning.tune(rt, kb, the_plan, progress=j.progress,
                                                                      cancel=j.cancel))
            st.rerun()
suggestion = state.get(SUGGESTION)
if suggestion is not None:
    (st.success if suggestion.beats_default else st.info)(literal(suggestion.verdict))
    st.dataframe([{"candidate": c.label, "nDCG@10 (tuning)": round(v, 4), "instruction": c.instruction}
                  for c, v in suggestion.tuning], hide_index=True, width="stretch")
    held = {**suggestion.held_out.record(), "id": suggestion.held_out.run_id}
    st.dataframe(view.comparisons_table(held), hide_index=True, width="stretch")
    if st.button("Make the best the default"):
        try:
            presets.set_default(rt, kb, suggestion.best.instruction, suggestion.best.label)
        except KBError as exc:
            st.error(literal(str(exc)))
        else:
            st.rerun()

# ---- versions and the default --------------------------------------------------------------------------
st.subheader("Instruction versions")
label, text = presets.default_instruction(rt, kb)
st.caption("Searches in this knowledge base start from:")
st.text(f"{label}: {text}")
if versions:
    saved_by = access.authors(rt, kb, "preset")
    st.dataframe([{"preset": plain(v.name), "version": v.version, "instruction": v.instruction,
                   "saved": time.strftime("%Y-%m-%d %H:%M", time.localtime(v.saved_at)),
                   "saved by": saved_by.get(f"{v.name}@{v.version}", ""),
                   **{f"nDCG@10 on {s}": f.get("ndcg@10") for s, f in v.figures.items()}} for v in versions],
                 hide_index=True, width="stretch")
    keys = {f"{v.name}@{v.version}": v for v in versions}
    pick = st.selectbox("Version", list(keys), key="eval_default_version", format_func=plain)
    if st.button("Make this version the default"):
        try:
            presets.set_default(rt, kb, keys[pick].instruction, f"{keys[pick].name} v{keys[pick].version}")
        except KBError as exc:  # a viewer: setting the default needs the editor role
            st.error(literal(str(exc)))
        else:
            st.rerun()
