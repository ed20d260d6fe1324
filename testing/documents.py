"""Generated company documents with known ground truth, for the parsing tests and `scripts/bench_parsing.py`.

Every builder returns a `Generated`: the file's name and bytes, and what a perfect parser would make of
it: the body paragraphs that must survive, the boilerplate (running headers and footers, navigation) that
must not, table rows as {header: value}, the text of scanned pages. PDFs are written with fpdf2, DOCX with
python-docx, scans are those PDFs rendered with PDFium, rotated, blurred and noised, and embedded as JPEG
pages. Needs the dev extras (fpdf2) and, for Chinese, a CJK font (`fonts-wqy-microhei`).
"""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

UNICODE_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
HEADER = "ACME Industries GmbH · Employee Handbook 2025 · INTERNAL Version 7.2"
FOOTER = "HR-POL-001 · Confidential · Page {page} of {pages}"
REPEATED_SENTENCE = "Questions about this policy go to the HR service desk."
TOPICS = (
    "annual leave", "travel expenses", "remote work", "overtime", "parental leave", "company cars",
    "training budget", "data privacy", "IT equipment", "sick leave", "bonus payments", "notice periods",
)
WORDS = (
    "employee manager request approval policy contract salary invoice department budget quarter review "
    "deadline schedule office record audit compliance benefit insurance payment reimbursement receipt "
    "colleague supervisor holiday weekend calendar system access account training course certificate "
    "report project customer supplier warehouse delivery shipment procedure safety equipment"
).split()
CHINESE_SENTENCES = (
    "员工每年享有三十天带薪年假，申请须提前两周提交给直属经理。",
    "差旅费用报销时必须附上发票原件和行程单。",
    "加班须事先获得部门负责人的书面批准。",
    "远程办公每周最多两天，具体安排由团队自行商定。",
    "公司为每位员工提供年度培训预算，用于参加外部课程。",
    "所有客户数据都必须按照数据保护规定妥善保管。",
    "试用期结束后，员工的通知期为一个月。",
    "病假超过三天时，需要提交医生开具的证明。",
    "知识库搜索系统把文档切成小块，每一块都会被转换成向量。",
    "用户提问时，系统先召回候选段落，然后用重排序模型打分。",
)
TABLE_ROWS = (
    {"Grade": "Junior", "Days of leave": "28", "Notice period": "2 weeks", "Approval": "Team lead"},
    {"Grade": "Senior", "Days of leave": "30", "Notice period": "1 month", "Approval": "Department head"},
    {"Grade": "Principal", "Days of leave": "32", "Notice period": "2 months",
     "Approval": "Department head and HR business partner jointly"},
    {"Grade": "Director", "Days of leave": "35", "Notice period": "3 months", "Approval": "Managing director"},
    {"Grade": "Intern", "Days of leave": "20", "Notice period": "1 week", "Approval": "Mentor"},
)


@dataclass
class Generated:
    """A generated file and its ground truth."""

    name: str
    data: bytes
    body: list[str] = field(default_factory=list)  # paragraphs the parsed text must keep
    boilerplate: list[str] = field(default_factory=list)  # lines it must not contain (as printed)
    rows: list[dict[str, str]] = field(default_factory=list)  # table rows
    page_text: dict[int, str] = field(default_factory=dict)  # page number -> its body text (scans)
    sections: list[str] = field(default_factory=list)  # heading paths expected
    encoding: str = ""
    language: str = "en"
    metadata: list[str] = field(default_factory=list)  # text expected as document metadata only


def first_font(paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if Path(p).is_file()), None)


