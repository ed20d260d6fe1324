"""Sign-in end to end: a real OpenID Connect provider on loopback (the `oidc-provider-mock` package), a real
`kb serve` configured for it in its secrets file, and Debian's Chromium driven by Playwright.

Users sign in with the provider's form (its `sub` is the e-mail claim): Ada is the admin (KB_ADMINS), Bob
gets the viewer role, Carol none. Screenshots go under test-artifacts/ like tests/test_browser.py's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.access import AccessStore
from testing.servers import wait_until_healthy
from tests.conftest import free_port
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _local, _stop_group, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ADA, BOB, CAROL = "ada@example.com", "bob@example.com", "carol@example.com"
PUMP = "Troubleshooting: if the pump overheats, clean the intake filter with warm water."


@pytest.fixture
def provider(monkeypatch):
    """The OpenID Connect provider, on a free loopback port, in this process; yields its base URL."""
    from oidc_provider_mock import run_server_in_thread

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback, for the provider's checks
    with run_server_in_thread(port=free_port()) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def app(provider, tmp_path):
    """`kb serve` with sign-in through `provider`; yields (app URL, API URL, data dir)."""
    port, api_port = free_port(), free_port()
    url = f"http://localhost:{port}"  # the one origin of redirect_uri, the cookie and the browser
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-that-is-long-enough"\n'
        'client_id = "kb-test"\n'
        'client_secret = "kb-test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    env = {
        **os.environ,
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_RERANK_BACKEND": "off",
        "KB_ADMINS": ADA,
        "KB_API_PORT": str(api_port),
        "AUTHLIB_INSECURE_TRANSPORT": "1",  # Authlib in the app: the provider is plain http on loopback
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--secrets", str(secrets)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_healthy(proc, f"http://127.0.0.1:{port}/_stcore/health", log_path)
        yield url, f"http://127.0.0.1:{api_port}", tmp_path / "data"
    finally:
        _stop_group(proc)
        print(log_path.read_text()[-2000:])


@pytest.fixture
def browser(provider):
    """Chromium; at the end, fails if any page of the app asked a host other than loopback. (The provider's
    own sign-in form asks a CDN for its style sheet; that is the mock's, not the app's.)"""
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def new_page():
            context = chromium.new_context(viewport={"width": 1400, "height": 1100})  # one user's cookies
            context.set_default_timeout(60_000)
            context.on("request", lambda r: None if _local(r.url) or r.frame.url.startswith(provider)
                       else outside.append(r.url))
            return context.new_page()

        yield new_page
        chromium.close()
    assert not outside, f"requests that left loopback: {outside}"


def sign_in(page, url: str, email: str) -> None:
    """The whole flow: the app's sign-in page, the provider's form, back in the app as `email`."""
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_placeholder("sub").fill(email)  # the provider's form; the e-mail claim is the subject
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text(f"Signed in as {email}").wait_for()


def go(page, title: str) -> None:
    """Open a page from the menu; a screenshot of what was there instead when its heading does not come."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    try:
        page.get_by_role("heading", name=title, exact=True).wait_for()
    except PlaywrightTimeout:
        shot(page, f"signin-failed-{title}")
        raise


