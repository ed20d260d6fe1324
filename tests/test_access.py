"""Roles, the audit log and personal tokens on real components: the catalog's SQLite file, Chroma, BM25
and the bundled embedder; the REST API through FastAPI's TestClient; `kb serve`'s refusal as a subprocess.
(The browser sign-in with a real OpenID Connect provider is tests/test_signin_browser.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.errors import AccessDenied, ConfigError, NotSignedIn
from app.service import access, documents, kbs, presets, queries, search, status, tokens
from app.signin import auth_section, check_exposure

ROOT = Path(__file__).resolve().parents[1]
PUMP = b"Troubleshooting: if the pump overheats, clean the intake filter with warm water."
FAQ = b"# FAQ\n\nRefunds are issued within 14 days of purchase."
ADMIN, EDITOR, VIEWER, NOBODY = "ada@example.com", "ed@example.com", "vic@example.com", "nob@example.com"


@pytest.fixture
def rt(make_runtime):
    """The process's runtime with ADMIN as the one admin; `manuals` holds pump.txt; ED edits, VIC views it."""
    base = make_runtime(rerank_backend="off", admins=f" {ADMIN.upper()} ")
    admin = access.as_user(base, ADMIN)
    documents.ingest_uploads(admin, "manuals", [("pump.txt", PUMP)])
    access.grant(admin, "manuals", EDITOR, "editor")
    access.grant(admin, "manuals", VIEWER, "viewer")
    return base


def test_a_viewer_reads_and_labels_but_cannot_change_documents(rt):
    viewer = access.as_user(rt, VIEWER)
    assert kbs.names(viewer) == ["manuals"]
    assert [d.name for d in documents.listing(viewer, "manuals")] == ["pump.txt"]
    hit = search.run(viewer, "manuals", "pump overheats", rerank=False).result.hits[0]
    label = queries.label_result(viewer, "manuals", "smoke", "pump overheats", hit.chunk, 2)
    assert access.authors(viewer, "manuals", "query_set") == {"smoke": VIEWER}
    assert list(access.authors(viewer, "manuals", "label").values()) == [VIEWER]
    assert queries.label_authors(viewer, "manuals", "smoke") == {VIEWER: 1}
    assert queries.labels(viewer, "manuals", "smoke") == [label]

    with pytest.raises(AccessDenied, match="needs the editor role; vic@example.com is a viewer"):
        documents.ingest_uploads(viewer, "manuals", [("faq.md", FAQ)])
    with pytest.raises(AccessDenied, match="needs the editor role"):
        documents.delete(viewer, "manuals", "pump.txt")
    with pytest.raises(AccessDenied, match="needs the editor role"):
        presets.save(viewer, "manuals", "mine", "Find the fix")
    with pytest.raises(AccessDenied, match="Only an admin"):
        kbs.drop(viewer, "manuals")
    with pytest.raises(AccessDenied, match="Only an admin"):
        access.grant(viewer, "manuals", VIEWER, "editor")
    assert [d.name for d in documents.listing(rt, "manuals")] == ["pump.txt"]  # nothing was lost


