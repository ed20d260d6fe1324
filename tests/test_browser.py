"""A real browser against a real `kb serve`: upload, search, instruction, escaping, upload limit.

Starts `python -m app.cli serve` on a free loopback port with its own data dir and reranking off
(the reranker engine is covered by test_app_rerank.py), drives Debian's Chromium with Playwright,
and saves a screenshot of every page under test-artifacts/ at the repository root.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.servers import wait_until_healthy
from tests.conftest import free_port
from tests.fixtures_docs import CHINESE_TEXT
from tests.test_app_pages import PAGE_3_FACT, manual_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UPLOAD_LIMIT_MB = 1  # small, so the test can show what happens to a file over the limit
XSS = ('<script>window.pwned = 1</script>Ladder safety: '
       '<img src=x onerror="window.pwned = 2"> check the feet before climbing.')



@pytest.fixture
def server(tmp_path):
    """`kb serve` on loopback; yields (url, seconds from start to healthy)."""
    port = free_port()
    env = {
        **os.environ,
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_RERANK_BACKEND": "off",
        "STREAMLIT_SERVER_MAX_UPLOAD_SIZE": str(UPLOAD_LIMIT_MB),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed below)
    started = time.perf_counter()
    # Its own process group: `kb serve` runs streamlit as a child, and both must stop at the end.
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, f"{url}/_stcore/health", tmp_path / "serve.log")
        yield url, started
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group and wait until streamlit (the child) is gone too."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def page():
    """A Chromium page; at the end, fails if the page asked any host but the app itself (the app runs offline)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1300})
        context.set_default_timeout(60_000)
        outside: list[str] = []
        context.on("request", lambda r: None if _local(r.url) else outside.append(r.url))
        yield context.new_page()
        browser.close()
    assert not outside, f"requests that left 127.0.0.1: {outside}"


