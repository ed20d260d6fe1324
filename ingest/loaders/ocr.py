"""OCR of a page image with RapidOCR (PP-OCRv4 on ONNX Runtime; its models ship inside the wheel, so
nothing is downloaded at run time). One model reads English and Chinese, mixed on a page too.

`recognise(image)` returns the text lines in reading order: boxes on one baseline joined into one line,
the two columns of a two-column page read one after the other, a blank line where the vertical gap says
a paragraph ends. The engine is built on first use and shared by the process (a lock serialises calls:
one call already uses every core).
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from statistics import median

# Pages are rendered so that their longer side has this many pixels: RapidOCR scales larger images
# down to it anyway (its `max_side_len`); for A4 it is about 170 dpi.
MAX_SIDE_PX = 2000
MIN_SCORE = 0.5  # lines recognised with less confidence are mostly noise read as text

_ENGINE = None
_ENGINE_LOCK = threading.Lock()


@dataclass(frozen=True)
class OcrLine:
    """A recognised line of text and its box in image pixels (left, top, right, bottom)."""

    text: str
    box: tuple[float, float, float, float]


def recognise(image) -> list[OcrLine]:
    """The text lines of a page image (PIL image or RGB array), in reading order; [] if none was found."""
    import numpy as np

    array = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else image
    with _ENGINE_LOCK:
        result, _ = _engine()(array)
    lines = []
    for points, text, score in result or []:
        if float(score) < MIN_SCORE or not text.strip():
            continue
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        lines.append(OcrLine(text.strip(), (min(xs), min(ys), max(xs), max(ys))))
    return reading_order(lines, array.shape[1])


def lines_text(lines: list[OcrLine]) -> list[str]:
    """The lines' text, with "" between paragraphs (a vertical gap larger than a line's height)."""
    if not lines:
        return []
    heights = [line.box[3] - line.box[1] for line in lines]
    typical = median(heights)
    out = [lines[0].text]
    for previous, line in zip(lines, lines[1:], strict=False):
        gap = line.box[1] - previous.box[3]
        if gap > 0.9 * typical or line.box[1] < previous.box[1] - typical:  # a paragraph, or the next column
            out.append("")
        out.append(line.text)
    return out


def reading_order(boxes: list[OcrLine], width: float) -> list[OcrLine]:
    """Boxes sorted into reading order and merged into lines: column by column where a vertical gutter
    splits the page's body in two, top to bottom in each, left to right along a line."""
    if not boxes:
        return []
    gutter = _gutter(boxes, width)
    if gutter is None:
        return _merge_rows(boxes)
    left = [b for b in boxes if b.box[2] <= gutter]
    right = [b for b in boxes if b.box[0] >= gutter]
    spanning = [b for b in boxes if b.box[0] < gutter < b.box[2]]
    # Lines across the gutter (a title, a running header or footer) go before or after the columns.
    top = min(b.box[1] for b in left + right)
    above = [b for b in spanning if b.box[3] <= top]
    below = [b for b in spanning if b.box[3] > top]
    return _merge_rows(above) + _merge_rows(left) + _merge_rows(right) + _merge_rows(below)


def _gutter(boxes: list[OcrLine], width: float) -> float | None:
    """The x of an empty vertical strip in the middle third of the page with text on both sides."""
    covered = bytearray(int(width) + 1)
    for b in boxes:
        if b.box[2] - b.box[0] > 0.6 * width:
            continue  # full-width lines (titles, headers) do not tell where columns are
        for x in range(max(0, int(b.box[0])), min(len(covered), int(b.box[2]) + 1)):
            covered[x] = 1
    lo, hi = int(width / 3), int(2 * width / 3)
    best, run_start = None, None
    for x in range(lo, hi + 1):
        if not covered[x]:
            run_start = x if run_start is None else run_start
            if x - run_start >= 0.015 * width:
                best = (run_start + x) / 2
        else:
            run_start = None
    if best is None:
        return None
    left = sum(1 for b in boxes if b.box[2] <= best)
    right = sum(1 for b in boxes if b.box[0] >= best)
    return best if left >= 3 and right >= 3 else None


def _merge_rows(boxes: list[OcrLine]) -> list[OcrLine]:
    """Boxes whose vertical centres lie within half a line height of each other form one line."""
    rows: list[list[OcrLine]] = []
    for b in sorted(boxes, key=lambda b: (b.box[1] + b.box[3]) / 2):
        centre = (b.box[1] + b.box[3]) / 2
        if rows:
            last = rows[-1]
            last_centre = median((x.box[1] + x.box[3]) / 2 for x in last)
            height = median(x.box[3] - x.box[1] for x in last)
            if abs(centre - last_centre) <= height / 2:
                last.append(b)
                continue
        rows.append([b])
    merged = []
    for row in rows:
        row.sort(key=lambda b: b.box[0])
        text = row[0].text
        for previous, b in zip(row, row[1:], strict=False):
            text += ("" if _cjk(previous.text[-1]) and _cjk(b.text[0]) else " ") + b.text
        box = (min(b.box[0] for b in row), min(b.box[1] for b in row),
               max(b.box[2] for b in row), max(b.box[3] for b in row))
        merged.append(OcrLine(text, box))
    return merged


def _cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _engine():
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        _ENGINE = RapidOCR()
    return _ENGINE
