"""Library: the documents of the chosen knowledge base; preview, download, re-ingest or delete one; the
ingest history."""

import time

import streamlit as st

from app.errors import KBError
from app.service import access, documents
from app.ui import library_view, nav, resources, sidebar, upload
from app.ui.text import literal, plain

CONFIRM = "confirm_delete_doc"


def ingest_history() -> None:
    """Every file given to this knowledge base and what became of it, so a failed upload is not forgotten."""
    history = documents.ingest_history(rt, kb_name)
    if history:
        failures = sum(h["status"] == "failed" for h in history)
        with st.expander(f"Ingest history: {len(history)} files, {failures} failed"):
            st.dataframe(
                [{"time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["at"])), "file": plain(h["name"]),
                  "outcome": h["status"], "detail": plain(h["detail"])} for h in history],
                hide_index=True,
                width="stretch",
            )


rt = resources.runtime()
st.title("Library")
kb_name = nav.require_kb(sidebar.selected_kb())

docs = documents.listing(rt, kb_name)
st.caption(f"{len(docs)} document{'' if len(docs) == 1 else 's'} in **{literal(kb_name)}**")
if not docs:
    st.page_link(nav.page("upload"), label="Upload documents", icon=":material/upload_file:")
    ingest_history()
    st.stop()

st.dataframe([{**vars(row), "name": plain(row.name)} for row in documents.rows(docs)], hide_index=True,
             width="stretch")
doc = st.selectbox("Document", docs, format_func=lambda d: plain(d.name), key="library_doc")

left, middle, right = st.columns(3)
viewer = access.role_of(rt, kb_name) != access.EDITOR  # the service refuses them anyway; say so up front
why = "Needs the editor role on this knowledge base" if viewer else None
path = documents.original(rt, kb_name, doc.doc_id)
if path is not None:
    left.download_button("Download original", data=path.read_bytes, file_name=doc.name, width="stretch")
if middle.button("Re-ingest", width="stretch", disabled=viewer,
                 help=why or "Parse, chunk and embed it again from the kept original"):
    with st.status(literal(f"{doc.name}: re-ingesting"), expanded=True) as box:
        bar = st.progress(0.0)

        def show(stage, n, total):
            text = literal(upload.progress_text(doc.name, stage, n, total))
            bar.progress(upload.progress_fraction(stage, n, total), text=text)

        outcome = documents.reingest(rt, kb_name, doc, progress=show)
        box.update(label=literal(upload.outcome_label(outcome)), state=upload.outcome_state(outcome),
                   expanded=False)
if right.button("Delete…", width="stretch", disabled=viewer, help=why):
    st.session_state[CONFIRM] = doc.doc_id

if st.session_state.get(CONFIRM) == doc.doc_id:
    st.warning(f"Delete **{literal(doc.name)}** ({doc.chunks} chunks) from {literal(kb_name)}? "
               "This cannot be undone.")
    yes, no = st.columns(2)
    if yes.button("Yes, delete it", type="primary"):
        try:
            documents.delete(rt, kb_name, doc.doc_id)
        except KBError as exc:
            st.error(literal(str(exc)))
        st.session_state.pop(CONFIRM)
        st.rerun()
    if no.button("Cancel"):
        st.session_state.pop(CONFIRM)
        st.rerun()

st.subheader("Details")
library_view.render_details(documents.details(rt, kb_name, doc.doc_id))

st.subheader("Chunks")
library_view.render_chunks(documents.chunks(rt, kb_name, doc.doc_id), key=doc.doc_id)
ingest_history()
