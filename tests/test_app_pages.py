"""The Streamlit app through AppTest: real pages, real Chroma, BM25 and embedder; reranking off here
(the reranking and failure-banner tests are in test_app_rerank.py)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.catalog import Catalog
from app.config import load_settings
from app.service import search as search_service
from app.ui import resources
from ingest.pipeline import ingest_bytes
from tests.fixtures_docs import CHINESE_TEXT, make_pdf, truncated_pdf

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
PAGE_3_FACT = "If the pump overheats, clean the intake filter with warm water."
XSS = '<script>window.pwned=1</script> Safety <img src=x onerror="window.pwned=2"> ladder notes.'


def shown(markdown: str) -> str:
    """What a Markdown label or text escaped by `app.ui.text.literal` displays: escapes read as the character."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u00a0", " ").replace("\u2060", "")


def manual_page(number: int, topic: str, fact: str | None = None) -> str:
    """A page long enough (about 600 tokens) that a chunk in its middle lies on that page only."""
    sentences = [f"{topic} note {i} for chapter {number} lists routine item {i} in detail." for i in range(36)]
    if fact:
        sentences.insert(18, fact)
    return " ".join(sentences)


@functools.cache
def manual_pdf() -> bytes:
    """The same bytes on every call (fpdf2 stamps the creation time into each PDF it makes)."""
    return make_pdf(
        [manual_page(1, "Installation"), manual_page(2, "Configuration"), manual_page(3, "Maintenance", PAGE_3_FACT)]
    )


@pytest.fixture
def app(monkeypatch):
    """Start the app (reranking off) and optionally switch to a page: app("upload")."""
    monkeypatch.setenv("KB_RERANK_BACKEND", "off")

    def start(page: str | None = None) -> AppTest:
        at = AppTest.from_file(MAIN, default_timeout=120).run()
        if page:
            at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    return start


def seed(kb_name: str, files: dict[str, bytes]) -> None:
    """Ingest through the app's own cached runtime (so the test loads the embedder once)."""
    rt = resources.runtime()
    kb = rt.open_or_create_kb(kb_name)
    for name, data in files.items():
        assert ingest_bytes(rt, kb, name, data).ok


def click(at: AppTest, label: str, sidebar: bool = False) -> AppTest:
    """Click the button with this label in the page (or the sidebar) and rerun."""
    area = at.sidebar if sidebar else at.main
    buttons = [b for b in area.button if b.label == label]
    assert len(buttons) == 1, (label, [b.label for b in area.button])
    return buttons[0].click().run()


def catalog() -> Catalog:
    return Catalog(load_settings().catalog_path)


def test_every_page_opens_without_a_knowledge_base(app):
    at = app()
    assert at.title[0].value == "Search"
    assert "no knowledge base yet" in at.info[0].value
    for page, title in [("upload", "Upload"), ("library", "Library"),
                        ("knowledge_bases", "Knowledge bases"), ("status", "Status")]:
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert at.title[0].value == title
    at.switch_page("../pages/search.py").run()
    assert at.title[0].value == "Search"


def test_upload_many_files_reports_each_outcome(app):
    at = app("upload")
    at.file_uploader(key="uploads").set_value(
        [
            ("manual.pdf", manual_pdf(), "application/pdf"),
            ("notes.md", b"# Notes\n\nRefunds are issued within 14 days.\n", "text/markdown"),
            ("zh.txt", CHINESE_TEXT.encode(), "text/plain"),
            ("broken.pdf", truncated_pdf(), "application/pdf"),
        ]
    ).run()
    assert not at.exception, at.exception
    labels = {shown(s.label): s.state for s in at.status}
    chunks = {d.name: d.chunks for d in catalog().documents(catalog().get_kb("default"))}
    assert chunks["manual.pdf"] > 3  # several chunks a page
    assert labels == {
        f"manual.pdf: added, 3 pages, {chunks['manual.pdf']} chunks": "complete",
        "notes.md: added, 1 chunks": "complete",
        "zh.txt: added, 1 chunks": "complete",
        next(k for k in labels if k.startswith("broken.pdf")): "error",
    }
    assert any(k.startswith("broken.pdf: failed: not a readable PDF") for k in labels)
    # The new knowledge base is created and selected in the sidebar for every page.
    assert at.session_state["kb"] == "default"
    assert list(chunks) == ["manual.pdf", "notes.md", "zh.txt"]

    # Same bytes again -> unchanged; same name, new bytes -> replaced. Progress bars end full.
    at.file_uploader(key="uploads").set_value(
        [
            ("manual.pdf", manual_pdf(), "application/pdf"),
            ("notes.md", b"# Notes\n\nRefunds are issued within 30 days.\n", "text/markdown"),
        ]
    ).run()
    assert not at.exception, at.exception
    assert [(shown(s.label), s.state) for s in at.status] == [
        (f"manual.pdf: unchanged, 3 pages, {chunks['manual.pdf']} chunks", "complete"),
        ("notes.md: replaced, 1 chunks", "complete"),
    ]
    assert [p.value for p in at.get("progress")] == [0, 100]  # unchanged stops before parsing
    assert at.caption[0].value == "Into knowledge base **default** (change it in the sidebar)."


