"""Admin: who has which role on which knowledge base, and the audit log of every change."""

import time

import streamlit as st

from app.access import ROLES
from app.errors import KBError
from app.service import access, kbs
from app.ui import resources
from app.ui.text import literal, plain

rt = resources.runtime()
st.title("Admin")


def when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


st.subheader("Roles")
if rt.user is None:
    st.caption("Sign-in is off (single-user mode): everyone who opens the app may do everything, so there are "
               "no roles to grant. The README's Sign-in section says how to turn it on.")
else:
    names = kbs.names(rt)
    found = access.grants(rt)
    if found:
        st.dataframe([{"knowledge base": plain(g.kb), "user": g.email, "role": g.role, "granted by": g.granted_by,
                       "granted": when(g.granted_at)} for g in found], hide_index=True, width="stretch")
    else:
        st.caption("Nobody has a role yet: users other than the admins (KB_ADMINS) see no knowledge base.")
    with st.form("grant_role", clear_on_submit=True):
        left, middle, right = st.columns([2, 3, 1])
        kb = left.selectbox("Grant a role on", names, index=None, placeholder="pick a knowledge base",
                            format_func=plain)
        email = middle.text_input("User's e-mail", placeholder="name@example.com")
        role = right.selectbox("Role", ROLES)
        if st.form_submit_button("Grant"):
            try:
                if kb is None:
                    raise KBError("Pick a knowledge base.")
                access.grant(rt, kb, email, role)
            except KBError as exc:
                st.error(literal(str(exc)))
            else:
                st.rerun()
    if found:
        labels = {(g.kb, g.email): f"{g.email} on {g.kb} ({g.role})" for g in found}
        left, right = st.columns([4, 1])
        pick = left.selectbox("Take a role away", list(labels), format_func=lambda k: plain(labels[k]), index=None)
        if right.button("Revoke", disabled=pick is None):
            access.revoke(rt, *pick)
            st.rerun()

st.subheader("Audit log")
left, middle, right, far = st.columns(4)
actor = left.text_input("Who (e-mail, or local)", key="audit_actor")
action = middle.selectbox("Action", access.ACTIONS, index=None, placeholder="any", key="audit_action")
kb_filter = right.text_input("Knowledge base", key="audit_kb")
limit = far.number_input("Newest", min_value=10, max_value=10_000, value=500, step=100, key="audit_limit")
entries = access.audit_log(rt, actor=actor, action=action or "", kb=kb_filter.strip(), limit=int(limit))
st.caption(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, newest first")
st.dataframe([{"time": when(e.at), "who": plain(e.actor), "action": e.action, "knowledge base": plain(e.kb),
               "document": plain(e.document), "detail": plain(e.detail)} for e in entries],
             hide_index=True, width="stretch")