def paragraph(rng: random.Random, topic: str, sentences: int = 4) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(9, 16))]
        at = rng.randrange(len(words))
        words[at] = topic
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def _pdf(font: str | None = None, size: float = 11, margins: tuple[float, float] = (20, 28)):
    from fpdf import FPDF

    class Handbook(FPDF):
        header_text: str | None = None
        footer_text: str | None = None

        def header(self):
            if self.header_text:
                self.set_y(11)
                self.cell(0, 6, self.header_text, align="L")
                self.set_y(self.t_margin)

        def footer(self):
            if self.footer_text:
                self.set_y(-16)
                self.cell(0, 6, self.footer_text.format(page=self.page_no(), pages="{nb}"), align="C")

    pdf = Handbook()
    font = font or first_font(UNICODE_FONTS)
    if font:
        pdf.add_font("body", fname=font)
        pdf.set_font("body", size=size)
    else:
        pdf.set_font("helvetica", size=size)
    pdf.set_margins(margins[0], margins[1])
    pdf.set_auto_page_break(True, margin=margins[1])
    return pdf


def handbook_pdf(
    pages: int = 8,
    seed: int = 0,
    *,
    header: str | None = HEADER,
    footer: str | None = FOOTER,
    repeated: str | None = REPEATED_SENTENCE,
    outline: bool = True,
) -> Generated:
    """A handbook of `pages` pages, one topic a page under a numbered heading (bookmarked when `outline`),
    a running header and a footer with the page number, and `repeated` said on every page (in the body)."""
    rng = random.Random(seed)
    pdf = _pdf()
    pdf.header_text, pdf.footer_text = header, footer
    body, sections, boilerplate = [], [], []
    for n in range(1, pages + 1):
        pdf.add_page()
        topic = TOPICS[(n - 1) % len(TOPICS)]
        title = f"{n} {topic.capitalize()}"
        if outline:
            pdf.start_section(title, level=0)
        pdf.multi_cell(0, 7, title)
        pdf.ln(2)
        paragraphs = [paragraph(rng, topic), paragraph(rng, topic)]
        if repeated:
            paragraphs.insert(1, repeated)
        for text in paragraphs:
            pdf.multi_cell(0, 6, text)
            pdf.ln(3)
        body.extend([title, *paragraphs])
        sections.append(title)
        if header:
            boilerplate.append(header)
        if footer:
            boilerplate.append(footer.format(page=n, pages=pages))
    return Generated("handbook.pdf", bytes(pdf.output()), body=body, boilerplate=boilerplate, sections=sections)


def two_column_pdf(pages: int = 3, seed: int = 1) -> Generated:
    """Pages in two columns (left column written first), with the running header and footer."""
    rng = random.Random(seed)
    pdf = _pdf(size=10)
    pdf.header_text, pdf.footer_text = HEADER, FOOTER
    body, boilerplate = [], []
    for n in range(1, pages + 1):
        pdf.add_page()
        top = pdf.get_y()
        for x in (20, 110):
            pdf.set_xy(x, top)
            for _ in range(2):
                text = paragraph(rng, rng.choice(TOPICS), sentences=3)
                pdf.set_x(x)
                pdf.multi_cell(80, 5, text)
                pdf.ln(3)
                body.append(text)
        boilerplate += [HEADER, FOOTER.format(page=n, pages=pages)]
    return Generated("two-columns.pdf", bytes(pdf.output()), body=body, boilerplate=boilerplate)


def table_pdf(seed: int = 2) -> Generated:
    """Two pages: text, a bordered table of `TABLE_ROWS` (one cell wraps to two lines), more text."""
    rng = random.Random(seed)
    pdf = _pdf(size=10)
    pdf.header_text, pdf.footer_text = HEADER, FOOTER
    pdf.add_page()
    before = paragraph(rng, "annual leave")
    pdf.multi_cell(0, 5, before)
    pdf.ln(4)
    headers = list(TABLE_ROWS[0])
    from fpdf.fonts import FontFace

    with pdf.table(col_widths=(30, 30, 35, 55), text_align="LEFT", headings_style=FontFace()) as table:
        table.row(headers)
        for row in TABLE_ROWS:
            table.row([row[h] for h in headers])
    pdf.ln(4)
    after = paragraph(rng, "notice periods")
    pdf.multi_cell(0, 5, after)
    pdf.add_page()
    last = paragraph(rng, "overtime")
    pdf.multi_cell(0, 5, last)
    return Generated(
        "leave-table.pdf", bytes(pdf.output()), body=[before, after, last], rows=[dict(r) for r in TABLE_ROWS],
        boilerplate=[HEADER, FOOTER.format(page=1, pages=2), FOOTER.format(page=2, pages=2)],
    )


