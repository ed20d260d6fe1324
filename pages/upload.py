"""Upload: drop files, watch each one go through parse -> chunk -> embed -> store, see the outcome."""

import streamlit as st

from app.errors import KBError
from app.service import access, documents
from app.ui import resources, sidebar, upload
from app.ui.text import literal

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
    st.caption(f"Into knowledge base **{literal(kb_name)}** (change it in the sidebar).")

limit_mb = st.get_option("server.maxUploadSize")
files = st.file_uploader(
    "Drop files here",
    type=upload.ACCEPTED_TYPES,
    accept_multiple_files=True,
    key="uploads",
    help=f"PDF, TXT, Markdown, HTML, DOCX; up to {min(limit_mb, rt.settings.max_file_mb)} MB each, "
         f"{rt.settings.max_batch_files:,} files and {rt.settings.max_batch_mb:,} MB at a time.",
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
        st.status(literal(upload.outcome_label(outcome)), state=upload.outcome_state(outcome))
    else:
        boxes[f.file_id] = st.status(literal(f"{f.name}: queued"), state="running", expanded=True)

if new:
    if not kb_name:
        st.error("Give the new knowledge base a name.")
        st.stop()
    try:
        # The whole batch against the limits (KB_MAX_BATCH_FILES, KB_MAX_BATCH_MB) before any of it goes in.
        documents.check_upload(rt, [f.size for f in new])
        documents.open_for_upload(rt, kb_name)
    except KBError as exc:  # over a limit, or the knowledge base was built with another embedding model
        st.error(literal(str(exc)))
        st.stop()
    if sidebar.selected_kb() is None:
        sidebar.select_kb(kb_name)
    for f in new:
        box = boxes[f.file_id]
        with box:
            bar = st.progress(0.0, text=literal(f"{f.name}: parse"))

        def show(stage, n, total, bar=bar, name=f.name, box=box):
            text = literal(upload.progress_text(name, stage, n, total))
            bar.progress(upload.progress_fraction(stage, n, total), text=text)
            box.update(label=text)

        outcome = documents.ingest_upload(rt, kb_name, f.name, f.getvalue(), progress=show)
        done[f.file_id] = outcome
        box.update(label=literal(upload.outcome_label(outcome)), state=upload.outcome_state(outcome), expanded=False)
    if sidebar.selected_kb() is None:
        st.rerun()  # show the new knowledge base in the sidebar
