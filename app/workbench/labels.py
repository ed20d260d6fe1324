"""Graded relevance labels anchored to a document and a character range, and their import/export.

A label says how well a passage answers a query: grade 0 not relevant, 1 partly, 2 answers it (any
int >= 0 is kept, for BEIR graded qrels). It is anchored to the document's *name*, a page and a
character range in that page's normalised text -- never to a chunk id -- so it survives re-chunking,
re-ingest and `kb reindex`: a chunk is relevant when its range overlaps the label's (`relevant_labels`).

Anchors:
    (page, start, end)   the characters [start, end) of page `page` (page None: a file without pages);
    (page, 0, None)      the whole page `page` (end None means "to the end of the page");
    (None, 0, None)      the whole document (`Label.whole_doc`): every chunk of it overlaps.

Import files (`parse_file`, `parse_csv`, `parse_jsonl`, `parse_beir`): columns `query`, `doc`, `grade`
(required), `page`, `quote` (text that must lie inside the passage) and `char_start`/`char_end`
(optional). A row's anchor is, in order of preference: valid offsets whose text reads as the quote (or
valid offsets without a quote); the quote located on the page given (or on any page, the first hit);
the page given, wholly; the whole document. A file with any bad row is refused whole:
`LabelImportError` lists every bad line and why, and nothing is returned.

Export (`export_csv`, `export_jsonl`) writes the same columns, offsets included, so that export then
import gives equal labels; the quote column keeps the labelled text, so a label still resolves where
the offsets no longer match after a re-ingest. Labels made from a search result should carry the
chunk's text as their quote (`label_for_chunk`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, NamedTuple, Protocol

from app.errors import InvalidInput
from app.models import Chunk
from app.workbench.quotes import Collapsed, locate, same_text

COLUMNS = ("query", "doc", "page", "quote", "grade", "char_start", "char_end")
REQUIRED = ("query", "doc", "grade")
IMPORT_FORMATS = (".csv", ".jsonl")


@dataclass(frozen=True)
class Label:
    """One graded judgement of a passage for a query (see the module docstring for anchors)."""

    query: str
    doc: str
    grade: int
    page: int | None = None
    char_start: int = 0
    char_end: int | None = None
    quote: str | None = None

    def __post_init__(self) -> None:
        if self.grade < 0:
            raise InvalidInput(f"grade must be an integer >= 0 (got {self.grade})")
        if self.page is not None and self.page < 1:
            raise InvalidInput(f"page numbers start at 1 (got {self.page})")
        if self.char_start < 0 or (self.char_end is not None and self.char_end <= self.char_start):
            raise InvalidInput(f"char range [{self.char_start}, {self.char_end}) is empty or negative")

    @property
    def whole_doc(self) -> bool:
        return self.page is None and self.char_start == 0 and self.char_end is None

    @property
    def anchor(self) -> tuple[str, int | None, int, int | None]:
        return (self.doc, self.page, self.char_start, self.char_end)

    @property
    def id(self) -> str:
        """Unique among one query's labels, readable, and never equal to a chunk id ("label:" prefix).

        Example: 'label:policy.pdf#p3:120-480', 'label:notes.txt#:0-' (whole document).
        """
        page = "" if self.page is None else f"p{self.page}"
        end = "" if self.char_end is None else str(self.char_end)
        return f"label:{self.doc}#{page}:{self.char_start}-{end}"


def label_for_chunk(query: str, chunk: Chunk, grade: int) -> Label:
    """The label a click on a search result makes: the chunk's range, its text kept as the quote."""
    return Label(query.strip(), chunk.doc_name, grade, chunk.page, chunk.char_start, chunk.char_end, chunk.text)


def relevant_labels(chunk: Chunk, labels: Iterable[Label]) -> list[Label]:
    """The labels whose range shares at least one character with the chunk's (same document name)."""
    return [label for label in labels if overlaps(chunk, label)]


def overlaps(chunk: Chunk, label: Label) -> bool:
    """Same document name, and the whole document or the same page with at least one shared character
    (a chunk never crosses a page break)."""
    if chunk.doc_name != label.doc:
        return False
    if label.whole_doc:
        return True
    end = float("inf") if label.char_end is None else label.char_end
    return chunk.page == label.page and label.char_start < chunk.char_end and chunk.char_start < end


