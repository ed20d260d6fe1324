"""Loaders and normalization on real files: PDFs made with fpdf2 and read with PDFium, HTML, DOCX, text.

The rules that issue 12 added (running headers and footers, tables, sections, OCR, legacy encodings)
are tested in test_parsing.py and test_ocr.py."""

from __future__ import annotations

import codecs
import io
import subprocess
import sys

import pytest

from app.errors import IngestError
from app.models import Page
from ingest.loaders import (
    NOTHING_TO_READ,
    SUPPORTED_EXTENSIONS,
    UNDECODABLE,
    LoadedDocument,
    decode_text,
    load_document,
)
from ingest.normalize import collapse_spaces, join_hyphenated, normalize_newlines, normalize_text
from tests.fixtures_docs import (
    CHINESE_TEXT,
    broken_page_tree_pdf,
    empty_password_pdf,
    image_only_pdf,
    make_docx,
    make_pdf,
    truncated_pdf,
)


def load_error(name: str, data: bytes) -> str:
    with pytest.raises(IngestError) as info:
        load_document(name, data)
    return str(info.value)


# --- normalize ----------------------------------------------------------------------------------


def test_normalize_text_cleans_pdf_artefacts_and_keeps_paragraphs():
    raw = "An exam-\r\nple  of\ttext\x00 here.  \r\n\r\n\r\n  Next\x0c para\u00ad."
    assert normalize_text(raw) == "An example of text here.\n\nNext\npara."


def test_join_hyphenated_keeps_real_hyphens():
    assert join_hyphenated("exam-\nple") == "example"
    assert join_hyphenated("Jean-\nPaul") == "Jean-\nPaul"
    assert join_hyphenated("state-of-\nthe-art") == "state-of-the-art"
    assert join_hyphenated("pages 3-\n4") == "pages 3-\n4"


def test_normalize_keeps_chinese_full_width_punctuation():
    text = "你好，世界！（全角）：１２３\u3000结束。"
    assert normalize_text(text) == text


def test_small_steps():
    assert normalize_newlines("a\r\nb\rc\u2028d") == "a\nb\nc\nd"
    assert collapse_spaces("a  \t b \n \n\n c") == "a b\n\nc"


# --- text, Markdown, HTML, DOCX ----------------------------------------------------------------


def test_text_file_is_one_unnumbered_page():
    doc = load_document("Notes.TXT", b"Hello.\r\n\r\nWorld.")
    assert doc == LoadedDocument([Page(None, "Hello.\n\nWorld.")], [], encoding="utf-8")
    assert not doc.paged


def test_markdown_keeps_its_words_not_its_markup():
    doc = load_document("readme.md", b"# Title\n\nSome *bold* text.\n")
    assert [p.text for p in doc.pages] == ["Title\n\nSome bold text."]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "café".encode(), "café"),
        (codecs.BOM_UTF16_LE + "café 中文".encode("utf-16-le"), "café 中文"),
        (codecs.BOM_UTF16_BE + "café".encode("utf-16-be"), "café"),
        (CHINESE_TEXT.encode("gb18030"), CHINESE_TEXT),
    ],
)
def test_decode_text_encodings(data, expected):
    assert decode_text(data) == expected


def test_chinese_gb18030_txt_loads():
    doc = load_document("旧文件.txt", CHINESE_TEXT.encode("gb18030"))
    assert doc.pages[0].text == CHINESE_TEXT


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,  # binary junk
        b"\x00\x01\x02\x03PK\x03\x04" + b"\x00" * 100,
    ],
)
def test_undecodable_text_fails(data):
    assert load_error("data.txt", data) == UNDECODABLE


@pytest.mark.parametrize("data", [b"", b"  \r\n\t \n", codecs.BOM_UTF8 + b"\n"])
def test_empty_file(data):
    assert load_error("empty.txt", data) == "the file is empty"