def test_library_lists_previews_reingests_and_deletes_with_confirmation(app):
    seed("manuals", {"manual.pdf": manual_pdf(), "notes.md": b"# Notes\n\nRefunds take 14 days.\n"})
    at = app("library")
    table = at.dataframe[0].value
    assert list(table["name"]) == ["manual.pdf", "notes.md"]
    assert list(table["pages"]) == ["3", "-"]
    n_chunks = table["chunks"][0]
    assert set(table.columns) >= {"name", "pages", "chunks", "added", "size"}
    # The preview of the first document: whole chunks in order, each under its number and page.
    preview = next(h.value for h in at.html if "#0 · p. 1" in h.value)
    previewed = re.findall(r">#(\d+) · (p\. \d)</div><div [^>]*>(.*?)</div>", preview, flags=re.DOTALL)
    assert [int(n) for n, _, _ in previewed] == list(range(n_chunks))
    assert previewed[0][1] == "p. 1" and previewed[-1][1] == "p. 3"
    fact_pages = {page for _, page, text in previewed if PAGE_3_FACT in " ".join(text.split())}
    assert fact_pages == {"p. 3"}  # in one chunk, or two where chunks overlap
    assert any("Nothing special found while parsing" in c.value for c in at.caption)  # the details
    assert at.download_button[0].label == "Download original"

    click(at, "Re-ingest")
    assert [shown(s.label) for s in at.status] == [f"manual.pdf: re-ingested, 3 pages, {n_chunks} chunks"]

    click(at, "Delete…")
    assert "Delete **manual\\.pdf**" in at.warning[0].value
    click(at, "Cancel")
    assert len(catalog().documents(catalog().get_kb("manuals"))) == 2
    click(at, "Delete…")
    click(at, "Yes, delete it")
    assert not at.exception, at.exception
    assert [d.name for d in catalog().documents(catalog().get_kb("manuals"))] == ["notes.md"]
    assert list(at.dataframe[0].value["name"]) == ["notes.md"]


def test_knowledge_bases_create_rename_and_delete(app):
    at = app("knowledge_bases")
    at.text_input[0].input("hr")  # a form field: sent with the submit
    click(at, "Create")
    assert at.session_state["kb"] == "hr"
    click(at, "Create")  # empty name
    assert shown(at.error[0].value) == "A knowledge base name needs 1 to 64 characters and no slashes."

    at.text_input[1].input("people")
    click(at, "Rename")
    assert at.session_state["kb"] == "people"
    assert [kb.name for kb in catalog().list_kbs()] == ["people"]
    assert at.sidebar.selectbox(key="kb").value == "people"

    click(at, "Delete people…")
    assert "cannot be undone" in at.warning[0].value
    click(at, "Yes, delete the knowledge base")
    assert not at.exception, at.exception
    assert catalog().list_kbs() == []
    assert at.session_state["kb"] is None


def test_chosen_knowledge_base_is_kept_across_pages(app):
    seed("alpha", {"a.txt": b"Alpha text."})
    seed("beta", {"b.txt": b"Beta text."})
    at = app()
    at.sidebar.selectbox(key="kb").select("beta").run()
    at.switch_page("../pages/library.py").run()
    assert list(at.dataframe[0].value["name"]) == ["b.txt"]
    at.switch_page("../pages/upload.py").run()
    assert "**beta**" in at.caption[0].value