# --- resolving documents ------------------------------------------------------------------------


class DocumentTexts(Protocol):
    """What import needs to know about the knowledge base's documents, by file name."""

    def exists(self, doc: str) -> bool: ...

    def pages(self, doc: str) -> Sequence[tuple[int | None, str]]:
        """The document's pages in order: (1-based number, normalised text); (None, text) without pages."""
        ...


@dataclass(frozen=True)
class InMemoryTexts:
    """A `DocumentTexts` over a dict: {name: [(page, text), ...]} (tests, small KBs)."""

    docs: Mapping[str, Sequence[tuple[int | None, str]]]

    def exists(self, doc: str) -> bool:
        return doc in self.docs

    def pages(self, doc: str) -> Sequence[tuple[int | None, str]]:
        return self.docs[doc]


# --- errors -------------------------------------------------------------------------------------


class BadLine(NamedTuple):
    line: int | None  # physical line in the file (1-based); None for a problem of the whole file
    reason: str
    file: str = ""  # set for multi-file imports (BEIR folders)

    def __str__(self) -> str:
        where = " ".join(p for p in (self.file, "" if self.line is None else f"line {self.line}") if p)
        return f"{where}: {self.reason}" if where else self.reason


class LabelImportError(InvalidInput):
    """A label file was refused whole; `problems` lists every bad line and why."""

    def __init__(self, problems: Sequence[BadLine], source: str = "") -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{source or 'the file'} was not imported ({n} problem{'s' if n != 1 else ''}); fix and import again:"
        super().__init__("\n".join([head, *map(str, self.problems)]))


# --- parsing ------------------------------------------------------------------------------------


