"""Account: the signed-in user's roles, and personal API tokens for the CLI and scripts."""

import time

import streamlit as st

from app.errors import KBError
from app.service import access, tokens
from app.ui import resources
from app.ui.text import literal, plain

NEW_SECRET = "account_new_token"

rt = resources.runtime()
st.title("Account")
st.text(f"Signed in as {rt.user.email}{' (admin)' if rt.user.admin else ''}")

roles = access.my_roles(rt)
st.subheader("Your roles")
if roles:
    st.dataframe([{"knowledge base": plain(kb), "role": role} for kb, role in roles.items()], hide_index=True)
elif rt.user.admin:
    st.caption("As an admin (KB_ADMINS) you may do everything on every knowledge base.")
else:
    st.caption("No role on any knowledge base yet: ask an admin to grant you one.")

st.subheader("API tokens")
st.caption("A token lets the kb CLI and scripts use the REST API as you, with your roles: "
           "`export KB_API_TOKEN=<token>`. It is shown once; revoke it when it is no longer needed.")
with st.form("new_token", clear_on_submit=True):
    label = st.text_input("Name", placeholder="e.g. laptop CLI")
    if st.form_submit_button("Make a token"):
        try:
            st.session_state[NEW_SECRET] = tokens.create(rt, label)[0]
        except KBError as exc:
            st.error(literal(str(exc)))
if NEW_SECRET in st.session_state:
    st.success("Your new token (copy it now: it is not shown again):")
    st.code(st.session_state.pop(NEW_SECRET), language=None)

for token in tokens.mine(rt):
    left, right = st.columns([5, 1])
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(token.created_at))
    state = "revoked" if token.revoked_at else "live"
    left.text(f"#{token.id} {token.label}: made {made}, {state}")
    if token.revoked_at is None and right.button("Revoke", key=f"revoke_token_{token.id}"):
        tokens.revoke(rt, token.id)
        st.rerun()