def kb(api_url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    """A `kb` command through the running app, with a personal token as KB_API_TOKEN."""
    env = {**os.environ, "KB_API_URL": api_url, "KB_API_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def api(api_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_two_users_sign_in_and_get_what_their_roles_allow(app, browser, tmp_path):
    from playwright.sync_api import expect

    url, api_url, data = app
    (tmp_path / "pump.txt").write_text(PUMP)

    # Signed out: only the sign-in page, whatever the path.
    visitor = browser()
    for path in ("", "/library", "/knowledge_bases"):
        visitor.goto(url + path)
        visitor.get_by_role("button", name="Sign in").wait_for()
        expect(visitor.locator('[data-testid="stSidebarNav"]')).to_have_count(0)
        expect(visitor.get_by_text("Upload")).to_have_count(0)
    shot(visitor, "signin-page")

    # Ada, the admin: creates a knowledge base by uploading into it, makes Bob a viewer.
    ada = browser()
    sign_in(ada, url, ADA)
    go(ada, "Upload")
    name = ada.get_by_role("textbox", name="New knowledge base")
    name.fill("manuals")
    name.press("Enter")  # Streamlit takes a text input's value on Enter or blur
    ada.wait_for_timeout(1000)
    ada.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(tmp_path / "pump.txt"))
    ada.get_by_text("pump.txt: added").first.wait_for(timeout=120_000)
    expect(ada.get_by_role("combobox", name="Knowledge base")).to_have_value("manuals")  # the rerun is over
    go(ada, "Admin")
    ada.get_by_role("combobox", name="Grant a role on").click()
    ada.get_by_role("option", name="manuals").click()
    ada.get_by_role("textbox", name="User's e-mail").fill(BOB)
    ada.get_by_role("button", name="Grant").click()
    store = AccessStore(data / "catalog.sqlite")
    deadline = time.monotonic() + 30
    while store.role("manuals", BOB) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [(g.kb, g.email, g.role, g.granted_by) for g in store.grants()] == [("manuals", BOB, "viewer", ADA)]

    # Carol has no role: she sees no knowledge base anywhere.
    carol = browser()
    sign_in(carol, url, CAROL)
    carol.get_by_text("There is no knowledge base yet").wait_for()
    go(carol, "Knowledge bases")
    carol.get_by_text("You have no role on any knowledge base yet").wait_for()
    expect(carol.locator('[data-testid="stSidebarNav"]').get_by_text("Admin", exact=True)).to_have_count(0)
    shot(carol, "signin-no-role")

    # Bob, a viewer: reads the library, but the page offers no delete and no upload.
    bob = browser()
    sign_in(bob, url, BOB)
    go(bob, "Library")
    bob.get_by_text("1 document in").wait_for()
    expect(bob.get_by_role("button", name="Delete…")).to_be_disabled()
    expect(bob.get_by_role("button", name="Re-ingest")).to_be_disabled()
    shot(bob, "signin-viewer-library")
    go(bob, "Upload")
    bob.get_by_text("Uploading into this knowledge base needs the editor role").wait_for()
    expect(bob.locator('[data-testid="stFileUploaderDropzoneInput"]')).to_have_count(0)

    # Bob's personal token: the REST API answers with his roles, and stops once he revokes it.
    go(bob, "Account")
    bob.get_by_role("textbox", name="Name", exact=True).fill("laptop CLI")
    bob.get_by_role("button", name="Make a token").click()
    token = bob.locator('[data-testid="stCode"] code').inner_text().strip()
    assert token.startswith("kbt_")
    assert kb(api_url, token, "list").stdout.startswith("manuals\tdocuments=1")  # the CLI through the app
    refused = kb(api_url, token, "delete", "pump.txt", "--kb", "manuals")
    assert refused.returncode == 2 and "needs the editor role" in refused.stderr
    carol_token = "kbt_carols-own-token-for-this-test"
    store.add_token(CAROL, "cli", carol_token)
    assert kb(api_url, carol_token, "list").stdout.startswith("no knowledge bases yet")
    with api(api_url, token) as client:
        assert [k["name"] for k in client.get("/api/kbs").json()["kbs"]] == ["manuals"]
        refused = client.post("/api/kbs/manuals/documents", files=[("files", ("faq.md", b"# FAQ\n\nRefunds."))])
        assert refused.status_code == 403 and "needs the editor role" in refused.json()["detail"]
        assert client.delete("/api/kbs/manuals/documents/pump.txt").status_code == 403
        bob.get_by_role("button", name="Revoke").click()
        bob.get_by_text("laptop CLI: made").filter(has_text="revoked").wait_for()
        assert client.get("/api/kbs").status_code == 401

    # Ada deletes the document; the audit log names her for the upload and the delete.
    go(ada, "Library")
    ada.get_by_role("button", name="Delete…").click()
    ada.get_by_role("button", name="Yes, delete it").click()
    ada.get_by_text("0 documents in").wait_for()
    go(ada, "Admin")
    ada.get_by_text("entries, newest first").wait_for()
    expect(ada.locator('[data-testid="stDataFrame"]')).to_have_count(2)  # the roles and the audit log
    ada.locator('[data-testid="stDataFrame"] canvas').last.wait_for()
    shot(ada, "signin-admin")
    changes = [(e.actor, e.action, e.kb, e.document) for e in store.audit() if e.action in ("upload", "delete")]
    assert changes == [(ADA, "delete", "manuals", "pump.txt"), (ADA, "upload", "manuals", "pump.txt")]
    assert {e.actor for e in store.audit(action="token create")} == {BOB}