def test_an_editor_changes_documents_and_presets_but_not_knowledge_bases(rt):
    editor = access.as_user(rt, EDITOR)
    [outcome] = documents.ingest_uploads(editor, "manuals", [("faq.md", FAQ)])
    assert outcome.ok
    presets.save(editor, "manuals", "pump fixes", "Given a pump fault, find the fix")
    presets.save(access.as_user(rt, ADMIN), "manuals", "pump fixes", "Given a pump fault, find the fix")  # same text
    presets.save(access.as_user(rt, ADMIN), "manuals", "pump fixes", "Given a pump fault, find the repair")
    assert access.authors(editor, "manuals", "preset") == {"pump fixes@1": EDITOR, "pump fixes@2": ADMIN}
    hit = search.run(editor, "manuals", "pump overheats", rerank=False).result.hits[0]
    queries.label_result(editor, "manuals", "100%_done", "pump overheats", hit.chunk, 1)
    queries.label_result(editor, "manuals", "100%", "pump overheats", hit.chunk, 2)
    queries.delete_set(editor, "manuals", "100%")  # its labels' authors go with it, not the other set's
    assert queries.label_authors(editor, "manuals", "100%_done") == {EDITOR: 1}
    assert queries.label_authors(editor, "manuals", "100%") == {}
    with pytest.raises(AccessDenied, match="Only an admin"):
        kbs.create(editor, "other")
    with pytest.raises(AccessDenied, match="Only an admin .* create knowledge base 'new'"):
        documents.ingest_uploads(editor, "new", [("faq.md", FAQ)])
    assert kbs.names(rt) == ["manuals"]


def test_a_user_without_a_role_sees_no_knowledge_base(rt):
    nobody = access.as_user(rt, NOBODY)
    assert kbs.names(nobody) == [] and kbs.summaries(nobody) == []
    assert (status.store_facts(nobody).kbs, status.store_facts(nobody).documents) == (0, 0)
    assert (status.store_facts(rt).kbs, status.store_facts(rt).documents) == (1, 1)
    with pytest.raises(AccessDenied, match="nob@example.com has no role on knowledge base 'manuals'"):
        documents.listing(nobody, "manuals")
    with pytest.raises(AccessDenied, match="has no role"):
        search.run(nobody, "manuals", "pump", rerank=False)


def test_the_audit_log_records_who_uploaded_and_deleted(rt):
    editor = access.as_user(rt, EDITOR)
    documents.ingest_uploads(editor, "manuals", [("faq.md", FAQ)])
    documents.delete(editor, "manuals", "faq.md")
    admin = access.as_user(rt, ADMIN)
    mine = [(e.actor, e.action, e.kb, e.document) for e in access.audit_log(admin, actor=EDITOR)]
    assert mine == [(EDITOR, "delete", "manuals", "faq.md"), (EDITOR, "upload", "manuals", "faq.md")]
    everything = [(e.actor, e.action) for e in access.audit_log(admin)]
    assert everything[-4:] == [(ADMIN, "role grant"), (ADMIN, "role grant"), (ADMIN, "upload"), (ADMIN, "kb create")]
    assert [e.detail for e in access.audit_log(admin, action="role grant")] == [
        f"{VIEWER}: none -> viewer", f"{EDITOR}: none -> editor"]
    with pytest.raises(AccessDenied, match="read the audit log"):
        access.audit_log(editor)


def test_roles_follow_a_rename_and_go_with_a_drop(rt):
    admin = access.as_user(rt, ADMIN)
    kbs.rename(admin, "manuals", "handbooks")
    assert kbs.names(access.as_user(rt, VIEWER)) == ["handbooks"]
    kbs.drop(admin, "handbooks")
    documents.ingest_uploads(admin, "handbooks", [("pump.txt", PUMP)])  # a new one by the same name
    assert kbs.names(access.as_user(rt, VIEWER)) == []


def test_single_user_mode_allows_everything_and_audits_as_local(rt):
    assert rt.user is None
    documents.ingest_uploads(rt, "scratch", [("faq.md", FAQ)])
    kbs.drop(rt, "scratch")
    assert [(e.actor, e.action, e.kb) for e in access.audit_log(rt, kb="scratch")] == [
        ("local", "kb drop", "scratch"), ("local", "upload", "scratch"), ("local", "kb create", "scratch")]


def test_a_revoked_token_is_refused(rt):
    viewer = access.as_user(rt, VIEWER)
    secret, token = tokens.create(viewer, "laptop")
    assert tokens.runtime_for(rt, secret).user.email == VIEWER
    assert rt.access.tokens(VIEWER)[0].id == token.id and secret not in str(rt.access.tokens(VIEWER))
    tokens.revoke(viewer, token.id)
    with pytest.raises(NotSignedIn, match="unknown or was revoked"):
        tokens.runtime_for(rt, secret)


