"""Search: ask a question, see the reranked passages (optionally beside the recall order)."""

import streamlit as st

from app.config import RECALL_MODES
from app.errors import KBError
from app.rerank.service import EngineState
from app.service import health, queries, search
from app.ui import cards, nav, resources, search_state, sidebar
from app.ui.text import literal, plain

ANSWER, LABEL_SET, LABEL_NOTE = "search_answer", "label_set", "label_note"

rt = resources.runtime()
options = sidebar.search_options()
st.title("Search")
nav.require_kb(options.kb, "There is no knowledge base yet. Upload documents first.")

asked = search_state.pending()  # from the URL (a reload, a shared link) or the recent searches
if asked is not None:
    if asked.kb != options.kb:
        sidebar.select_kb(asked.kb)
        search_state.ask_again(asked)
        st.rerun()
    st.session_state["query"], st.session_state["recall_mode"] = asked.query, asked.mode

resources.warm_reranker(rt)  # first visit starts the engine in the background

with st.form("search"):
    query = st.text_input("Question", key="query", placeholder="e.g. How many vacation days do I get?")
    left, right = st.columns([3, 2])
    st.session_state.setdefault("recall_mode", rt.settings.recall_mode)
    mode = left.radio("Recall", RECALL_MODES, horizontal=True, key="recall_mode",
                      help="dense: embeddings; bm25: keywords; hybrid: both, fused")
    compare = right.toggle("Show recall order beside", key="compare",
                           help="Recall order without reranking in a second column")
    submitted = st.form_submit_button("Search", type="primary")



def run_search() -> None:
    """Answer now: in recall order while the reranker loads (the fragment below reranks it when ready)."""
    try:
        with st.spinner("Searching…"):
            st.session_state[ANSWER] = search.run(
                rt, options.kb, query, instruction=options.instruction, top_n=options.top_n,
                recall_k=options.recall_k, recall_mode=mode, wait_for_reranker=False,
            )
        search_state.remember(rt, options.kb, query, mode, options.instruction, options.top_n)
    except KBError as exc:
        st.error(literal(str(exc)))
        st.session_state.pop(ANSWER, None)


starting = rt.reranker.state in (EngineState.NOT_LOADED, EngineState.LOADING)
testing = rt.reranker.state == EngineState.READY and health.engine_health(rt).verdict is None


@st.fragment(run_every=2.0 if starting or testing else None)
def engine_banner() -> None:
    """While the engine starts: its stage and elapsed time; once it is ready, rerank the answer on screen;
    a red banner when its self-test says it ranks badly."""
    service = rt.reranker
    if service.state in (EngineState.NOT_LOADED, EngineState.LOADING):
        st.info(f"The reranker is starting ({literal(service.loading_note() or 'queued')}). Searches answer at "
                "once in recall order; the reranked order replaces it as soon as the engine is ready.")
        return
    now = health.engine_health(rt)
    if now.verdict is not None and not now.verdict.ok:
        st.error("The reranker failed its self-test, so its order may be worse than recall order: "
                 f"{literal(now.reason)}.")
        st.page_link(nav.page("status"), label="See Status", icon=":material/monitor_heart:")
    shown = st.session_state.get(ANSWER)
    if service.state == EngineState.READY and shown is not None and shown.result.waiting_for_reranker:
        st.rerun()  # the whole page: the search below runs again, reranked


if submitted or asked is not None:
    run_search()
elif (shown := st.session_state.get(ANSWER)) is not None and shown.result.waiting_for_reranker \
        and rt.reranker.state == EngineState.READY:
    run_search()  # the engine became ready after this answer came in recall order
engine_banner()

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
    if cards.flat_scores(result):
        st.warning(f"Every rerank score here lies within {cards.FLAT_SPREAD} of the others: the reranker does "
                   "not tell these passages apart, so their order says little.")
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
