"""OCR of a page image: English and Chinese, mixed on a page too.

Two engines, chosen by KB_OCR:

- `on` (the default): RapidOCR, PP-OCRv4 on ONNX Runtime. Its models ship inside the
  `rapidocr_onnxruntime` wheel, so it works wherever the Python packages are installed and never downloads
  anything. Boxes are put into reading order here: one line per baseline, the two columns of a two-column
  page one after the other, a new paragraph where the vertical gap is larger than a line.
- `tesseract`: Debian's `tesseract-ocr` with `-eng` and `-chi-sim` (`scripts/setup.sh --dev` installs
  them), run as a subprocess; its own layout analysis gives lines and paragraphs. More accurate on
  low-resolution English scans (word spacing), about twice as slow (docs/BENCHMARKS.md).

`recognise(image, engine)` returns `OcrLine`s in reading order, each with its box in image pixels. The
RapidOCR engine is built on first use and shared by the process; a lock serialises calls (one call
already uses every core).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass
from statistics import median

from app.errors import IngestError

# Pages are rendered so that their longer side has this many pixels: RapidOCR scales larger images down
# to it anyway (its `max_side_len`); for A4 it is about 170 dpi.
MAX_SIDE_PX = 2000
MIN_SCORE = 0.5  # RapidOCR lines recognised with less confidence are mostly noise read as text
# Lines of one paragraph are ~1.05 line heights apart, centre to centre; a paragraph break adds half a line
# or more (measured on the generated scans: 48 px within, 68 px across, at 300 dpi).
PARAGRAPH_STEP = 1.25
TESSERACT_LANGUAGES = "eng+chi_sim"
TESSERACT_TIMEOUT_S = 300
ENGINES = ("on", "tesseract")

_RAPID = None
_RAPID_LOCK = threading.Lock()


@dataclass(frozen=True)
class OcrLine:
    """A recognised line of text, its box in image pixels (left, top, right, bottom) and the number of
    the paragraph it belongs to (in reading order)."""

    text: str
    box: tuple[float, float, float, float]
    paragraph: int = 0


def recognise(image, engine: str = "on") -> list[OcrLine]:
    """The text lines of a page image (a PIL image), in reading order; [] if none was found.

    Raises:
        IngestError: `tesseract` was asked for and is not installed, or failed.
    """
    if engine == "tesseract":
        return _tesseract(image)
    return _rapidocr(image)


def lines_text(lines: list[OcrLine]) -> list[str]:
    """The lines' text, with "" between paragraphs."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if i and line.paragraph != lines[i - 1].paragraph:
            out.append("")
        out.append(line.text)
    return out


# --- RapidOCR -----------------------------------------------------------------------------------


def _rapidocr(image) -> list[OcrLine]:
    import numpy as np

    array = np.asarray(image.convert("RGB"))
    with _RAPID_LOCK:
        # No per-line orientation classifier: on noisy scans it turns good lines upside down (and reads
        # them as garbage); a page is scanned the right way up or rotated as a whole.
        result, _ = _rapid_engine()(array, use_cls=False)
    boxes = []
    for points, text, score in result or []:
        if float(score) < MIN_SCORE or not text.strip():
            continue
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        boxes.append(OcrLine(" ".join(text.split()), (min(xs), min(ys), max(xs), max(ys))))
    return _paragraphs(reading_order(boxes, array.shape[1]))


def _rapid_engine():
    global _RAPID
    if _RAPID is None:
        from rapidocr_onnxruntime import RapidOCR

        _RAPID = RapidOCR()
    return _RAPID


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
        lo, hi = max(0, int(b.box[0])), min(len(covered), int(b.box[2]) + 1)
        covered[lo:hi] = b"\x01" * (hi - lo)
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
        box = (min(b.box[0] for b in row), min(b.box[1] for b in row),
               max(b.box[2] for b in row), max(b.box[3] for b in row))
        merged.append(OcrLine(_join([b.text for b in row]), box))
    return merged


def _paragraphs(lines: list[OcrLine]) -> list[OcrLine]:
    """Paragraph numbers: a new paragraph where the step from one line's centre to the next is more than
    PARAGRAPH_STEP times the page's typical step, or where the next column starts (the line is above the
    previous one). Centres, not box edges: a line without ascenders or descenders has a shorter box, so the
    gap between boxes varies by more within a paragraph than the step between centres does."""
    if not lines:
        return []
    centres = [(line.box[1] + line.box[3]) / 2 for line in lines]
    steps = [b - a for a, b in zip(centres, centres[1:], strict=False) if b > a]
    typical_step = median(steps) if steps else 0.0
    typical_height = median(line.box[3] - line.box[1] for line in lines)
    out, paragraph = [lines[0]], 0
    for i in range(1, len(lines)):
        previous, line = lines[i - 1], lines[i]
        step = centres[i] - centres[i - 1]
        if step > PARAGRAPH_STEP * typical_step or line.box[1] < previous.box[1] - typical_height:
            paragraph += 1
        out.append(OcrLine(line.text, line.box, paragraph))
    return out


# --- Tesseract ----------------------------------------------------------------------------------


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def _tesseract(image) -> list[OcrLine]:
    if not tesseract_available():
        raise IngestError("KB_OCR=tesseract, but tesseract is not installed (apt-get install tesseract-ocr "
                          "tesseract-ocr-eng tesseract-ocr-chi-sim), or set KB_OCR=on")
    png = io.BytesIO()
    image.convert("L").save(png, "PNG")
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", TESSERACT_LANGUAGES, "--psm", "3", "tsv"],
            input=png.getvalue(), capture_output=True, timeout=TESSERACT_TIMEOUT_S, check=True,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise IngestError(f"tesseract failed: {str(exc)[:120]}") from exc
    words: dict[tuple[int, int, int], list[tuple[str, tuple[int, int, int, int]]]] = {}
    for row in done.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        block, par, line = int(cells[2]), int(cells[3]), int(cells[4])
        left, top, width, height = (int(c) for c in cells[6:10])
        words.setdefault((block, par, line), []).append((cells[11].strip(), (left, top, left + width, top + height)))
    lines, paragraphs = [], {}
    for (block, par, _), items in words.items():  # tesseract's reading order
        number = paragraphs.setdefault((block, par), len(paragraphs))
        boxes = [box for _, box in items]
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        lines.append(OcrLine(_join([text for text, _ in items]), box, number))
    return lines


def _join(parts: list[str]) -> str:
    """Words of a line joined by spaces, except between two CJK characters (Chinese has no spaces)."""
    text = parts[0] if parts else ""
    for part in parts[1:]:
        text += ("" if _cjk(text[-1]) and _cjk(part[0]) else " ") + part
    return text


def _cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")
