"""Issue 12's parsing rules on generated documents (testing/documents.py), read by the real libraries:
running headers and footers, tables, sections, HTML main content, Markdown, legacy encodings, the DOCX
size cap. OCR is in test_ocr.py, the page view in test_page_view.py."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

import pytest

from app.errors import IngestError
from app.models import Chunk, Page, Section
from app.store import _chunk, _metadata
from ingest.chunking import chunk_pages
from ingest.loaders import load_document
from ingest.loaders.archive import MAX_UNPACKED_BYTES
from ingest.loaders.running import PageLines, find_running, line_key, strip_running
from ingest.loaders.tables import table_rows
from ingest.normalize import normalize_text
from ingest.pipeline import IngestOutcome, IngestStatus, ingest_bytes
from testing import documents as gen


def squash(text: str) -> str:
    return "".join(text.split())


def all_text(doc) -> str:
    return "\n".join(p.text for p in doc.pages)


# --- running headers and footers ------------------------------------------------------------------


def test_running_header_and_a_footer_that_changes_only_by_page_number_are_removed_and_kept_as_metadata():
    handbook = gen.handbook_pdf(pages=6)
    doc = load_document(handbook.name, handbook.data)
    for page in doc.pages:
        assert "ACME Industries" not in page.text
        assert "HR-POL-001" not in page.text and "Page " not in page.text
    assert doc.headers == (gen.HEADER,)
    assert doc.footers == ("HR-POL-001 · Confidential · Page 1 of 6",)
    # Every body paragraph survives, the sentence repeated on every page included.
    text = squash(all_text(doc))
    assert all(squash(b) in text for b in handbook.body)
    assert all(gen.REPEATED_SENTENCE in page.text for page in doc.pages)


def test_two_column_pages_keep_reading_order_and_lose_their_header():
    pdf = gen.two_column_pdf()
    doc = load_document(pdf.name, pdf.data)
    text = squash(all_text(doc))
    positions = [text.find(squash(b)) for b in pdf.body]
    assert -1 not in positions and positions == sorted(positions)  # left column, then right, page by page
    assert not any(squash(b) in text for b in pdf.boilerplate)


def test_a_line_in_the_band_of_one_page_only_is_never_removed():
    pages = [PageLines(["Annual report 2024", "Body one."], top={0}),
             PageLines(["ACME", "Body two."], top={0}), PageLines(["ACME", "Body three."], top={0})]
    found = find_running(pages)
    assert found.headers == ("ACME",)
    assert strip_running(pages[0], found) == ["Annual report 2024", "Body one."]
    # Two pages of two: the same title on both is running; a line seen once never is.
    assert find_running([PageLines(["Title"], top={0}), PageLines(["Other"], top={0})]).top == {}


def test_repeated_sentence_outside_the_bands_is_kept():
    repeated = "Questions go to the HR desk."
    pages = [PageLines([f"Page {n}", repeated, f"Body {n}."], top={0}) for n in range(1, 5)]
    found = find_running(pages)
    assert set(found.top) == {line_key("Page 1")}
    assert all(strip_running(p, found)[0] == repeated for p in pages)


def test_line_key_masks_digits_and_ignores_punctuation_ocr_reads_differently():
    assert line_key("HR-POL-001 · Page 3 of 12") == line_key("HR-POL-002 . Page 4 of 12") == "hrpol#page#of#"


# --- tables ---------------------------------------------------------------------------------------


def expected_rows(rows: list[dict[str, str]]) -> list[str]:
    return ["; ".join(f"{k}: {v}" for k, v in row.items()) for row in rows]


@pytest.mark.parametrize("make", [gen.table_pdf, gen.handbook_docx, gen.boilerplate_html], ids=["pdf", "docx", "html"])
def test_tables_become_one_line_per_row_with_headers(make):
    source = make()
    doc = load_document(source.name, source.data)
    lines = all_text(doc).split("\n")
    for row in expected_rows(source.rows):
        assert row in lines
    assert doc.tables == 1


def test_markdown_table_and_markup():
    md = (
        "---\ntitle: Leave\n---\n# Leave policy\n\nRead the **whole** [policy](https://x.example/p) first, "
        "`code` too. ![Org chart](chart.png)\n\n## Grades\n\n| Grade | Days |\n|---|---|\n| Junior | 28 |\n"
        "| Senior | 30 |\n\n- one item\n- *two* items\n"
    )
    doc = load_document("leave.md", md.encode())
    page = doc.pages[0]
    assert page.text == (
        "Leave policy\n\nRead the whole policy first, code too. Org chart\n\nGrades\n\n"
        "Grade: Junior; Days: 28\n\nGrade: Senior; Days: 30\n\none item\n\ntwo items"
    )
    assert [s.path for s in page.sections] == ["Leave policy", "Leave policy › Grades"]
    assert doc.tables == 1


def test_table_rows_guesses_header_and_keeps_merged_cells_once():
    # A merged header cell leaves a gap: no header guessed, every row plain, the merged copy once.
    assert table_rows([["Name", "Name", "Days"], ["Ann", "Ann", "3"]]) == ["Name; Days", "Ann; 3"]
    assert table_rows([["1", "2"], ["3", "4"]]) == ["1; 2", "3; 4"]  # numbers do not name columns
    assert table_rows([["Region", "Q1"], ["North", ""], ["Total", None]], header=True) == ["North", "Total"]


def test_a_question_about_one_row_finds_that_row(runtime):
    source = gen.table_pdf()
    kb = runtime.open_or_create_kb("t")
    assert ingest_bytes(runtime, kb, source.name, source.data).ok
    from app.search import search

    hits = search(runtime, "t", "notice period for a Principal grade", rerank=False).hits
    assert "Grade: Principal; Days of leave: 32; Notice period: 2 months" in hits[0].chunk.text


# --- HTML -----------------------------------------------------------------------------------------


def test_html_keeps_the_article_and_drops_navigation_banner_sidebar_and_footer():
    page = gen.boilerplate_html()
    doc = load_document(page.name, page.data)
    text = all_text(doc)
    assert all(squash(b) in squash(text) for b in page.body)
    for line in page.boilerplate:
        assert line not in text
    assert "window.analytics" not in text
    paths = [s.path for s in doc.pages[0].sections]
    assert set(page.sections) <= set(paths)


def test_html_made_of_divs_only_loses_its_menus_by_trafilatura():
    page = gen.div_soup_html()
    text = load_document(page.name, page.data).pages[0].text
    assert all(squash(b) in squash(text) for b in page.body)
    assert not any(squash(b) in squash(text) for b in page.boilerplate)


def test_small_flat_html_falls_back_to_the_plain_walk_without_boilerplate():
    html = (
        "<html><body><nav>Menu Home</nav><h1>Heading</h1><p>Body text here.</p><footer>(c) ACME</footer>"
        "</body></html>"
    )
    page = load_document("x.html", html.encode()).pages[0]
    assert page.text == "Heading\n\nBody text here."
    assert page.sections == (Section(0, "Heading"),)


# --- sections -------------------------------------------------------------------------------------


def test_pdf_bookmarks_give_each_chunk_its_section(minilm_tokenizer):
    handbook = gen.handbook_pdf(pages=3)
    doc = load_document(handbook.name, handbook.data)
    assert [s.path for p in doc.pages for s in p.sections] == handbook.sections
    chunks = chunk_pages(doc.pages, doc_id="d", doc_name="h.pdf", tokenizer=minilm_tokenizer, chunk_tokens=64,
                         overlap=8)
    assert {c.section for c in chunks} == set(handbook.sections)
    for c in chunks:
        assert c.section == handbook.sections[c.page - 1]


def test_docx_headings_sections_footnotes_and_page_header_as_metadata():
    source = gen.handbook_docx()
    doc = load_document(source.name, source.data)
    text = all_text(doc)
    assert all(squash(b) in squash(text) for b in source.body)  # footnote texts included
    assert gen.HEADER not in text and "Confidential" not in text
    assert doc.headers == (gen.HEADER,) and doc.footers == ("HR-POL-001 · Confidential",)
    assert [s.path for s in doc.pages[0].sections] == source.sections
    # A footnote follows the paragraph that cites it.
    first_note = text.index("[1] See the annual leave guideline")
    assert text.index("Entitlement by grade") > first_note > text.index("Annual leave")


def test_chunks_do_not_cross_a_section_start(minilm_tokenizer):
    text = "Intro sentence one. Intro two.\n\nLeave\nLeave sentence. Another one here."
    start = text.index("Leave\n")
    page = Page(None, text, (Section(0, "Guide"), Section(start, "Guide › Leave")))
    chunks = chunk_pages([page], doc_id="d", doc_name="g.md", tokenizer=minilm_tokenizer, chunk_tokens=200, overlap=20)
    assert [(c.section, c.text) for c in chunks] == [
        ("Guide", "Intro sentence one. Intro two."),
        ("Guide › Leave", "Leave\nLeave sentence. Another one here."),
    ]


def test_section_travels_through_the_store_and_json():
    chunk = Chunk("d:0", "d", "a.md", 0, "text", None, 0, 4, section="Guide › Leave")
    assert _chunk("d:0", "text", _metadata(chunk)) == chunk
    old = _metadata(Chunk("d:1", "d", "a.md", 1, "text"))
    assert "section" not in old and _chunk("d:1", "text", old).section == ""
    from app.models import Candidate, Hit

    assert Hit(Candidate(chunk, 1, 0.5), 1, 0.5, False).as_json()["section"] == "Guide › Leave"


# --- encodings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", list(gen.LEGACY_TEXTS))
def test_legacy_encodings_are_decoded_and_recorded(encoding):
    source = gen.legacy_text(encoding)
    doc = load_document(source.name, source.data)
    assert doc.pages[0].text == normalize_text(gen.LEGACY_TEXTS[encoding])
    assert doc.encoding in gen.SAME_TEXT[encoding]


def test_html_meta_charset_is_honoured():
    html = '<html><head><meta charset="windows-1252"></head><body><p>“Quotes” €5 café</p></body></html>'
    doc = load_document("a.html", html.encode("cp1252"))
    assert doc.pages[0].text == "“Quotes” €5 café" and doc.encoding == "cp1252"


def test_utf8_text_is_read_exactly_as_before():
    """The .txt path that the BEIR collections take: UTF-8 decoded, normalized, one page, no sections."""
    text = "Line one.\r\n\r\nLine two has an exam-\nple and 中文。"
    doc = load_document("a.txt", text.encode())
    assert doc.pages == [Page(None, normalize_text(text))] and doc.encoding == "utf-8"


# --- DOCX size cap --------------------------------------------------------------------------------


def zip_bomb(unpacked: int) -> bytes:
    """A real DOCX-shaped zip whose document.xml inflates to `unpacked` bytes of zeros (a few 100 KB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as entry:
            block = b"\0" * 2**20
            for _ in range(unpacked // 2**20):
                entry.write(block)
    return buffer.getvalue()


def test_docx_over_the_unpacked_cap_is_refused_quickly_without_unpacking():
    bomb = zip_bomb(MAX_UNPACKED_BYTES + 2**20)
    assert len(bomb) < MAX_UNPACKED_BYTES // 100
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(IngestError) as info:
        load_document("bomb.docx", bomb)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(info.value) == (
        "the DOCX would unpack to 257 MB, more than the 256 MB allowed (a zip bomb, or far larger than a "
        "document needs)"
    )
    assert elapsed < 0.5 and peak < 16 * 2**20  # nothing inflated: the central directory alone


# --- the ingest line and the Library's details ----------------------------------------------------


def test_ingest_line_counts_ocr_pages():
    outcome = IngestOutcome("scan.pdf", IngestStatus.ADDED, "d", pages=12, chunks=25, ocr_pages=3)
    assert outcome.summary() == "scan.pdf: added, 12 pages (3 by OCR), 25 chunks"
    assert IngestOutcome("a.pdf", IngestStatus.ADDED, "d", 2, 3).summary() == "a.pdf: added, 2 pages, 3 chunks"
    assert outcome.as_json()["ocr_pages"] == 3


def test_parse_details_are_kept_for_the_library(runtime):
    from app.service import documents

    handbook = gen.handbook_pdf(pages=3)
    legacy = gen.legacy_text("cp1252")
    kb = runtime.open_or_create_kb("lib")
    for source in (handbook, legacy):
        assert ingest_bytes(runtime, kb, source.name, source.data).ok
    pdf_id, txt_id = (d.doc_id for d in sorted(runtime.catalog.documents(kb), key=lambda d: d.name != "handbook.pdf"))
    pdf = documents.details(runtime, "lib", pdf_id)
    assert pdf.headers == (gen.HEADER,) and pdf.footers == ("HR-POL-001 · Confidential · Page 1 of 3",)
    assert pdf.sections == tuple(handbook.sections)
    assert documents.details(runtime, "lib", txt_id).encoding == "cp1252"
    documents.delete(runtime, "lib", pdf_id)
    files = runtime.settings.kb_dir(kb.key) / "files"
    assert sorted(p.name for p in files.iterdir()) == sorted([f"{txt_id}.txt", f"{txt_id}.details.json"])