def test_the_api_with_sign_in_applies_the_tokens_roles(rt):
    client = TestClient(create_app(rt, signed_in=True))
    viewer_token = tokens.create(access.as_user(rt, VIEWER), "cli")[0]
    nobody_token = tokens.create(access.as_user(rt, NOBODY), "cli")[0]
    as_viewer = {"Authorization": f"Bearer {viewer_token}"}

    assert client.get("/api/kbs").status_code == 401
    assert [k["name"] for k in client.get("/api/kbs", headers=as_viewer).json()["kbs"]] == ["manuals"]
    assert client.get("/api/kbs", headers={"Authorization": f"Bearer {nobody_token}"}).json() == {"kbs": []}
    found = client.post("/api/search", json={"kb": "manuals", "question": "pump", "no_rerank": True}, headers=as_viewer)
    assert found.status_code == 200 and found.json()["hits"][0]["doc"] == "pump.txt"

    upload = client.post("/api/kbs/manuals/documents", files=[("files", ("faq.md", FAQ))], headers=as_viewer)
    assert upload.status_code == 403 and "needs the editor role" in upload.json()["detail"]
    deleted = client.delete("/api/kbs/manuals/documents/pump.txt", headers=as_viewer)
    assert deleted.status_code == 403
    assert [d.name for d in documents.listing(rt, "manuals")] == ["pump.txt"]

    tokens.revoke(access.as_user(rt, VIEWER), rt.access.tokens(VIEWER)[0].id)
    refused = client.get("/api/kbs", headers=as_viewer)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_with_sign_in_the_shared_api_token_opens_nothing(make_runtime):
    rt = make_runtime(rerank_backend="off", api_token="the-shared-secret")
    shared = {"Authorization": "Bearer the-shared-secret"}
    assert TestClient(create_app(rt)).get("/api/kbs", headers=shared).status_code == 200  # single-user mode
    refused = TestClient(create_app(rt, signed_in=True)).get("/api/kbs", headers=shared)
    assert refused.status_code == 401 and "unknown or was revoked" in refused.json()["detail"]


def test_secrets_without_the_needed_keys_are_refused(tmp_path):
    secrets = tmp_path / "secrets.toml"
    assert auth_section(secrets) is None
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    with pytest.raises(ConfigError, match="lacks cookie_secret, client_id, client_secret, server_metadata_url"):
        auth_section(secrets)
    secrets.write_text('[auth]\nredirect_uri = "r"\ncookie_secret = "c"\n[auth.keycloak]\nclient_id = "i"\n'
                       'client_secret = "s"\nserver_metadata_url = "u"\n')
    assert check_exposure("0.0.0.0", secrets, no_auth=False) is True
    assert check_exposure("127.0.0.1", tmp_path / "none.toml", no_auth=False) is False
    assert check_exposure("0.0.0.0", tmp_path / "none.toml", no_auth=True) is False


def test_serve_on_a_public_address_without_sign_in_exits_with_how_to_configure_it(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--address", "0.0.0.0", "--secrets", str(tmp_path / "s.toml")],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: kb serve --address 0.0.0.0 would let anyone who can reach this machine")
    assert "[auth] table with redirect_uri, cookie_secret, client_id" in proc.stderr and "--no-auth" in proc.stderr


def test_no_auth_puts_a_warning_on_every_page(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app.signin import NO_AUTH_ENV

    monkeypatch.setenv("KB_RERANK_BACKEND", "off")
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120).run()
    assert not at.warning  # single-user mode on loopback: as before
    monkeypatch.setenv(NO_AUTH_ENV, "1")
    for page in ("knowledge_bases", "admin"):
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception
        assert at.warning[0].value.startswith("This app was started with `kb serve --no-auth`")
