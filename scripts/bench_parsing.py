"""Parsing quality and speed on generated documents with known ground truth (testing/documents.py).

    python scripts/bench_parsing.py [--base /tmp/kb-base] [--json-out docs/benchmarks/parsing.json]
                                    [--skip-ingest] [--skip-ocr] [--resume]

Per category, against what a perfect parser gives:

- running headers/footers: the share of header/footer occurrences kept out of the text (recall) and the
  body paragraphs lost (must be 0), on text PDFs (one and two columns, with a table) and scans;
- OCR: character error rate and word recall against the text that was printed, and seconds per page, for
  English and Chinese pages scanned at 150 and 300 dpi (rotated 0.6°, blurred, noised, JPEG), with
  RapidOCR and, where installed, tesseract;
- tables: rows whose cells all come out on one line with their column names (`Header: value; ...`);
- HTML: boilerplate lines dropped and body paragraphs kept;
- legacy encodings: decoded to exactly the text, and the encoding named;
- ingest pages/s on text PDFs before and after (`scripts/bench_ingest.py` run from `--base`, a checkout
  of the commit before this work, and from this tree, alternated), and parse-only pages/s.

`--base` (a plain checkout of the old commit, e.g. `git archive 34fcce5 | tar -x -C /tmp/kb-base`) also
gives the old loader's figures beside the new ones. Prints a Markdown table; writes all figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.loaders import load_document  # noqa: E402
from testing import documents as gen  # noqa: E402
from testing.text_metrics import cer, word_recall  # noqa: E402

ALTERNATIONS = 2  # ingest benchmark runs per tree, old and new taking turns


def squash(text: str) -> str:
    return "".join(text.split())


def page_texts(doc) -> dict[int | None, str]:
    return {p.number: p.text for p in doc.pages}


# --- the old loader, run from the base checkout ------------------------------------------------------

_OLD = """
import json, sys
from ingest.loaders import load_document
out = {}
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1]
    try:
        doc = load_document(name, open(path, "rb").read())
        out[name] = {"pages": {str(p.number): p.text for p in doc.pages}}
    except Exception as exc:
        out[name] = {"error": str(exc)}
print(json.dumps(out))
"""


def old_loader(base: Path | None, sources: list[gen.Generated]) -> dict[str, dict]:
    """What the base commit's loader makes of the sources (name -> {"pages": {number: text}} or error)."""
    if base is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for source in sources:
            path = Path(tmp) / source.name
            path.write_bytes(source.data)
            paths.append(str(path))
        done = subprocess.run(
            [sys.executable, "-c", _OLD, *paths], cwd=base, env={**os.environ, "PYTHONPATH": str(base)},
            capture_output=True, text=True, check=True,
        )
    return json.loads(done.stdout)


def old_text(old: dict, name: str) -> str | None:
    entry = old.get(name)
    return None if entry is None or "pages" not in entry else "\n".join(entry["pages"].values())


# --- categories --------------------------------------------------------------------------------------


def running_lines(base: Path | None) -> dict:
    sources = [gen.handbook_pdf(pages=12), gen.two_column_pdf(), gen.table_pdf()]
    old = old_loader(base, sources)
    result = {}
    for source in sources:
        started = time.perf_counter()
        doc = load_document(source.name, source.data)
        seconds = time.perf_counter() - started
        result[source.name] = _running_figures(source, "\n".join(page_texts(doc).values()), doc)
        result[source.name]["parse_s_per_page"] = round(seconds / doc.page_count, 4)
        text = old_text(old, source.name)
        if text is not None:
            result[source.name]["old"] = _running_figures(source, text)
    return result


def _running_figures(source: gen.Generated, text: str, doc=None) -> dict:
    flat = squash(text)
    removed = sum(squash(line) not in flat for line in source.boilerplate)
    lost = [b for b in source.body if squash(b) not in flat]
    figures = {
        "running_occurrences": len(source.boilerplate),
        "removed": removed,
        "recall": round(removed / max(1, len(source.boilerplate)), 3),
        "body_paragraphs": len(source.body),
        "body_lost": len(lost),
    }
    if doc is not None:
        figures["headers"], figures["footers"] = list(doc.headers), list(doc.footers)
    return figures


