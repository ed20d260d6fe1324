"""Hostile names in a real browser: every page of a real `kb serve`, knowledge bases, documents, presets,
instructions and query sets named with Markdown and HTML, and no request may leave 127.0.0.1.

Each name must show exactly as `app.ui.text.plain` writes it (the name itself, control characters as
escapes, runs of spaces kept), and names that differ must show differently (the sidebar's recent searches
included). Also checked here: the upload
batch limit is refused on the page with its reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from app.service import kbs, presets, queries
from app.ui.text import plain
from ingest.pipeline import ingest_bytes
from testing.servers import wait_until_healthy
from tests.conftest import free_port
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, _stop_group, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAR = "203.0.113.9"  # TEST-NET-3: nothing answers there, and no request may go there
# Knowledge base names may not hold slashes: "http:host" is how a browser still reads a URL into one.
KB_NAMES = [f"![x](http:{FAR})", "**bold**", "<img src=x onerror=alert(1)>", "a\nb", "a  b", "a b"]
PRIMARY = KB_NAMES[0]
DOC_NAMES = [f"![d](http://{FAR}/d.png).txt", "**bold**.md", "<img src=x onerror=alert(2)>.txt", "a\nb.txt",
             "a\\nb.txt", ":red[x] :material/home: $x$.txt"]
PRESET = f"**preset** ![p](http://{FAR}/p.png)"
INSTRUCTION = f"Find <img src=x onerror=alert(3)> **stars** and ![i](http://{FAR}/i.png) _here_"
QUERY_SET = f"![q](http://{FAR}/q.png) set"
UPLOADS = ["**up**.txt", "<b>up<b>.txt", "[l](http:x).txt", "four.txt"]


@pytest.fixture
def hostile(make_runtime, tmp_path):
    """The data dir, seeded through the service layer before the server starts."""
    rt = make_runtime(rerank_backend="off")
    for name in KB_NAMES:
        kbs.create(rt, name)
    kb = rt.open_kb(PRIMARY)
    for i, name in enumerate(DOC_NAMES):
        assert ingest_bytes(rt, kb, name, f"Lighthouse keeper log {i}: the storm passed at night.".encode()).ok
    presets.save(rt, PRIMARY, PRESET, INSTRUCTION)
    presets.set_default(rt, PRIMARY, INSTRUCTION, PRESET)
    queries.create_set(rt, PRIMARY, QUERY_SET)
    rt.close()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in UPLOADS:
        (uploads / name).write_text(f"Uploaded file {name} about harbour cranes.")
    return uploads


@contextmanager
def serve(tmp_path, extra: dict):
    port = free_port()
    env = {**os.environ, "KB_RERANK_BACKEND": "off", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **extra}
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, f"{url}/_stcore/health", tmp_path / "serve.log")
        yield url
    finally:
        _stop_group(proc)
        log.close()


def body(page) -> str:
    page.wait_for_timeout(400)
    return page.locator("body").inner_text().replace("\u2060", "")  # the joiners that stop autolinks


def go(page, title: str) -> None:
    page.wait_for_timeout(800)  # a rerun the last click started may still be running
    heading = page.get_by_role("heading", name=title, exact=True)
    for _ in range(3):
        page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        try:
            heading.wait_for(timeout=20_000)
            break
        except Exception:  # noqa: BLE001 (the click landed during a rerun: once more)
            continue
    heading.wait_for()
    page.wait_for_timeout(500)


def options(page, label: str) -> list[str]:
    box = page.get_by_role("combobox", name=label, exact=True).first
    box.click()
    box.press("ArrowDown")
    page.get_by_role("option").first.wait_for()
    shown = page.get_by_role("option").all_inner_texts()
    box.press("Escape")
    return shown


def choose(page, label: str, name: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True).first
    box.click()
    box.press("ArrowDown")
    page.get_by_role("option").filter(has_text=plain(name)).first.wait_for()
    for option in page.get_by_role("option").all():
        if option.inner_text() == plain(name):
            option.click()
            break
    else:
        raise AssertionError(f"no option {plain(name)!r}")
    page.wait_for_timeout(800)


def assert_shown(text: str, *names: str) -> None:
    for name in names:
        assert plain(name) in text, f"{plain(name)!r} is not shown literally"


def wait_shown(page, *names: str) -> str:
    """The page's text once it shows every one of `names` (a rerun may still be drawing); fails after 30 s."""
    deadline = time.monotonic() + 30
    while True:
        text = body(page)
        if all(plain(n) in text for n in names) or time.monotonic() > deadline:
            assert_shown(text, *names)
            return text