def text_pages_pdf(texts: list[str], *, font: str | None = None, size: float = 12, header: bool = True) -> bytes:
    """One page per text (no outline), with the running header and footer when `header`."""
    pdf = _pdf(font=font, size=size)
    if header:
        pdf.header_text, pdf.footer_text = HEADER, FOOTER
    for text in texts:
        pdf.add_page()
        for part in text.split("\n\n"):
            pdf.multi_cell(0, size * 0.6, part)
            pdf.ln(3)
    return bytes(pdf.output())


def scanned(data: bytes, dpi: int, *, angle: float = 0.6, noise: float = 10.0, seed: int = 0) -> bytes:
    """The PDF's pages as a scanner would give them: rendered at `dpi`, rotated by `angle` degrees,
    slightly blurred, with Gaussian noise, as grayscale JPEG pages without any text layer."""
    import numpy as np
    import pypdfium2 as pdfium
    from fpdf import FPDF
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    out = FPDF(unit="pt")
    document = pdfium.PdfDocument(data)
    try:
        for page in document:
            width, height = page.get_size()
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            image = image.rotate(angle, resample=Image.BICUBIC, fillcolor=255).filter(ImageFilter.GaussianBlur(0.5))
            pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (image.height, image.width))
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            jpeg = io.BytesIO()
            image.save(jpeg, "JPEG", quality=85)
            out.add_page(format=(width, height))
            out.image(io.BytesIO(jpeg.getvalue()), x=0, y=0, w=width, h=height)
    finally:
        document.close()
    return bytes(out.output())


def english_scan(dpi: int, pages: int = 2, seed: int = 3) -> Generated:
    rng = random.Random(seed)
    texts = ["\n\n".join(paragraph(rng, rng.choice(TOPICS), sentences=4) for _ in range(3)) for _ in range(pages)]
    data = scanned(text_pages_pdf(texts), dpi)
    boilerplate = [HEADER] + [FOOTER.format(page=n, pages=pages) for n in range(1, pages + 1)]
    return Generated(f"scan-en-{dpi}.pdf", data, page_text={n: t for n, t in enumerate(texts, 1)},
                     boilerplate=boilerplate)


def chinese_scan(dpi: int, font: str) -> Generated:
    text = "\n\n".join("".join(CHINESE_SENTENCES[i : i + 3]) for i in range(0, len(CHINESE_SENTENCES), 3))
    data = scanned(text_pages_pdf([text], font=font, size=13, header=False), dpi)
    return Generated(f"scan-zh-{dpi}.pdf", data, page_text={1: text}, language="zh")