def parse_file(name: str, data: bytes, texts: DocumentTexts) -> list[Label]:
    """Labels from a .csv or .jsonl file's bytes (UTF-8, a BOM allowed)."""
    ext = PurePath(name).suffix.lower()
    if ext not in IMPORT_FORMATS:
        raise InvalidInput(f"cannot import '{name}': use a .csv or .jsonl file, or a BEIR folder")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelImportError([BadLine(None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")], name) from None
    parse = parse_csv if ext == ".csv" else parse_jsonl
    return parse(text, texts, source=name)


def parse_csv(text: str, texts: DocumentTexts, source: str = "") -> list[Label]:
    """Labels from CSV text with a header row (line 1). Column names are case-insensitive; extra
    columns are ignored. Raises LabelImportError listing every bad line."""
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        empty = BadLine(1, "the file is empty: expected a header row query,doc,grade")
        raise LabelImportError([empty], source) from None
    except csv.Error as exc:
        raise LabelImportError([BadLine(1, f"not valid CSV ({exc})")], source) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        reason = f"missing column {', '.join(repr(c) for c in missing)} in the header (needs {', '.join(REQUIRED)})"
        raise LabelImportError([BadLine(1, reason)], source)
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[BadLine] = []
    line = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(BadLine(line, f"not valid CSV ({exc})"))
            break
        if values and any(v.strip() for v in values):
            if len(values) > len(names):
                problems.append(BadLine(line, f"{len(values)} fields but the header has {len(names)}"))
            else:
                padded = values + [""] * (len(names) - len(values))  # a short row: its last values are empty
                rows.append((line, dict(zip(names, padded, strict=True))))
        line = reader.line_num + 1
    return _labels(rows, texts, problems, source)


def parse_jsonl(text: str, texts: DocumentTexts, source: str = "") -> list[Label]:
    """Labels from JSON Lines: one object per line (blank lines skipped). Raises LabelImportError."""
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[BadLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(BadLine(number, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(row, dict):
            problems.append(BadLine(number, f"expected a JSON object with {', '.join(REQUIRED)}"))
            continue
        rows.append((number, {str(k).strip().lower(): v for k, v in row.items()}))
    return _labels(rows, texts, problems, source)


def beir_doc_name(corpus_id: str) -> str:
    """How `kb eval` names a BEIR corpus entry when it ingests it (see app/evaluate.py)."""
    return f"{corpus_id}.txt"


def parse_beir(
    folder: Path, texts: DocumentTexts, doc_name: Callable[[str], str] = beir_doc_name
) -> list[Label]:
    """Whole-document labels from a BEIR folder's queries.jsonl and qrels.tsv (or qrels/test.tsv).

    Args:
        folder: the BEIR folder; corpus.jsonl is not read (the documents must already be stored).
        doc_name: the stored document name of a corpus id (default: f"{id}.txt", as `kb eval` ingests).
    """
    folder = Path(folder)
    qrels_path = folder / "qrels.tsv"
    if not qrels_path.exists() and (folder / "qrels" / "test.tsv").exists():
        qrels_path = folder / "qrels" / "test.tsv"
    missing = [p.name for p in (folder / "queries.jsonl", qrels_path) if not p.exists()]
    if missing:
        raise InvalidInput(f"{folder} is not a BEIR folder: missing {', '.join(missing)}")
    problems: list[BadLine] = []
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8-sig") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                queries[str(row["_id"])] = str(row["text"]).strip()
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                problems.append(BadLine(number, f"expected {{\"_id\": ..., \"text\": ...}} ({exc})", "queries.jsonl"))
    qrels_file = qrels_path.relative_to(folder).as_posix()
    rows: list[tuple[int, dict[str, Any]]] = []
    with open(qrels_path, encoding="utf-8-sig") as f:
        for number, raw in enumerate(f, start=1):
            fields = raw.rstrip("\r\n").split("\t")
            if not raw.strip() or (number == 1 and not _is_int(fields[2] if len(fields) > 2 else "")):
                continue  # blank, or the header query-id, corpus-id, score
            if len(fields) < 3:
                problems.append(BadLine(number, "expected query-id<TAB>corpus-id<TAB>score", qrels_file))
                continue
            qid, corpus_id, score = (v.strip() for v in fields[:3])
            if qid not in queries:
                problems.append(BadLine(number, f"query id {qid!r} is not in queries.jsonl", qrels_file))
                continue
            grade: Any = int(float(score)) if _is_int(score) else score
            rows.append((number, {"query": queries[qid], "doc": doc_name(corpus_id), "grade": grade}))
    return _labels(rows, texts, problems, str(folder), file=qrels_file)


def _is_int(value: str) -> bool:
    try:
        return float(value) == int(float(value))
    except (ValueError, OverflowError):
        return False


@dataclass
class _Resolver:
    """Per-import cache of page texts, so that each document is read and collapsed once."""

    texts: DocumentTexts
    _pages: dict[str, dict[int | None, Collapsed]] = field(default_factory=dict)
    _raw: dict[str, dict[int | None, str]] = field(default_factory=dict)

    def pages(self, doc: str) -> dict[int | None, str]:
        if doc not in self._raw:
            self._raw[doc] = dict(self.texts.pages(doc))
        return self._raw[doc]

    def collapsed(self, doc: str, page: int | None) -> Collapsed:
        cache = self._pages.setdefault(doc, {})
        if page not in cache:
            cache[page] = Collapsed.of(self.pages(doc)[page])
        return cache[page]


def _labels(
    rows: list[tuple[int, dict[str, Any]]], texts: DocumentTexts, problems: list[BadLine], source: str, file: str = ""
) -> list[Label]:
    resolver = _Resolver(texts)
    labels: list[Label] = []
    seen: dict[tuple, tuple[int, int]] = {}  # (query, anchor) -> (line, grade)
    for line, row in rows:
        try:
            label = _row_label(row, resolver)
        except _Bad as bad:
            problems.append(BadLine(line, str(bad), file))
            continue
        key = (label.query, label.anchor)
        if key in seen:
            first, grade = seen[key]
            if grade != label.grade:
                reason = f"the same query and passage as line {first} with another grade ({label.grade} vs {grade})"
                problems.append(BadLine(line, reason, file))
            continue  # an exact repeat adds nothing
        seen[key] = (line, label.grade)
        labels.append(label)
    if not rows and not problems:
        problems.append(BadLine(None, "no labels in the file", file))
    if problems:
        raise LabelImportError(sorted(problems, key=lambda p: (p.file, p.line or 0)), source)
    return labels


class _Bad(Exception):
    """One row's problem (internal: collected into LabelImportError)."""


def _row_label(row: Mapping[str, Any], resolver: _Resolver) -> Label:
    for column in REQUIRED:
        if column not in row:
            raise _Bad(f"missing column {column!r}")
        if _empty(row[column]):
            raise _Bad(f"missing value in column {column!r}")
    query, doc = _text(row, "query").strip(), _text(row, "doc").strip()
    grade = _int(row["grade"], "grade", minimum=0)
    page = None if _empty(row.get("page")) else _int(row["page"], "page", minimum=1)
    start = None if _empty(row.get("char_start")) else _int(row["char_start"], "char_start", minimum=0)
    end = None if _empty(row.get("char_end")) else _int(row["char_end"], "char_end", minimum=1)
    quote = None if _empty(row.get("quote")) else _text(row, "quote")
    if end is not None and start is None:
        raise _Bad("char_end given without char_start")
    if not resolver.texts.exists(doc):
        raise _Bad(f"unknown document {doc!r}")
    if page is None and start is None and quote is None:
        return Label(query, doc, grade)
    pages = resolver.pages(doc)
    if page is not None:
        _check_page(doc, page, pages)
    elif start is not None and None not in pages:
        raise _Bad(f"char_start needs a page: {doc!r} has pages")
    if start is not None:
        on, text = page, pages[page]
        in_range = start < len(text) and (end is None or start < end <= len(text))
        matches = in_range and (quote is None or same_text(text[start:end], quote))
        if matches:
            return Label(query, doc, grade, on, start, end, quote)
        if quote is None:
            raise _Bad(f"char_start/char_end [{start}, {end}) outside the page's {len(text)} characters")
    if quote is not None:
        found = _find_quote(resolver, doc, page, quote, near=start)
        if found is None:
            where = f"page {page} of {doc!r}" if page is not None else repr(doc)
            raise _Bad(f"quote not found in {where}: {_short(quote)!r}")
        on, (qs, qe) = found
        return Label(query, doc, grade, on, qs, qe, quote)
    return Label(query, doc, grade, page)


def _find_quote(
    resolver: _Resolver, doc: str, page: int | None, quote: str, near: int | None
) -> tuple[int | None, tuple[int, int]] | None:
    for number in [page] if page is not None else list(resolver.pages(doc)):
        span = locate(resolver.collapsed(doc, number), quote, near=near)
        if span is not None:
            return number, span
    return None


def _check_page(doc: str, page: int, pages: Mapping[int | None, str]) -> None:
    if page in pages:
        return
    numbers = [n for n in pages if n is not None]
    if not numbers:
        raise _Bad(f"{doc!r} has no pages: leave page empty")
    if page > max(numbers):
        raise _Bad(f"page {page} is beyond the last page ({max(numbers)}) of {doc!r}")
    raise _Bad(f"page {page} of {doc!r} has no text")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row[column]
    if not isinstance(value, str):
        raise _Bad(f"{column} must be text (got {json.dumps(value)})")
    return value


def _int(value: Any, column: str, minimum: int) -> int:
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, str) and value.strip().lstrip("+-").isdecimal():
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        shown = repr(_short(value)) if isinstance(value, str) else _short(json.dumps(value))
        raise _Bad(f"{column} must be {kind} (got {shown})")
    if number < minimum:
        raise _Bad(f"{column} must be {kind} (got {number})")
    return number


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- export -------------------------------------------------------------------------------------


def export_rows(labels: Iterable[Label]) -> list[dict[str, Any]]:
    """One dict per label with COLUMNS (None where a column is empty)."""
    return [
        {
            "query": lb.query,
            "doc": lb.doc,
            "page": lb.page,
            "quote": lb.quote,
            "grade": lb.grade,
            "char_start": None if lb.char_end is None and lb.char_start == 0 else lb.char_start,
            "char_end": lb.char_end,
        }
        for lb in labels
    ]


def export_csv(labels: Iterable[Label]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in export_rows(labels):
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()


def export_jsonl(labels: Iterable[Label]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in export_rows(labels))
