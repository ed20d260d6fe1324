"""The pages with sign-in on, through AppTest (its `user` is what `st.user` reads; its `secrets` hold an
[auth] table): real catalog, Chroma, BM25 and embedder. The real provider and browser are in
tests/test_signin_browser.py; these are the quick checks of the same pages."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.access import AccessStore
from app.config import load_settings
from app.service import access, documents
from app.ui import resources
from tests.test_app_pages import MAIN

ADA, BOB = "ada@example.com", "bob@example.com"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-that-is-long-enough",
    "client_id": "kb",
    "client_secret": "kb-secret",
    "server_metadata_url": "http://localhost:9/.well-known/openid-configuration",
}


@pytest.fixture
def app(monkeypatch):
    """app(email or None, page): the app with sign-in configured, as that user (None: signed out)."""
    monkeypatch.setenv("KB_RERANK_BACKEND", "off")
    monkeypatch.setenv("KB_ADMINS", ADA)

    def start(email: str | None, page: str | None = None) -> AppTest:
        at = AppTest.from_file(MAIN, default_timeout=120)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": False} if email is None else {"is_logged_in": True, "email": email}
        at.run()
        if page:
            at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    return start


def store() -> AccessStore:
    return AccessStore(load_settings().catalog_path)


def seed_manuals_with_bob_as_viewer() -> None:
    admin = access.as_user(resources.runtime(), ADA)
    documents.ingest_uploads(admin, "manuals", [("pump.txt", b"If the pump overheats, clean the filter.")])
    access.grant(admin, "manuals", BOB, "viewer")


def test_signed_out_visitors_see_only_the_sign_in_page(app):
    at = app(None)
    assert [t.value for t in at.title] == ["Knowledge-base search"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.selectbox and not at.text_input


def test_a_viewer_gets_no_delete_and_no_upload(app):
    seed_manuals_with_bob_as_viewer()
    at = app(BOB, "library")
    assert at.sidebar.selectbox(key="kb").options == ["manuals"]
    buttons = {b.label: b.disabled for b in at.main.button}
    assert buttons["Delete…"] is True and buttons["Re-ingest"] is True
    at.switch_page("../pages/upload.py").run()
    assert at.warning[0].value.startswith("Uploading into this knowledge base needs the editor role")
    assert not at.exception


def test_the_admin_grants_a_role_on_the_admin_page(app):
    seed_manuals_with_bob_as_viewer()
    at = app(ADA, "admin")
    form_kb = next(s for s in at.main.selectbox if s.label == "Grant a role on")
    form_kb.select("manuals")
    next(t for t in at.main.text_input if t.label == "User's e-mail").input("Carol@Example.com")
    next(s for s in at.main.selectbox if s.label == "Role").select("editor")
    next(b for b in at.main.button if b.label == "Grant").click().run()
    assert not at.exception
    assert store().role("manuals", "carol@example.com") == "editor"
    assert [e.detail for e in store().audit(action="role grant", actor=ADA)][0] == "carol@example.com: none -> editor"


def test_a_token_is_made_once_and_revoked_on_the_account_page(app):
    seed_manuals_with_bob_as_viewer()
    at = app(BOB, "account")
    next(t for t in at.main.text_input if t.label == "Name").input("laptop")
    next(b for b in at.main.button if b.label == "Make a token").click().run()
    [secret] = [c.value for c in at.code]
    assert secret.startswith("kbt_") and store().token_owner(secret) == BOB
    at.run()
    assert not at.code  # shown once
    next(b for b in at.main.button if b.label == "Revoke").click().run()
    assert store().token_owner(secret) is None and store().tokens(BOB)[0].revoked_at is not None
