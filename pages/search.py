"""Search: ask a question, see the reranked passages (optionally beside the recall order)."""

import streamlit as st

from app.config import RECALL_MODES
from app.errors import KBError
from app.rerank.service import EngineState
from app.service import queries, search
from app.ui import cards, nav, resources, sidebar
from app.ui.text import literal, plain

ANSWER, LABEL_SET, LABEL_NOTE = "search_answer", "label_set", "label_note"

rt = resources.runtime()
options = sidebar.search_options()
st.title("Search")
if options.kb is None:
    st.info("There is no knowledge base yet. Upload documents first.")
    st.page_link(nav.page("upload"), label="Upload documents", icon=":material/upload_file:")
    st.stop()

resources.warm_reranker(rt)  # first visit starts the engine in the background
if rt.reranker.state == EngineState.LOADING:
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
            st.session_state[ANSWER] = search.run(
                rt, options.kb, query, instruction=options.instruction, top_n=options.top_n,
                recall_k=options.recall_k, recall_mode=mode,
            )
    except KBError as exc:
        st.error(literal(str(exc)))
        st.session_state.pop(ANSWER, None)

answer = st.session_state.get(ANSWER)
if answer is not None:
    result = answer.result
    sets = [s.name for s in queries.sets(rt, answer.kb)] or ["default"]
    label_set = st.selectbox("Label results into query set", sets, key=LABEL_SET, accept_new_options=True,
                             format_func=plain,
                             help="0 not relevant, 1 partly, 2 answers it: one click on a card adds the question "
                                  "and the passage to this set (type a new name to start one)")

    def label(hit, grade):
        try:
            queries.label_result(rt, answer.kb, label_set or "default", answer.query, hit.chunk, grade)
        except KBError as exc:
            st.session_state[LABEL_NOTE] = f"Not labelled: {exc}"
        else:
            st.session_state[LABEL_NOTE] = f"Labelled {grade} ({queries.GRADES[grade]}) in set {label_set}"

    if st.session_state.get(LABEL_NOTE):
        st.text(st.session_state.pop(LABEL_NOTE))
    st.caption(cards.timing_label(result))
    st.caption(f"Instruction in effect: {literal(result.instruction)}")
    if not compare:
        cards.render_hits(answer, result.hits, key="main", rerank_note=result.rerank_note, labeler=label)
    else:
        reranked, recalled = st.columns(2)
        with reranked:
            st.subheader("Reranked")
            cards.render_hits(answer, result.hits, key="reranked", rerank_note=result.rerank_note, labeler=label)
        with recalled:
            st.subheader("Recall order")  # unreranked on purpose: no banner
            cards.render_hits(answer, result.recall_hits, key="recall", labeler=label)