def _local(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in ("127.0.0.1", "localhost")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let the last rerun paint
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def search(page, query: str, first_doc: str):
    """Run a search; wait until the first result card shows `first_doc` (the old cards stay on screen
    while the script reruns) and return that card."""
    from playwright.sync_api import expect

    page.get_by_label("Question").fill(query)
    page.get_by_role("button", name="Search", exact=True).click()
    card = page.locator('[data-testid="stHtml"]').filter(has_text="#1 ·").first
    expect(card).to_contain_text(first_doc)
    return card


def test_upload_search_instruction_and_escaping_in_a_real_browser(server, page, tmp_path):
    from playwright.sync_api import expect

    url, started = server
    test_started = time.perf_counter()
    files = tmp_path / "upload"
    files.mkdir()
    (files / "manual.pdf").write_bytes(manual_pdf())
    (files / "知识库.txt").write_text(CHINESE_TEXT, encoding="utf-8")
    (files / "ladder.html").write_text(f"<html><body><pre>{XSS.replace('<', '&lt;')}</pre></body></html>")
    (files / "safety.txt").write_text(XSS)
    (files / "huge.txt").write_bytes(b"x" * (UPLOAD_LIMIT_MB * 1024 * 1024 + 1))

    page.goto(url)
    page.get_by_role("heading", name="Search", exact=True).wait_for()
    print(f"\nkb serve start -> first page usable: {time.perf_counter() - started:.1f} s")
    shot(page, "search-empty")

    go(page, "Upload")
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    chooser.set_input_files([str(files / n) for n in ("manual.pdf", "知识库.txt", "safety.txt", "ladder.html")])
    for label in ("manual.pdf: added, 3 pages", "知识库.txt: added", "safety.txt: added", "ladder.html: added"):
        page.get_by_text(label).first.wait_for(timeout=120_000)
    # Over the limit: the uploader refuses the file in the browser and says so under its name.
    chooser.set_input_files([str(files / "huge.txt")])
    page.get_by_role("alert").filter(has_text=f"File must be {UPLOAD_LIMIT_MB:.1f}MB or smaller.").wait_for()
    shot(page, "upload")

    go(page, "Library")
    page.get_by_text("4 documents in").wait_for()
    expect(page.locator('[data-testid="stDataFrame"] canvas')).to_have_count(2)  # the documents table, drawn
    page.get_by_text("check the feet before climbing.").first.wait_for()  # ladder.html's chunk preview, whole
    shot(page, "library")

    go(page, "Search")
    card = search(page, "pump overheats intake filter", "manual.pdf")
    text = card.inner_text()
    assert "manual.pdf" in text and "p. 3" in text, text
    assert PAGE_3_FACT in " ".join(text.split())
    assert card.locator("mark").count() >= 3
    page.get_by_text("Results are in recall order: reranking is off (KB_RERANK_BACKEND=off).").first.wait_for()
    shot(page, "search")

    card = search(page, "知识库 召回候选段落", "知识库.txt")
    assert "知识库.txt" in card.inner_text()
    assert card.locator("mark").count() >= 1

    # Markup in documents is text: visible as typed, and the payload never ran.
    card = search(page, "ladder safety feet climbing", "safety.txt")
    page.get_by_text("<script>window.pwned = 1</script>", exact=False).first.wait_for()
    assert '<img src=x onerror="window.pwned = 2">' in card.inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator('[data-testid="stHtml"] img, [data-testid="stHtml"] script').count() == 0
    shot(page, "search-escaped")

    # A new instruction in the sidebar is the one in effect for the next search.
    instruction = "Given a maintenance question, retrieve the manual passage with the fix"
    box = page.get_by_role("textbox", name="Reranker instruction")
    box.fill(instruction)
    box.press("Control+Enter")
    expect(page.get_by_role("combobox", name="Instruction preset")).to_have_value("(edited)")
    search(page, "pump overheats", "manual.pdf")
    page.get_by_text(f"Instruction in effect: {instruction}").wait_for()
    shot(page, "search-instruction")

    # The search lives in the URL: a reload (or the link, shared) runs it again with the same instruction.
    assert "q=pump+overheats" in page.url
    page.reload()
    page.get_by_text(f"Instruction in effect: {instruction}").wait_for()
    expect(page.locator('[data-testid="stHtml"]').filter(has_text="#1 ·").first).to_contain_text("manual.pdf")
    expect(page.get_by_label("Question")).to_have_value("pump overheats")

    go(page, "Knowledge bases")
    page.locator('[data-testid="stDataFrame"] canvas').first.wait_for()
    shot(page, "knowledge-bases")
    go(page, "Status")
    page.get_by_text("ChromaDB embedded at").wait_for()
    shot(page, "status")
    print(f"browser test body: {time.perf_counter() - test_started:.1f} s")


def test_evaluate_page_runs_compares_and_opens_a_query_in_a_real_browser(server, page, tmp_path):
    from playwright.sync_api import expect

    from app.config import load_settings
    from app.runtime import Runtime
    from app.service import documents, queries
    from tests.test_app_evaluate import DOCS, LABELS

    url, _ = server
    # Seeded before the app first opens its store (one writer per data dir at a time).
    rt = Runtime(load_settings(data_dir=tmp_path / "data", rerank_backend="off"))
    assert all(o.ok for o in documents.ingest_uploads(rt, "tools", list(DOCS.items())))
    queries.import_file(rt, "tools", "wrenches", "labels.csv", LABELS.encode())

    page.goto(url)
    go(page, "Evaluate")
    page.get_by_text("6 queries, 6 labels").wait_for()
    recall = page.get_by_role("combobox", name="Recall")
    recall.nth(1).click()
    page.get_by_role("option", name="dense", exact=True).click()
    reranking = page.get_by_role("combobox", name="Reranking")
    reranking.nth(1).click()
    page.get_by_role("option", name="No reranking (recall order)").click()
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_role("heading", name="Results").wait_for(timeout=300_000)  # ranx compiles on first use
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(2)
    page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for()
    shot(page, "evaluate-results")

    opened = page.get_by_role("combobox", name="Open a query (worst loss first)")
    first = opened.input_value()
    opened.click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(opened).not_to_have_value(first)
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(5)  # metrics, pairs, per query, 2 rankings
    page.locator('[data-testid="stDataFrame"]').last.scroll_into_view_if_needed()
    shot(page, "evaluate-query-opened")