def test_empty_pdf_file():
    from pypdf import PdfWriter

    no_pages = io.BytesIO()
    PdfWriter().write(no_pages)
    assert load_error("empty.pdf", b"") == "the file is empty"
    assert load_error("empty.pdf", no_pages.getvalue()) == "the file is empty"


def test_unsupported_type_lists_supported_ones():
    message = load_error("photo.XYZ", b"data")
    assert message == f"unsupported file type '.xyz' (supported: {', '.join(SUPPORTED_EXTENSIONS)})"
    assert message.startswith("unsupported file type '.xyz' (supported: .pdf, .txt, ")
    assert load_error("Makefile", b"all:").startswith("unsupported file type without extension")


def test_html_visible_text_in_paragraphs():
    html = """<!doctype html><html><head><title>T</title><style>p {color: red}</style></head>
    <body><h1>Heading</h1><script>var x = "hidden";</script>
    <p>First   paragraph
    spans lines &amp; has <b>bold</b> text.</p><div>Second<br>line</div>
    <noscript>no</noscript></body></html>"""
    doc = load_document("page.html", html.encode())
    assert doc.pages[0].text == "Heading\n\nFirst paragraph spans lines & has bold text.\n\nSecond\nline"
    unclosed_head = "<html><head><title>T</title><script/><body><p>Body text.</p><br/>After."
    assert load_document("x.htm", unclosed_head.encode()).pages[0].text == "Body text.\n\nAfter."


def test_htm_with_only_markup_says_it_has_no_visible_text():
    from ingest.loaders.html import NO_VISIBLE_TEXT

    blank = b"<html><head><script>x()</script></head><body> </body></html>"
    assert load_error("blank.HTM", blank) == NO_VISIBLE_TEXT


def test_minimal_docx_without_package_relationships_is_read_the_plain_way():
    """Only [Content_Types].xml and word/document.xml: python-docx cannot open it; the XML walk can."""
    data = make_docx(
        ["First paragraph.", "Second\tone with a tab & ampersand."], table_cells=["cell A", "cell B"]
    )
    doc = load_document("report.docx", data)
    assert doc.pages == [
        Page(None, "First paragraph.\n\nSecond one with a tab & ampersand.\n\ncell A\n\ncell B")
    ]


def test_broken_docx():
    assert load_error("a.docx", b"not a zip") == "not a readable DOCX: not a zip archive"
    assert load_error("a.docx", make_docx(["x"])[:-30]) == "not a readable DOCX: not a zip archive"


# --- PDF ---------------------------------------------------------------------------------------


def test_multi_page_pdf_keeps_page_numbers():
    data = make_pdf(["Alpha page text.", "Beta page has an exam-\nple.", "Gamma page, café."])
    doc = load_document("Report.PDF", data)
    assert doc.pages == [
        Page(1, "Alpha page text."),
        Page(2, "Beta page has an example."),
        Page(3, "Gamma page, café."),
    ]
    assert doc.warnings == [] and doc.paged and doc.page_count == 3


def test_pdf_pages_without_text_are_skipped_with_a_warning():
    """Pages with only a drawn rectangle: no text layer, nothing for OCR to read, skipped as before."""
    doc = load_document("mixed.pdf", make_pdf(["One.", "", "Three.", "", ""]))
    assert [p.number for p in doc.pages] == [1, 3]
    assert doc.warnings == ["pages 2, 4, 5 have no text layer (skipped)"]
    assert doc.page_count == 5
    single = load_document("mixed.pdf", make_pdf(["", "Two."]))
    assert single.warnings == ["page 1 has no text layer (skipped)"]


def test_pdf_of_drawings_only():
    assert load_error("drawing.pdf", image_only_pdf()) == NOTHING_TO_READ
    with pytest.raises(IngestError, match=r"OCR is off \(KB_OCR=off\)"):
        load_document("drawing.pdf", image_only_pdf(), ocr="off")