def test_search_shows_cards_with_page_highlight_and_escaped_markup(app):
    seed("manuals", {"manual.pdf": manual_pdf(), "safety.txt": XSS.encode()})
    at = app()
    at.text_input(key="query").input("pump overheats intake filter")
    click(at, "Search")
    assert not at.exception, at.exception
    # Reranking is off: results still come, under a banner that says why.
    assert shown(at.warning[0].value) == "Results are in recall order: reranking is off (KB_RERANK_BACKEND=off)."
    assert shown(at.main.caption[-1].value).startswith("Instruction in effect: Given a web search query")
    cards = [h.value for h in at.html if "<b>#" in h.value]
    first = cards[0]
    assert "<b>manual.pdf</b> · p. 3" in first
    assert "<mark>pump</mark> <mark>overheats</mark>" in first
    assert "recall #1" in first
    # Neighbouring text of the first card: the chunks before and after it, with their pages.
    assert at.expander[0].label == "Neighbouring text"
    before, after = (h.value for h in at.expander[0].get("html"))
    assert "previous chunk, p" in before and "next chunk, p. 3" in after
    assert shown(at.download_button[0].label) == "Download manual.pdf"
    # "Show page 3" draws the page only once opened.
    place = at.expander[1]
    assert place.label == "Show page 3" and not place.children
    first_hit = search_service.run(resources.runtime(), "manuals", "pump overheats intake filter", rerank=False)
    # The weight hybrid recall gave each list for this query, on the card.
    weights = dict(first_hit.result.hits[0].candidate.fusion_weights)
    assert f"weights dense {weights['dense']:.2f} · bm25 {weights['bm25']:.2f}" in first
    at.session_state[f"place-main-{first_hit.result.hits[0].chunk.chunk_id}"] = True
    at.run()
    assert not at.exception, at.exception
    assert [type(c).__name__ for c in at.expander[1].children.values()] == ["Image"]

    at.text_input(key="query").input("ladder safety")
    click(at, "Search")
    safety = [h.value for h in at.html if "<b>#1<" in h.value][0]
    assert "<b>safety.txt</b>" in safety
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in safety
    assert "&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;" in safety
    assert "<script" not in safety and "<img" not in safety
    # A one-chunk document has no neighbours.
    assert [h.value for h in at.expander[0].get("html")] == [
        '<div style="color: #555; font-size: 0.9rem;">(start of the document)</div>',
        '<div style="color: #555; font-size: 0.9rem;">(end of the document)</div>',
    ]
    assert shown(at.download_button[0].label) == "Download safety.txt"


def test_compare_toggle_shows_recall_order_beside(app):
    seed("manuals", {"manual.pdf": manual_pdf()})
    at = app()
    at.text_input(key="query").input("intake filter")
    at.radio(key="recall_mode").set_value("bm25")
    at.toggle(key="compare").set_value(True)
    click(at, "Search")
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["Reranked", "Recall order"]
    left, right = at.main.columns[-2], at.main.columns[-1]
    assert len(left.get("html")) and len(right.get("html"))
    # Only the reranked column carries the "not reranked" banner.
    assert len(left.warning) == 1 and len(right.warning) == 0
    assert at.session_state["search_answer"].result.recall_mode == "bm25"


def test_empty_question_says_what_to_do(app):
    seed("manuals", {"a.txt": b"Some text."})
    at = app()
    click(at, "Search")
    assert shown(at.error[0].value) == "Type a question to search for."


