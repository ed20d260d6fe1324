"""Sign-in for the pages: Streamlit's OpenID Connect (`st.login`, `st.user`, `[auth]` in secrets.toml).

Without an `[auth]` table the app is in single-user mode, as before sign-in existed. With one, a visitor
who is not signed in sees only the sign-in page (`gate`, called by app/main.py before any page), and every
page's Runtime acts for the signed-in e-mail (`acting`), so the service layer applies that user's roles.
"""

from __future__ import annotations

import os

import streamlit as st

from app.runtime import Runtime
from app.service import access
from app.signin import NO_AUTH_ENV


def configured() -> bool:
    """Is an [auth] table in the secrets Streamlit reads? (Safe outside a page run: the API thread asks.)"""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def _email() -> str:
    # Microsoft Entra may send no `email` claim; its `preferred_username` is then the sign-in address.
    for claim in ("email", "preferred_username"):
        value = st.user.get(claim)
        if isinstance(value, str) and "@" in value:
            return value
    return ""


def acting(rt: Runtime) -> Runtime:
    """`rt` acting for the signed-in user; `rt` itself in single-user mode."""
    if not configured():
        return rt
    if not st.user.is_logged_in:  # pages run only after `gate`; a stray call must not act for nobody
        st.stop()
    return access.as_user(rt, _email(), str(st.user.get("name") or ""))


def gate() -> None:
    """Stop the run at a sign-in page unless the visitor is signed in (with sign-in configured); the
    banner of `kb serve --no-auth` otherwise."""
    if not configured():
        if os.environ.get(NO_AUTH_ENV):
            st.warning("This app was started with `kb serve --no-auth` on an address other machines can reach: "
                       "anyone who can open it may read, upload and delete everything. Configure sign-in "
                       "(README, Sign-in) and restart without --no-auth.", icon=":material/lock_open:")
        return
    if not st.user.is_logged_in:
        st.title("Knowledge-base search")
        st.write("Sign in with your organisation's account to continue.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    if not _email():
        st.error("Your identity provider sent no e-mail address (claim `email`), which roles are granted to: "
                 "ask its administrator to include the `email` scope.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    with st.sidebar:
        st.text(f"Signed in as {_email()}")  # text, never Markdown: an e-mail can hold * or _
        st.button("Sign out", on_click=st.logout, key="sign_out")