def ocr(engines: list[str]) -> dict:
    font = gen.first_font(gen.CJK_FONTS)
    scans = [gen.english_scan(300), gen.english_scan(150)]
    if font:
        scans += [gen.chinese_scan(300, font), gen.chinese_scan(150, font)]
    result = {}
    for source in scans:
        for engine in engines:
            started = time.perf_counter()
            doc = load_document(source.name, source.data, ocr=engine)
            seconds = time.perf_counter() - started
            texts = page_texts(doc)
            truth = "\n\n".join(source.page_text[n] for n in sorted(source.page_text))
            got = "\n\n".join(texts.get(n, "") for n in sorted(source.page_text))
            key = f"{source.name.removesuffix('.pdf')} {'rapidocr' if engine == 'on' else engine}"
            result[key] = {
                "language": source.language,
                "pages": len(source.page_text),
                "cer": round(cer(truth, got, source.language), 4),
                "word_recall": round(word_recall(truth, got), 3) if source.language == "en" else None,
                "s_per_page": round(seconds / len(source.page_text), 2),
                "running_removed": sum(squash(b) not in squash(got) for b in source.boilerplate),
                "running_occurrences": len(source.boilerplate),
            }
            print(f"  {key}: {result[key]}", file=sys.stderr)
    return result


def tables(base: Path | None) -> dict:
    md_rows = "\n".join("| " + " | ".join(r.values()) + " |" for r in gen.TABLE_ROWS)
    header = "| " + " | ".join(gen.TABLE_ROWS[0]) + " |\n|" + "---|" * len(gen.TABLE_ROWS[0])
    markdown = gen.Generated("grades.md", f"# Grades\n\n{header}\n{md_rows}\n".encode(),
                             rows=[dict(r) for r in gen.TABLE_ROWS])
    sources = [gen.table_pdf(), gen.handbook_docx(), gen.boilerplate_html(), markdown]
    old = old_loader(base, sources)
    result = {}
    for source in sources:
        doc = load_document(source.name, source.data)
        result[source.name] = _table_figures(source, "\n".join(page_texts(doc).values()))
        text = old_text(old, source.name)
        if text is not None:
            result[source.name]["old"] = _table_figures(source, text)
    return result


def _table_figures(source: gen.Generated, text: str) -> dict:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    with_headers = sum(
        any(all(f"{k}: {v}" in line for k, v in row.items()) for line in lines) for row in source.rows
    )
    together = sum(any(all(v in line for v in row.values()) for line in lines) for row in source.rows)
    return {"rows": len(source.rows), "rows_with_headers": with_headers, "row_values_on_one_line": together}


def html(base: Path | None) -> dict:
    from ingest.loaders.blocks import build_page
    from ingest.loaders.html import html_blocks_plain

    result = {}
    sources = [gen.boilerplate_html(), gen.div_soup_html()]
    old = old_loader(base, sources)
    for source in sources:
        doc = load_document(source.name, source.data)
        plain = build_page(None, html_blocks_plain(source.data.decode())[0])
        figures = {"chosen (trafilatura, plain walk if flat)": _html_figures(source, doc.pages[0].text),
                   "plain walk only": _html_figures(source, plain.text)}
        text = old_text(old, source.name)
        if text is not None:
            figures["old"] = _html_figures(source, text)
        result[source.name] = figures
    return result


def _html_figures(source: gen.Generated, text: str) -> dict:
    flat = squash(text)
    return {
        "boilerplate_lines": len(source.boilerplate),
        "boilerplate_dropped": sum(squash(b) not in flat for b in source.boilerplate),
        "body_paragraphs": len(source.body),
        "body_kept": sum(squash(b) in flat for b in source.body),
    }


def encodings(base: Path | None) -> dict:
    sources = [gen.legacy_text(e) for e in gen.LEGACY_TEXTS]
    old = old_loader(base, sources)
    result = {}
    for source in sources:
        doc = load_document(source.name, source.data)
        from ingest.normalize import normalize_text

        want = normalize_text(gen.LEGACY_TEXTS[source.encoding])
        entry = {"decoded_exactly": doc.pages[0].text == want, "detected": doc.encoding,
                 "detected_right": doc.encoding in gen.SAME_TEXT[source.encoding]}
        if old:
            old_entry = old.get(source.name, {})
            entry["old"] = "decoded exactly" if old_entry.get("pages", {}).get("None") == want else (
                old_entry.get("error") or "decoded wrongly")
        result[source.encoding] = entry
    return result