def test_instruction_presets_pick_edit_save_and_persist(app):
    seed("legal", {"a.txt": b"Some clause."})
    at = app()
    instruction = at.sidebar.text_area(key="instruction")
    assert instruction.value.startswith("Given a web search query")
    at.sidebar.selectbox(key="preset").select("Legal clauses").run()
    assert at.sidebar.text_area(key="instruction").value.startswith("Given a legal question")
    at.sidebar.selectbox(key="preset").select("法律条款 (中文)").run()
    assert at.sidebar.text_area(key="instruction").value.startswith("给定一个法律问题")

    edited = "Given a question about our lease, retrieve the lease clauses that answer it"
    at.sidebar.text_area(key="instruction").input(edited).run()
    assert at.sidebar.selectbox(key="preset").value == "(edited)"
    at.sidebar.text_input(key="preset_name").input("Lease").run()
    click(at, "Save preset", sidebar=True)
    assert "Saved preset 'Lease' for legal." in [shown(c.value) for c in at.sidebar.caption]
    assert at.sidebar.selectbox(key="preset").value == "Lease"
    assert catalog().presets(catalog().get_kb("legal")) == {"Lease": edited}

    # The instruction in effect is the edited one, and a new session (restart) finds the preset.
    at.text_input(key="query").input("lease")
    click(at, "Search")
    assert shown(at.main.caption[-1].value) == f"Instruction in effect: {edited}"
    fresh = app()
    assert "Lease" in fresh.sidebar.selectbox(key="preset").options
    fresh.sidebar.selectbox(key="preset").select("Lease").run()
    assert fresh.sidebar.text_area(key="instruction").value == edited
    click(fresh, "Delete preset", sidebar=True)
    assert catalog().presets(catalog().get_kb("legal")) == {}

    # A built-in name cannot be taken.
    fresh.sidebar.text_input(key="preset_name").input("Legal clauses").run()
    click(fresh, "Save preset", sidebar=True)
    assert any("is a built-in preset" in shown(c.value) for c in fresh.sidebar.caption)


def test_recall_k_and_top_n_limit_the_results(app):
    seed("manuals", {"manual.pdf": manual_pdf()})
    at = app()
    at.sidebar.number_input(key="top_n").set_value(2)
    at.text_input(key="query").input("routine item")
    click(at, "Search")
    assert len([h for h in at.html if "<b>#" in h.value]) == 2


def test_status_page_reports_models_store_and_an_off_reranker(app):
    seed("manuals", {"manual.pdf": manual_pdf()})
    at = app("status")
    text = "\n".join(shown(m.value) for m in at.markdown)
    assert "all-MiniLM-L6-v2" in text and "**384** dimensions" in text
    assert "Backend off" in text and "Engine: **off**" in text
    assert "ChromaDB embedded at" in text
    docs = catalog().documents(catalog().get_kb("manuals"))
    assert [m.value for m in at.metric] == ["1", "1", str(docs[0].chunks)]
    click(at, "Run self-test")
    assert shown(at.error[0].value) == "Cannot run the self-test: reranking is off (KB_RERANK_BACKEND=off)"


def test_library_keeps_the_ingest_history_failures_included(app):
    from app.service import documents

    rt = resources.runtime()
    documents.ingest_uploads(rt, "manuals", [("notes.md", b"# Notes\n\nRefunds take 14 days.\n"),
                                             ("broken.pdf", truncated_pdf())])
    at = app("library")
    (history,) = [e for e in at.expander if e.label.startswith("Ingest history")]
    assert history.label == "Ingest history: 2 files, 1 failed"
    rows = history.dataframe[0].value
    assert set(rows["file"]) == {"notes.md", "broken.pdf"}
    assert rows.set_index("file").loc["broken.pdf", "detail"].startswith("broken.pdf: failed: not a readable PDF")


def test_the_url_reproduces_a_search_and_every_search_writes_it(app, monkeypatch):
    seed("manuals", {"manual.pdf": manual_pdf(), "notes.md": b"# Notes\n\nRefunds are issued within 14 days.\n"})
    seed("other", {"o.txt": b"Other text."})
    monkeypatch.setenv("KB_RERANK_BACKEND", "off")
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"kb": "manuals", "q": "pump overheats", "mode": "bm25", "top": "2",
                            "preset": "Legal clauses"})
    at.run()
    assert not at.exception, at.exception
    answer = at.session_state["search_answer"]
    assert (answer.kb, answer.query, answer.result.recall_mode) == ("manuals", "pump overheats", "bm25")
    assert len(answer.result.hits) == 2 and answer.result.instruction.startswith("Given a legal question")
    assert at.sidebar.selectbox(key="kb").value == "manuals"

    at.text_input(key="query").input("refunds")
    click(at, "Search")
    assert at.query_params["q"] == "refunds" and at.query_params["preset"] == "Legal clauses"
    assert [p.query for p in at.session_state["search_history"]] == ["refunds", "pump overheats"]
