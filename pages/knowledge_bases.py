"""Knowledge bases: list, create, rename and delete (with confirmation)."""

import time

import streamlit as st

from app.errors import KBError
from app.service import access, kbs
from app.ui import resources, sidebar
from app.ui.text import literal, plain

CONFIRM = "confirm_drop_kb"

rt = resources.runtime()
st.title("Knowledge bases")

summaries = kbs.summaries(rt)
if summaries:
    st.dataframe(
        [
            {
                "name": plain(s.name),
                "documents": s.documents,
                "chunks": s.chunks,
                "embedding model": s.embed_model,
                "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created_at)),
            }
            for s in summaries
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No knowledge base yet: create one here, or just upload files." if access.is_admin(rt)
            else "You have no role on any knowledge base yet: ask an admin to grant you one.")
if not access.is_admin(rt):
    st.caption("Only admins (KB_ADMINS) create, rename and delete knowledge bases.")
    st.stop()

with st.form("create_kb", clear_on_submit=True):
    name = st.text_input("New knowledge base", placeholder="e.g. hr-policies")
    if st.form_submit_button("Create"):
        try:
            with st.spinner("Creating…"):
                kb = kbs.create(rt, name)
        except KBError as exc:
            st.error(literal(str(exc)))
        else:
            sidebar.select_kb(kb.name)
            st.rerun()

current = sidebar.selected_kb()
if current is not None:
    st.subheader(f"Selected: {literal(current)}")
    with st.form("rename_kb"):
        new_name = st.text_input("Rename to", value=current)
        if st.form_submit_button("Rename"):
            try:
                kb = kbs.rename(rt, current, new_name)
            except KBError as exc:
                st.error(literal(str(exc)))
            else:
                sidebar.select_kb(kb.name)
                st.rerun()

    if st.button(f"Delete {literal(current)}…"):
        st.session_state[CONFIRM] = current
    if st.session_state.get(CONFIRM) == current:
        st.warning(f"Delete **{literal(current)}** with all its documents, vectors and saved presets? "
                   "This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete the knowledge base", type="primary"):
            try:
                kbs.drop(rt, current)
            except KBError as exc:
                st.error(literal(str(exc)))
            else:
                st.session_state.pop(CONFIRM)
                sidebar.select_kb(None)
                st.rerun()
        if no.button("Cancel"):
            st.session_state.pop(CONFIRM)
            st.rerun()