def ingest_speed(base: Path | None) -> dict:
    """bench_ingest.py in each tree, alternated; the CPU seconds the same ingest costs (robust to other jobs
    on a shared machine, which wall-clock pages/s is not); parse-only pages/s of the same kind of PDFs."""
    trees = {"after": ROOT} | ({"before": base} if base else {})
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(ALTERNATIONS):
            for name, tree in (sorted(trees.items(), reverse=i % 2 == 1)):
                out = Path(tmp) / f"{name}-{i}.json"
                subprocess.run([sys.executable, "scripts/bench_ingest.py", "--json-out", str(out)], cwd=tree,
                               env={**os.environ, "PYTHONPATH": str(tree)}, check=True, capture_output=True)
                runs[name].append(json.loads(out.read_text()))
                print(f"  ingest {name}: {runs[name][-1]['pages_per_s']} pages/s", file=sys.stderr)
    result = {name: {"pages_per_s_runs": [r["pages_per_s"] for r in rs],
                     "pages_per_s": round(statistics.median(r["pages_per_s"] for r in rs), 2),
                     "load_average_1m": [r["load_average_1m"] for r in rs]} for name, rs in runs.items()}
    result["cpu"] = _ingest_cpu(trees)
    result["parse_only"] = _parse_only(trees)
    return result


_INGEST_CPU = """
import os, random, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "scripts")
from bench_ingest import make_page_text, make_pdf
tmp = tempfile.mkdtemp()
os.environ["KB_DATA_DIR"] = str(Path(tmp) / "data")
os.environ["KB_RERANK_BACKEND"] = "off"
from app.runtime import Runtime
from ingest.pipeline import ingest_bytes
rng = random.Random(7)
files = [(f"doc{i:03d}.pdf", make_pdf([make_page_text(rng) for _ in range(10)])) for i in range(10)]
rt = Runtime()
rt.embedder.encode_documents(["warm up"])
best_cpu = best_wall = None
for round_ in range(3):
    kb = rt.open_or_create_kb(f"cpu{round_}")
    rt.lexical(kb)
    cpu, wall = time.process_time(), time.perf_counter()
    for name, data in files:
        assert ingest_bytes(rt, kb, name, data).ok
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    best_wall = wall if best_wall is None else min(best_wall, wall)
print(round(best_cpu / 100 * 1000, 2), round(100 / best_wall, 2))
"""


def _ingest_cpu(trees: dict[str, Path]) -> dict:
    """CPU milliseconds per page (all threads of the process) and wall pages/s, best of 3 rounds of 100 pages,
    the trees taking turns three times."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for i in range(3):
        for name, tree in sorted(trees.items(), reverse=i % 2 == 1):
            done = subprocess.run([sys.executable, "-c", _INGEST_CPU], cwd=tree, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(tree)}, check=True)
            cpu_ms, pages_s = (float(v) for v in done.stdout.split()[-2:])
            runs[name].append((cpu_ms, pages_s))
            print(f"  ingest cpu {name}: {cpu_ms} ms/page, {pages_s} pages/s", file=sys.stderr)
    return {name: {"cpu_ms_per_page": min(r[0] for r in rs), "cpu_ms_per_page_runs": [r[0] for r in rs],
                   "wall_pages_per_s_runs": [r[1] for r in rs]} for name, rs in runs.items()}


_PARSE_ONLY = """
import random, sys, time
sys.path.insert(0, "scripts")
from bench_ingest import make_page_text, make_pdf
from ingest.loaders import load_document
rng = random.Random(7)
files = [make_pdf([make_page_text(rng) for _ in range(10)]) for _ in range(10)]
best = None
for _ in range(5):
    started = time.perf_counter()
    for data in files:
        load_document("a.pdf", data)
    seconds = time.perf_counter() - started
    best = seconds if best is None else min(best, seconds)