@pytest.mark.parametrize(
    "data",
    [truncated_pdf(), broken_page_tree_pdf(), b"%PDF-1.7\n garbage", b"hello, not a pdf at all"],
    ids=["truncated", "broken-page-tree", "header-only", "not-pdf"],
)
def test_unreadable_pdf(data):
    message = load_error("bad.pdf", data)
    assert message.startswith("not a readable PDF: ")
    reason = message.removeprefix("not a readable PDF: ")
    assert reason and "\n" not in reason and len(reason) <= 120


def test_broken_page_tree_is_explained_in_pypdf_words():
    """PDFium only says "data format error"; pypdf names the broken part."""
    assert load_error("bad.pdf", broken_page_tree_pdf()) == "not a readable PDF: Invalid object in /Pages"


@pytest.mark.parametrize("aes", [False, True], ids=["rc4", "aes"])
def test_password_protected_pdf(aes):
    data = make_pdf(["Secret."], encrypt_password="hunter2", aes=aes)
    assert load_error("secret.pdf", data) == "the PDF is password-protected"


@pytest.mark.parametrize("aes", [False, True], ids=["rc4", "aes"])
def test_empty_user_password_pdf_opens(aes):
    data = make_pdf(["Opens without a password."], encrypt_password="", aes=aes)
    assert load_document("open.pdf", data).pages == [Page(1, "Opens without a password.")]
    assert load_document("open.pdf", empty_password_pdf()).pages == [Page(1, "Opens without a password.")]


def test_aes_pdf_opens_without_the_cryptography_package():
    """PDFium decrypts AES itself: unlike pypdf, it needs no `cryptography`. Checked in a fresh interpreter
    in which the package cannot be imported."""
    data = make_pdf(["Secret."], encrypt_password="", aes=True)
    code = (
        "import sys; sys.modules['cryptography'] = None; sys.modules['Crypto'] = None\n"
        "from ingest.loaders import load_document\n"
        "print(load_document('a.pdf', sys.stdin.buffer.read()).pages[0].text)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert result.stdout.decode().strip() == "Secret."


def test_chinese_pdf(cjk_font):
    doc = load_document("中文.pdf", make_pdf(["第一页。", "第二页！"], font_path=cjk_font))
    assert doc.pages == [Page(1, "第一页。"), Page(2, "第二页！")]


def test_ocr_paragraphs_split_at_a_wider_step_and_not_at_a_short_line():
    from ingest.loaders.ocr import OcrLine, _paragraphs

    def line(top: float, height: float = 45) -> OcrLine:
        return OcrLine("words", (100, top, 900, top + height))

    # 300-dpi pitches seen on the generated scans: 48 px within a paragraph, 68 px across; the fourth line
    # has no ascenders (a shorter box further down), which a gap between box edges would take for a break.
    lines = [line(0), line(48), line(96), line(152, 36), line(210), line(258), line(306)]
    assert [x.paragraph for x in _paragraphs(lines)] == [0, 0, 0, 0, 1, 1, 1]


def test_html_without_visible_text_says_why():
    from ingest.loaders.html import NO_VISIBLE_TEXT, UNCLOSED

    with pytest.raises(IngestError) as unclosed:
        load_document("page.html", b"<html><body><script>var x = 1;" + b" " * 1000)
    assert str(unclosed.value) == UNCLOSED.format(tag="script")
    with pytest.raises(IngestError) as markup:
        load_document("page.html", b"<html><body><div></div><style>p {}</style></body></html>")
    assert str(markup.value) == NO_VISIBLE_TEXT


def test_pdf_whose_page_tree_loops_says_which_page_cannot_be_read():
    from ingest.loaders.pdf import PAGE_UNREADABLE
    from testing.hostile import loop_pdf

    with pytest.raises(IngestError) as info:
        load_document("loop.pdf", loop_pdf())
    assert str(info.value) == PAGE_UNREADABLE.format(page=1)