def test_every_page_shows_hostile_names_as_text_and_fetches_nothing_outside(hostile, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with serve(tmp_path, {"KB_MAX_BATCH_FILES": "3"}) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        page.set_default_timeout(60_000)
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith((url + "/", "data:", "blob:", "about:")) else None)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(url)
        page.get_by_role("heading", name="Search", exact=True).wait_for()
        # The sidebar's knowledge base picker: every name literal, all different.
        shown = options(page, "Knowledge base")
        assert sorted(shown) == sorted(plain(n) for n in KB_NAMES) and len(set(shown)) == len(KB_NAMES)
        choose(page, "Knowledge base", PRIMARY)
        assert page.get_by_role("combobox", name="Knowledge base", exact=True).input_value() == plain(PRIMARY)
        assert plain(PRESET) in options(page, "Instruction preset")
        assert page.get_by_role("textbox", name="Reranker instruction").input_value() == INSTRUCTION

        # Search: document names on cards and download buttons, the instruction in effect.
        top = page.get_by_role("spinbutton", name="Top N")
        top.fill("10")
        top.press("Enter")
        page.wait_for_timeout(800)
        page.get_by_label("Question").fill("lighthouse keeper storm")
        page.get_by_role("button", name="Search", exact=True).click()
        page.get_by_text("Instruction in effect:").first.wait_for()
        expect(page.locator('[data-testid="stDownloadButton"]')).to_have_count(len(DOC_NAMES), timeout=90_000)
        text = body(page)
        assert_shown(text, f"Instruction in effect: {INSTRUCTION}")
        for name in DOC_NAMES:
            assert f"Download {plain(name)}" in text, name
        assert plain(QUERY_SET) in options(page, "Label results into query set")
        shot(page, "names-search")

        # Library: the caption, the document picker, the delete confirmation, a re-ingest's status.
        go(page, "Library")
        # The sidebar's recent searches (drawn from the next run on): the question and the KB's name, literal.
        past = options(page, "Recent searches")
        assert plain(f"lighthouse keeper storm  ({PRIMARY}, hybrid)") in past, past
        text = body(page)
        assert_shown(text, f"{len(DOC_NAMES)} documents in {PRIMARY}")
        shown = options(page, "Document")
        assert sorted(shown) == sorted(plain(n) for n in DOC_NAMES) and len(set(shown)) == len(DOC_NAMES)
        choose(page, "Document", DOC_NAMES[0])
        page.get_by_role("button", name="Re-ingest").click()
        page.get_by_text("re-ingested, 1 chunks").wait_for()
        assert_shown(body(page), f"{DOC_NAMES[0]}: re-ingested, 1 chunks")
        page.get_by_role("button", name="Delete…").click()
        page.get_by_text("This cannot be undone.").wait_for()
        assert_shown(body(page), f"Delete {DOC_NAMES[0]} (1 chunks) from {PRIMARY}? This cannot be undone.")
        shot(page, "names-library")
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("This cannot be undone.").wait_for(state="detached")
        assert page.locator("a").filter(has_text=FAR).count() == 0  # no autolinks either

        # Upload: the caption, and a batch over KB_MAX_BATCH_FILES is refused with its reason.
        go(page, "Upload")
        assert_shown(body(page), f"Into knowledge base {PRIMARY} (change it in the sidebar).")
        chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        chooser.set_input_files([str(hostile / n) for n in UPLOADS])
        page.get_by_text("one batch may add (KB_MAX_BATCH_FILES)").wait_for()
        assert "4 files is more than the 3 one batch may add (KB_MAX_BATCH_FILES)" in body(page)
        page.goto(url)  # a new session: the uploader starts empty
        page.get_by_role("heading", name="Search", exact=True).wait_for()
        choose(page, "Knowledge base", PRIMARY)
        go(page, "Upload")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            [str(hostile / n) for n in UPLOADS[:3]])
        expect(page.get_by_text(": added, 1 chunks")).to_have_count(3, timeout=120_000)
        assert_shown(body(page), *(f"{name}: added, 1 chunks" for name in UPLOADS[:3]))
        shot(page, "names-upload")

        # Evaluate: the query set, the presets among the configurations, the knowledge base's default.
        go(page, "Evaluate")
        page.get_by_text("Searches in this knowledge base start from:").wait_for()
        page.locator('[data-testid="stText"]').filter(has_text=INSTRUCTION).first.wait_for()
        text = body(page)
        assert page.get_by_role("combobox", name="Query set", exact=True).input_value() == plain(QUERY_SET)
        assert f"{PRESET}: {INSTRUCTION}" in text
        assert f"preset: {plain(PRESET)}" in options(page, "Reranking")
        shot(page, "names-evaluate")

        go(page, "Status")
        page.get_by_text("ChromaDB embedded at").wait_for()

        # Knowledge bases: each name in the heading and the delete button; an error that quotes one.
        go(page, "Knowledge bases")
        for name in KB_NAMES:
            choose(page, "Knowledge base", name)
            wait_shown(page, f"Selected: {name}", f"Delete {name}…")
        choose(page, "Knowledge base", PRIMARY)
        wait_shown(page, f"Selected: {PRIMARY}")
        page.get_by_role("textbox", name="Rename to").fill("**bold**")
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Rename").click()
        page.get_by_text("already exists.").wait_for()
        assert "A knowledge base named '**bold**' already exists." in body(page)
        page.get_by_role("button", name=f"Delete {plain(PRIMARY)}…").click()
        page.get_by_text("This cannot be undone.").wait_for()
        assert_shown(body(page), f"Delete {PRIMARY} with all its documents, vectors and saved presets?")
        shot(page, "names-knowledge-bases")

        assert page.locator(f'img[src*="{FAR}"], img[src="x"]').count() == 0
        assert dialogs == [] and page.evaluate("typeof window.pwned") == "undefined"
        assert outside == [], outside
        browser.close()
