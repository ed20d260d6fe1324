"""Status: which models run where, the reranker engine's state, store counts, and a reranker self-test."""

import streamlit as st

from app.errors import RerankerUnavailable
from app.rerank.service import EngineState
from app.service import status
from app.ui import resources, sidebar
from app.ui.text import literal

rt = resources.runtime()
st.title("Status")

st.subheader("Embedding")
model, dim = status.embedding_facts(rt)
st.markdown(f"Model {literal(model)}, **{dim}** dimensions")


# While the engine loads, this section refreshes itself every 2 s; otherwise it redraws with the page.
@st.fragment(run_every=2.0 if rt.reranker.state == EngineState.LOADING else None)
def reranker_section():
    facts = status.reranker_facts(rt)
    st.subheader("Reranker")
    loaded = f" in {facts.load_seconds:.1f} s" if facts.load_seconds is not None else ""
    st.markdown(
        f"Backend {literal(facts.backend)} · model {literal(facts.model)} · device **{literal(facts.device)}**  \n"
        f"Engine: **{literal(facts.state)}**{loaded}"
    )
    if facts.state == EngineState.FAILED:
        st.error(f"The reranker failed to load: {literal(facts.error)}")
        if st.button("Retry loading"):
            rt.reranker.retry()
            resources.warm_reranker(rt)
    elif facts.state == EngineState.NOT_LOADED and st.button("Load now"):
        resources.warm_reranker(rt)


reranker_section()

st.subheader("Vector store")
store = status.store_facts(rt)
st.markdown(f"ChromaDB {literal(store.location)}")
kbs, docs, chunks = st.columns(3)
kbs.metric("Knowledge bases", store.kbs)
docs.metric("Documents", store.documents)
chunks.metric("Chunks", store.chunks)

st.subheader("Reranker self-test")
st.caption("Scores an obviously relevant and an obviously irrelevant passage for three questions; "
           "a working reranker puts every relevant one above its irrelevant one.")
if st.button("Run self-test"):
    try:
        with st.spinner("Scoring (loads the reranker if needed)…"):
            verdict = status.selftest(rt, sidebar.search_options().instruction)
    except RerankerUnavailable as exc:
        st.error(f"Cannot run the self-test: {literal(exc)}")
    else:
        (st.success if verdict.ok else st.error)(literal(f"{verdict.status}: {verdict.message}"))
        st.dataframe(
            [{"query": q, "relevant": r, "irrelevant": i}
             for (q, _, _), (r, i) in zip(status.SELFTEST_PAIRS, verdict.pair_scores, strict=True)],
            hide_index=True,
            width="stretch",
        )
