"""Upload: drop files, watch each one go through parse -> chunk -> embed -> store, see the outcome."""

import streamlit as st

from app.errors import KBError
from app.service import access, documents
from app.ui import resources, sidebar, upload

OUTCOMES = "upload_outcomes"  # file_id -> IngestOutcome, so a rerun shows results instead of redoing them

rt = resources.runtime()
st.title("Upload")
kb_name = sidebar.selected_kb()
if kb_name is None:
    kb_name = st.text_input("New knowledge base", value="default",
                            help="There is no knowledge base yet: the upload creates this one.").strip()
elif access.role_of(rt, kb_name) != access.EDITOR:
    st.warning("Uploading into this knowledge base needs the editor role; you are a viewer here. An admin can "
               "change that on the Admin page.")
    st.stop()
else:
    st.caption(f"Into knowledge base **{kb_name}** (change it in the sidebar).")

limit_mb = st.get_option("server.maxUploadSize")
files = st.file_uploader(
    "Drop files here",
    type=upload.ACCEPTED_TYPES,
    accept_multiple_files=True,
    key="uploads",
    help=f"PDF, TXT, Markdown, HTML, DOCX; up to {limit_mb} MB each.",
)
st.caption(f"A file marked red in the box was not uploaded: files over {limit_mb} MB are refused by the "
           f"browser (hover it: \"File must be {limit_mb:.1f}MB or smaller.\"). Split it, or raise "
           "server.maxUploadSize in .streamlit/config.toml.")

done = st.session_state.setdefault(OUTCOMES, {})
new = [f for f in files or [] if f.file_id not in done]
boxes = {}
for f in files or []:
    if f.file_id in done:
        outcome = done[f.file_id]
        st.status(upload.outcome_label(outcome), state=upload.outcome_state(outcome))
    else:
        boxes[f.file_id] = st.status(f"{f.name}: queued", state="running", expanded=True)

if new:
    if not kb_name:
        st.error("Give the new knowledge base a name.")
        st.stop()
    try:
        documents.open_for_upload(rt, kb_name)
    except KBError as exc:  # e.g. the knowledge base was built with another embedding model
        st.error(str(exc))
        st.stop()
    if sidebar.selected_kb() is None:
        sidebar.select_kb(kb_name)
    for f in new:
        box = boxes[f.file_id]
        with box:
            bar = st.progress(0.0, text=f"{f.name}: parse")

        def show(stage, n, total, bar=bar, name=f.name, box=box):
            bar.progress(upload.progress_fraction(stage, n, total), text=upload.progress_text(name, stage, n, total))
            box.update(label=upload.progress_text(name, stage, n, total))

        outcome = documents.ingest_upload(rt, kb_name, f.name, f.getvalue(), progress=show)
        done[f.file_id] = outcome
        box.update(label=upload.outcome_label(outcome), state=upload.outcome_state(outcome), expanded=False)
    if sidebar.selected_kb() is None:
        st.rerun()  # show the new knowledge base in the sidebar
