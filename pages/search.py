"""Search: ask a question, see the reranked passages (optionally beside the recall order)."""

import streamlit as st

from app.config import RECALL_MODES
from app.errors import KBError
from app.ui import cards, nav, resources, sidebar
from app.ui.searching import run_search

rt = resources.runtime()
options = sidebar.search_options()
st.title("Search")
if options.kb is None:
    st.info("There is no knowledge base yet. Upload documents first.")
    st.page_link(nav.page("upload"), label="Upload documents", icon=":material/upload_file:")
    st.stop()

resources.warm_reranker(rt)  # first visit starts the engine in the background
service = rt.reranker
if service.state == "loading":
    st.info("The reranker is loading in the background; the first search waits for it.")

with st.form("search"):
    query = st.text_input("Question", key="query", placeholder="e.g. How many vacation days do I get?")
    left, right = st.columns([3, 2])
    mode = left.radio("Recall", RECALL_MODES, index=RECALL_MODES.index(rt.settings.recall_mode),
                      horizontal=True, key="recall_mode",
                      help="dense: embeddings; bm25: keywords; hybrid: both, fused")
    compare = right.toggle("Show recall order beside", key="compare",
                           help="Recall order without reranking in a second column")
    submitted = st.form_submit_button("Search", type="primary")

if submitted:
    try:
        with st.spinner("Searching…"):
            st.session_state["search_view"] = run_search(rt, options, query, mode, compare)
    except KBError as exc:
        st.error(str(exc))
        st.session_state.pop("search_view", None)

view = st.session_state.get("search_view")
if view is not None:
    st.caption(f"Instruction in effect: {view.result.instruction}")
    if view.recall_only is None:
        cards.render_result(rt, view.kb, view.result, view.query, key="main")
    else:
        reranked, recalled = st.columns(2)
        with reranked:
            st.subheader("Reranked")
            cards.render_result(rt, view.kb, view.result, view.query, key="reranked")
        with recalled:
            st.subheader("Recall order")
            cards.render_result(rt, view.kb, view.recall_only, view.query, key="recall", banner=False)
