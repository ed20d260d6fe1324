"""The page view: a PDF page drawn with the passage marked (checked pixel by pixel), and for other
formats the passage inside its section."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest

from app.errors import InvalidInput
from app.search import search
from app.service import pages
from ingest.pipeline import ingest_bytes
from testing import documents as gen

PASSAGE = (
    "The quarterly zebra audit checks every fire extinguisher in the east warehouse. Inspectors record "
    "the pressure gauge reading and the seal number on the orange inspection card."
)
PASSAGE_TOP_MM = 150


def manual_with_passage_on_page_3() -> bytes:
    from fpdf import FPDF

    rng = random.Random(9)
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for number in range(1, 5):
        pdf.add_page()
        if number == 3:
            pdf.set_y(PASSAGE_TOP_MM)
            pdf.multi_cell(0, 6, PASSAGE)
        else:
            pdf.multi_cell(0, 6, gen.paragraph(rng, "maintenance", sentences=6))
    return bytes(pdf.output())


def passage_bbox(data: bytes, page: int) -> tuple[float, float, float, float]:
    """The passage's box in points from the top-left, measured by pdfplumber (not by the code tested)."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        chars = [c for c in pdf.pages[page - 1].chars if c["text"].strip()]
    return (min(c["x0"] for c in chars), min(c["top"] for c in chars),
            max(c["x1"] for c in chars), max(c["bottom"] for c in chars))


def highlighted(pixels: np.ndarray) -> np.ndarray:
    """Pixels tinted by the translucent yellow mark (white paper or black ink under it)."""
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return (r - b > 60) & (g - b > 40)


def test_page_3_is_drawn_with_the_passage_marked_inside_its_box(runtime):
    from PIL import Image

    data = manual_with_passage_on_page_3()
    kb = runtime.open_or_create_kb("views")
    assert ingest_bytes(runtime, kb, "manual.pdf", data).ok
    hit = search(runtime, "views", "zebra audit fire extinguisher pressure gauge", rerank=False).hits[0]
    chunk = hit.chunk
    assert chunk.page == 3 and " ".join(chunk.text.split()) == PASSAGE

    view = pages.page_image(runtime, "views", chunk.doc_id, 3, chunk.char_start, chunk.char_end, text=chunk.text)
    assert view.found and view.page == 3 and view.width == pages.PAGE_WIDTH_PX
    image = np.asarray(Image.open(io.BytesIO(view.png)).convert("RGB"))
    assert image.shape[:2] == (view.height, view.width)

    scale = view.width / 595.28  # A4 width in points
    x0, top, x1, bottom = (v * scale for v in passage_bbox(data, 3))
    assert abs(top - PASSAGE_TOP_MM / 25.4 * 72 * scale) < 15
    mark = highlighted(image)
    ys, xs = np.nonzero(mark)
    pad = 4
    assert ys.min() >= top - pad and ys.max() <= bottom + pad and xs.min() >= x0 - pad and xs.max() <= x1 + pad
    inside = mark[int(top) : int(bottom), int(x0) : int(x1)]
    assert inside.mean() > 0.5  # the passage's box is mostly marked
    for box in view.boxes:
        assert box[0] >= x0 - pad and box[2] <= x1 + pad and box[1] >= top - pad and box[3] <= bottom + pad

    # The same passage looked up by its offsets alone.
    again = pages.page_image(runtime, "views", chunk.doc_id, 3, chunk.char_start, chunk.char_end)
    assert again.boxes == view.boxes
    with pytest.raises(InvalidInput, match="no page 9"):
        pages.page_image(runtime, "views", chunk.doc_id, 9, 0, 10, text="x")


def test_table_row_is_marked_by_its_cells():
    source = gen.table_pdf()
    view = pages.render_passage(source.data, 1, "Grade: Director; Days of leave: 35; Notice period: 3 months; "
                                "Approval: Managing director")
    assert view.found and len(view.boxes) == 1  # one row: the cells' rectangles on one line merge
    box = view.boxes[0]
    assert box[2] - box[0] > 300  # from "Director" to "Managing director"


def test_markdown_passage_is_shown_in_its_section(runtime):
    md = ("# Guide\n\nIntro text.\n\n## Leave\n\n" + " ".join(f"Leave rule {i} applies." for i in range(40))
          + "\n\n## Travel\n\nTravel rules are separate.\n").encode()
    kb = runtime.open_or_create_kb("ctx")
    assert ingest_bytes(runtime, kb, "guide.md", md).ok
    chunk = next(c for c in runtime.store.document_chunks(kb, runtime.catalog.documents(kb)[0].doc_id)
                 if "Leave rule 20" in c.text)
    context = pages.passage_context(runtime, "ctx", chunk)
    assert context.section == "Guide › Leave" == chunk.section
    assert context.passage == chunk.text
    assert "Travel" not in context.after and "Intro" not in context.before  # the section only
    assert (context.before + context.passage + context.after).startswith("Leave\n\nLeave rule 0")