print(round(100 / best, 1))
"""


def _parse_only(trees: dict[str, Path]) -> dict:
    rates: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(3):
        for name, tree in trees.items():
            done = subprocess.run([sys.executable, "-c", _PARSE_ONLY], cwd=tree, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(tree)}, check=True)
            rates[name].append(float(done.stdout.strip()))
    return {name: {"pages_per_s": max(values), "runs": values} for name, values in rates.items()}


# --- report ------------------------------------------------------------------------------------------


def markdown(figures: dict) -> str:
    out = ["| category | case | result | before (base commit) |", "|---|---|---|---|"]
    for name, f in figures["running"].items():
        old = f.get("old")
        before = f"{old['removed']}/{old['running_occurrences']} removed" if old else ""
        out.append(f"| headers/footers | {name} | {f['removed']}/{f['running_occurrences']} removed (recall "
                   f"{f['recall']:.2f}), body paragraphs lost {f['body_lost']}/{f['body_paragraphs']} | {before} |")
    for name, f in figures.get("ocr", {}).items():
        words = f", word recall {f['word_recall']:.3f}" if f["word_recall"] is not None else ""
        running = (f", headers/footers removed {f['running_removed']}/{f['running_occurrences']}"
                   if f["running_occurrences"] else "")
        out.append(f"| OCR | {name} | CER {100 * f['cer']:.2f}%{words}, {f['s_per_page']:.1f} s/page{running} | "
                   "refused (no text layer) |")
    for name, f in figures["tables"].items():
        old = f.get("old")
        before = (f"{old['rows_with_headers']}/{old['rows']} with headers, {old['row_values_on_one_line']}/"
                  f"{old['rows']} on one line" if old else "")
        out.append(f"| tables | {name} | {f['rows_with_headers']}/{f['rows']} rows with headers | {before} |")
    for page, variants in figures["html"].items():
        old = variants.get("old")
        before = f"{old['boilerplate_dropped']}/{old['boilerplate_lines']} dropped" if old else ""
        for name, f in variants.items():
            if name != "old":
                out.append(f"| HTML | {page}, {name} | boilerplate {f['boilerplate_dropped']}/{f['boilerplate_lines']} "
                           f"dropped, body {f['body_kept']}/{f['body_paragraphs']} kept | {before} |")
                before = ""
    for name, f in figures["encodings"].items():
        out.append(f"| encoding | {name} | {'exact' if f['decoded_exactly'] else 'WRONG'}, detected {f['detected']}"
                   f" | {f.get('old', '')} |")
    speed = figures.get("ingest")
    if speed:
        before = speed.get("before", {}).get("pages_per_s", "")
        out.append(f"| ingest | text PDFs, whole pipeline (bench_ingest.py, median) | {speed['after']['pages_per_s']} "
                   f"pages/s | {before} pages/s |")
        cpu = speed["cpu"]
        out.append(f"| ingest | text PDFs, whole pipeline, CPU time (best of 9 rounds) | "
                   f"{cpu['after']['cpu_ms_per_page']} ms/page | {cpu.get('before', {}).get('cpu_ms_per_page', '')} "
                   "ms/page |")
        parse = speed["parse_only"]
        out.append(f"| ingest | text PDFs, parsing only (best of 15) | {parse['after']['pages_per_s']} pages/s | "
                   f"{parse.get('before', {}).get('pages_per_s', '')} pages/s |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="a checkout of the commit before this work, for the old figures")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--resume", action="store_true", help="keep the categories --json-out has already")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-ocr", action="store_true")
    args = parser.parse_args()
    random.seed(0)
    from ingest.loaders.ocr import tesseract_available

    engines = ["on"] + (["tesseract"] if tesseract_available() else [])
    started = time.time()
    figures: dict = {}
    if args.resume and args.json_out and args.json_out.exists():
        figures = json.loads(args.json_out.read_text())
        figures.pop("table", None)
    steps = {
        "running": lambda: running_lines(args.base),
        "tables": lambda: tables(args.base),
        "html": lambda: html(args.base),
        "encodings": lambda: encodings(args.base),
        "ocr": None if args.skip_ocr else lambda: ocr(engines),
        "ingest": None if args.skip_ingest else lambda: ingest_speed(args.base),
    }
    for name, step in steps.items():
        if step is None or name in figures:
            continue
        figures[name] = step()
        figures["machine"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                              "ocr_engines": engines}
        _write(args.json_out, figures)  # after each category: a long run cut short keeps what it measured
    figures.setdefault("machine", {})["seconds_this_run"] = round(time.time() - started)
    table = markdown(figures)
    print(table)
    _write(args.json_out, {**figures, "table": table})


def _write(path: Path | None, figures: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