def handbook_docx(seed: int = 4) -> Generated:
    """A DOCX with headings, a table with a header row, a page header and footer, and two footnotes."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rng = random.Random(seed)
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = HEADER
    section.footer.paragraphs[0].text = "HR-POL-001 · Confidential"
    document.add_heading("Employee Handbook", level=0)
    body, sections = ["Employee Handbook"], ["Employee Handbook"]
    notes = {}
    for i, topic in enumerate(("annual leave", "travel expenses", "remote work")):
        title = topic.capitalize()
        document.add_heading(title, level=1)
        body.append(title)
        sections.append(f"Employee Handbook › {title}")
        for _ in range(2):
            text = paragraph(rng, topic)
            last = document.add_paragraph(text)
            body.append(text)
        if i < 2:
            note = f"See the {topic} guideline on the intranet, revision {i + 3}."
            notes[str(i + 1)] = note
            reference = OxmlElement("w:footnoteReference")
            reference.set(qn("w:id"), str(i + 1))
            last.add_run()._r.append(reference)
            body.append(note)
        if i == 0:
            document.add_heading("Entitlement by grade", level=2)
            sections.append("Employee Handbook › Annual leave › Entitlement by grade")
            body.append("Entitlement by grade")
            headers = list(TABLE_ROWS[0])
            table = document.add_table(rows=1, cols=len(headers))
            for cell, name in zip(table.rows[0].cells, headers, strict=True):
                cell.text = name
            for row in TABLE_ROWS:
                cells = table.add_row().cells
                for cell, name in zip(cells, headers, strict=True):
                    cell.text = row[name]
    buffer = io.BytesIO()
    document.save(buffer)
    data = _with_footnotes(buffer.getvalue(), notes)
    return Generated(
        "handbook.docx", data, body=body, rows=[dict(r) for r in TABLE_ROWS], sections=sections,
        boilerplate=[HEADER, "HR-POL-001 · Confidential"], metadata=[HEADER, "HR-POL-001 · Confidential"],
    )


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _with_footnotes(data: bytes, notes: dict[str, str]) -> bytes:
    """Add word/footnotes.xml with `notes` (id -> text), which python-docx cannot write."""
    from xml.sax.saxutils import escape

    footnotes = "".join(
        f'<w:footnote w:id="{key}"><w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p></w:footnote>'
        for key, text in notes.items()
    )
    part = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{_W}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p>'
        f"</w:footnote>{footnotes}</w:footnotes>"
    )
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                content = content.replace(
                    b"</Types>",
                    b'<Override PartName="/word/footnotes.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
                )
            elif item.filename == "word/_rels/document.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdFootnotes" Type="http://schemas.openxmlformats.org/officeDocument/'
                    b'2006/relationships/footnotes" Target="footnotes.xml"/></Relationships>',
                )
            target.writestr(item, content)
        target.writestr("word/footnotes.xml", part)
    return out.getvalue()


def boilerplate_html(seed: int = 5) -> Generated:
    """An intranet page: navigation, cookie banner, breadcrumbs, sidebar and footer around an article with
    headings, paragraphs, a list and a table."""
    from html import escape

    rng = random.Random(seed)
    paras = [paragraph(rng, t) for t in ("annual leave", "annual leave", "travel expenses", "travel expenses")]
    headers = list(TABLE_ROWS[0])
    table = "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{escape(r[h])}</td>" for h in headers) + "</tr>" for r in TABLE_ROWS
    ) + "</table>"
    boilerplate = [
        "Home", "HR services", "IT helpdesk", "Canteen menu",
        "We use cookies to improve your experience. Accept all cookies",
        "Related pages: Travel policy · Expense policy · Company cars",
        "© 2025 ACME Industries GmbH · Imprint · Privacy statement · Contact",
    ]
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Leave policy | ACME intranet</title>
<script>window.analytics = {{track: function() {{}}}};</script><style>nav a {{ margin: 1em; }}</style></head>
<body><header class="site-header"><nav><ul><li><a href="/">Home</a></li><li><a href="/hr">HR services</a></li>
<li><a href="/it">IT helpdesk</a></li><li><a href="/food">Canteen menu</a></li></ul></nav></header>
<div class="cookie-banner" role="dialog"><p>We use cookies to improve your experience.
<button>Accept all cookies</button></p></div>
<main><article><h1>Leave and travel policy</h1>
<h2>Annual leave</h2><p>{escape(paras[0])}</p><p>{escape(paras[1])}</p>
<h3>Entitlement by grade</h3>{table}
<h2>Travel expenses</h2><p>{escape(paras[2])}</p><ul><li>{escape(paras[3])}</li></ul>
</article></main>
<aside class="sidebar"><p>Related pages: Travel policy · Expense policy · Company cars</p></aside>
<footer class="site-footer"><p>© 2025 ACME Industries GmbH · Imprint · Privacy statement · Contact</p></footer>
</body></html>"""
    return Generated(
        "leave-policy.html", html.encode("utf-8"), body=["Leave and travel policy", *paras],
        boilerplate=boilerplate, rows=[dict(r) for r in TABLE_ROWS],
        sections=["Leave and travel policy › Annual leave", "Leave and travel policy › Travel expenses"],
    )


