"""Library: the documents of the chosen knowledge base; preview, download, re-ingest or delete one."""

import streamlit as st

from app.errors import KBError
from app.service import documents
from app.ui import nav, resources, sidebar, upload
from app.ui.text import literal, plain

CONFIRM = "confirm_delete_doc"

rt = resources.runtime()
st.title("Library")
kb_name = sidebar.selected_kb()
if kb_name is None:
    st.info("There is no knowledge base yet.")
    st.page_link(nav.page("upload"), label="Upload documents", icon=":material/upload_file:")
    st.stop()

docs = documents.listing(rt, kb_name)
st.caption(f"{len(docs)} document{'' if len(docs) == 1 else 's'} in **{literal(kb_name)}**")
if not docs:
    st.page_link(nav.page("upload"), label="Upload documents", icon=":material/upload_file:")
    st.stop()

st.dataframe([{**vars(row), "name": plain(row.name)} for row in documents.rows(docs)], hide_index=True,
             width="stretch")
doc = st.selectbox("Document", docs, format_func=lambda d: plain(d.name), key="library_doc")

left, middle, right = st.columns(3)
path = documents.original(rt, kb_name, doc.doc_id)
if path is not None:
    left.download_button("Download original", data=path.read_bytes, file_name=doc.name, width="stretch")
if middle.button("Re-ingest", width="stretch", help="Parse, chunk and embed it again from the kept original"):
    with st.status(literal(f"{doc.name}: re-ingesting"), expanded=True) as box:
        bar = st.progress(0.0)

        def show(stage, n, total):
            text = literal(upload.progress_text(doc.name, stage, n, total))
            bar.progress(upload.progress_fraction(stage, n, total), text=text)

        outcome = documents.reingest(rt, kb_name, doc, progress=show)
        box.update(label=literal(upload.outcome_label(outcome)), state=upload.outcome_state(outcome),
                   expanded=False)
if right.button("Delete…", width="stretch"):
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

st.subheader("Chunks")
chunks = documents.chunks(rt, kb_name, doc.doc_id)
st.dataframe(
    [{"#": c.position, "page": c.page_label or "-", "text": c.text} for c in chunks],
    hide_index=True,
    width="stretch",
    column_config={"text": st.column_config.TextColumn(width="large")},
)
