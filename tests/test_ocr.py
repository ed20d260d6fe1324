"""Scanned pages through the real OCR engines: RapidOCR (the default) and, where installed, tesseract.

Scans are generated (testing/documents.py): fpdf2 pages rendered at 150 or 300 dpi, rotated 0.6°,
blurred and noised, embedded as JPEG pages without a text layer. OCR takes seconds a page on two cores,
so these tests are marked slow.
"""

from __future__ import annotations

import io
import random

import pytest

from app.errors import IngestError
from app.search import search
from ingest.loaders import NO_TEXT_LAYER, OCR_FOUND_NOTHING, load_document
from ingest.loaders.ocr import tesseract_available
from ingest.pipeline import ingest_bytes
from testing import documents as gen
from testing.text_metrics import cer

pytestmark = pytest.mark.slow

FACT = "The badge office on the third floor replaces lost visitor badges within one hour."


@pytest.fixture(scope="module")
def english_300():
    return gen.english_scan(300)


def body_text(doc) -> dict[int, str]:
    return {p.number: p.text for p in doc.pages}


def test_scanned_english_pages_are_read_within_target_and_lose_their_running_lines(english_300):
    doc = load_document(english_300.name, english_300.data)
    assert doc.ocr_pages == (1, 2)
    assert doc.headers and doc.footers  # recognised on both pages, removed from both
    for number, text in body_text(doc).items():
        assert cer(english_300.page_text[number], text) <= 0.03
        assert "ACME" not in text and "HR-POL" not in text


def test_scanned_chinese_page_is_read_within_target(cjk_font):
    scan = gen.chinese_scan(300, cjk_font)
    doc = load_document(scan.name, scan.data)
    assert doc.ocr_pages == (1,)
    assert cer(scan.page_text[1], doc.pages[0].text, "zh") <= 0.06


def test_ocr_page_is_found_by_search_and_cited_with_its_page(runtime):
    """Page 1 has a text layer, page 2 is a scan: the fact on page 2 is found and cited as p. 2."""
    text_page = gen.text_pages_pdf(["Visitor rules. Visitors sign in at the front desk."], header=False)
    page_two = FACT + " " + gen.paragraph(random.Random(1), "badges")
    scan_page = gen.scanned(gen.text_pages_pdf([page_two], header=False), 300)
    data = _concatenate([text_page, scan_page])
    kb = runtime.open_or_create_kb("scans")
    outcome = ingest_bytes(runtime, kb, "visitors.pdf", data)
    assert outcome.ok and outcome.ocr_pages == 1
    assert outcome.summary().startswith("visitors.pdf: added, 2 pages (1 by OCR), ")
    hit = search(runtime, "scans", "who replaces lost visitor badges", rerank=False).hits[0]
    assert hit.chunk.page == 2 and "replaces lost visitor badges" in hit.chunk.text


def test_a_scan_where_ocr_finds_nothing_fails_with_a_clear_reason():
    blank = gen.scanned(gen.text_pages_pdf([" "], header=False), 150)
    with pytest.raises(IngestError) as info:
        load_document("blank-scan.pdf", blank)
    assert str(info.value) == OCR_FOUND_NOTHING


def test_ocr_off_keeps_the_old_behaviour(english_300):
    with pytest.raises(IngestError) as info:
        load_document(english_300.name, english_300.data, ocr="off")
    assert str(info.value) == NO_TEXT_LAYER


@pytest.mark.skipif(not tesseract_available(), reason="tesseract-ocr is not installed")
def test_tesseract_engine_reads_the_same_scan(english_300):
    doc = load_document(english_300.name, english_300.data, ocr="tesseract")
    assert doc.ocr_pages == (1, 2)
    for number, text in body_text(doc).items():
        assert cer(english_300.page_text[number], text) <= 0.03


def _concatenate(pdfs: list[bytes]) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for data in pdfs:
        writer.append(io.BytesIO(data))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_page_view_of_a_scanned_page_marks_the_recognised_lines(english_300):
    from app.service.pages import render_passage

    doc = load_document(english_300.name, english_300.data)
    passage = doc.pages[0].text.split("\n\n")[1]  # the second paragraph of page 1
    view = render_passage(english_300.data, 1, passage)
    assert view.found and len(view.boxes) >= passage.count("\n") + 1
    tops = [b[1] for b in view.boxes]
    assert max(tops) - min(tops) < view.height / 3  # one paragraph, not the whole page