def div_soup_html(seed: int = 6) -> Generated:
    """The same kind of intranet page built from <div>s only (no <nav>, <header>, <footer> or <aside>): the
    boilerplate is known by its link density and repetition, not by its tags."""
    from html import escape

    rng = random.Random(seed)
    paras = [paragraph(rng, t) for t in ("remote work", "remote work", "IT equipment")]
    links = ["Home", "HR services", "IT helpdesk", "Canteen menu", "Phone book", "Room booking"]
    menu = " ".join(f'<div class="item"><a href="/{i}">{escape(t)}</a></div>' for i, t in enumerate(links))
    footer_links = " | ".join(f'<a href="/f{i}">{t}</a>' for i, t in enumerate(("Imprint", "Privacy", "Contact")))
    html = f"""<html><head><title>Remote work | ACME intranet</title></head><body>
<div class="top"><div class="menu">{menu}</div></div>
<div class="cookie">This site uses cookies. <a href="/cookies">Cookie settings</a></div>
<div class="page"><div class="content"><div class="title">Remote work policy</div>
<div class="text"><p>{escape(paras[0])}</p><p>{escape(paras[1])}</p><p>{escape(paras[2])}</p></div></div>
<div class="side"><div class="box"><a href="/a">Travel policy</a> <a href="/b">Expense policy</a>
<a href="/c">Company cars</a></div></div></div>
<div class="bottom">© 2025 ACME Industries GmbH {footer_links}</div></body></html>"""
    boilerplate = [*links, "This site uses cookies. Cookie settings", "Travel policy Expense policy Company cars",
                   "Imprint | Privacy | Contact"]
    return Generated("remote-work.html", html.encode("utf-8"), body=paras, boilerplate=boilerplate)


LEGACY_TEXTS = {
    "cp1252": "“Smart quotes” cost €20 – a naïve café façade, crème brûlée… The employee’s handbook says: "
    "“Don’t forget the déjà vu.” Größe: 5 × 3 — ½ price. Señor Müller’s résumé is 3 pages long.",
    "latin-1": "Café crème brûlée, naïve façade. Die Größe der Übung ist ähnlich; señor año, garçon. "
    "Nächste Zeile über Äpfel und Öl. Le élève a réussi l'examen à Noël; où est la clé?",
    "gbk": "员工每年享有三十天带薪年假，申请须提前两周提交给直属经理。差旅费用报销时必须附上发票原件和行程单。"
    "加班须事先获得部门负责人的书面批准。",
    "gb18030": "知识库搜索系统把文档切成小块。每一块都会被转换成向量！用户提问时，系统先召回候选段落？"
    "然后用重排序模型打分；最后返回最相关的结果。",
    "big5": "員工每年享有三十天帶薪年假，申請須提前兩週提交給直屬經理。差旅費用報銷時必須附上發票原件和行程單。"
    "加班須事先獲得部門負責人的書面批准。",
    "shift_jis": "知識ベース検索システムは文書を小さな塊に分割します。各塊はベクトルに変換されます。"
    "ユーザーが質問すると、システムは候補の段落を呼び出し、再ランキングモデルで採点します。",
}
# Encodings that decode these bytes to the same text (supersets): either name is a correct detection.
SAME_TEXT = {
    "cp1252": {"cp1252"}, "latin-1": {"latin-1", "iso8859-1", "cp1252"}, "gbk": {"gbk", "gb18030"},
    "gb18030": {"gb18030"}, "big5": {"big5", "big5hkscs", "cp950"}, "shift_jis": {"shift_jis", "cp932"},
}


def legacy_text(encoding: str) -> Generated:
    text = LEGACY_TEXTS[encoding]
    return Generated(f"legacy-{encoding}.txt", text.encode(encoding), body=[text], encoding=encoding)
