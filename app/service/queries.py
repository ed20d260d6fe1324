"""Query sets with graded labels: create and list sets, label a search result, import and export files.

Labels are anchored to a document and a character range (app/workbench/labels.py), checked against the
knowledge base's stored text when they come in: an import with any bad row is refused whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.access import LABEL_SEP, label_item
from app.catalog import KnowledgeBase
from app.errors import InvalidInput
from app.models import Chunk
from app.runtime import Runtime
from app.service import access
from app.workbench import records
from app.workbench.labels import Label, export_csv, export_jsonl, label_for_chunk, parse_beir, parse_file
from app.workbench.records import QuerySetSummary

GRADES = {0: "not relevant", 1: "partly", 2: "answers it"}
EXPORT_FORMATS = ("csv", "jsonl")


@dataclass
class StoredTexts:
    """`DocumentTexts` over a knowledge base: a document's pages rebuilt from its stored chunks.

    Chunks are exact slices of their page's text (`Chunk.char_start:char_end`), so laying them at their
    offsets gives the page text that labels are anchored to; what no chunk covers is whitespace the
    chunker trimmed, kept as spaces so that offsets stay true.
    """

    rt: Runtime
    kb: KnowledgeBase

    def __post_init__(self) -> None:
        self._ids = {d.name: d.doc_id for d in self.rt.catalog.documents(self.kb)}
        self._pages: dict[str, list[tuple[int | None, str]]] = {}

    def exists(self, doc: str) -> bool:
        return doc in self._ids

    def pages(self, doc: str) -> Sequence[tuple[int | None, str]]:
        if doc not in self._pages:
            self._pages[doc] = page_texts(self.rt.store.document_chunks(self.kb, self._ids[doc]))
        return self._pages[doc]


def page_texts(chunks: list[Chunk]) -> list[tuple[int | None, str]]:
    by_page: dict[int | None, list[str]] = {}
    for c in chunks:
        text = by_page.setdefault(c.page, [])
        if len(text) < c.char_end:
            text.extend(" " * (c.char_end - len(text)))
        text[c.char_start : c.char_end] = c.text
    return [(page, "".join(chars)) for page, chars in by_page.items()]


def sets(rt: Runtime, kb_name: str) -> list[QuerySetSummary]:
    access.require(rt, kb_name, access.VIEWER, "see its query sets")
    return records.sets(rt.catalog, rt.catalog.get_kb(kb_name))


def create_set(rt: Runtime, kb_name: str, name: str) -> str:
    access.require(rt, kb_name, access.EDITOR, "edit query sets")
    name = records.create_set(rt.catalog, rt.catalog.get_kb(kb_name), name)
    _note_set(rt, kb_name, name)
    return name


def delete_set(rt: Runtime, kb_name: str, name: str) -> None:
    access.require(rt, kb_name, access.EDITOR, "edit query sets")
    kb = rt.catalog.get_kb(kb_name)
    records.delete_set(rt.catalog, kb, records.require_set(rt.catalog, kb, name))
    rt.access.forget_author(kb_name, "query_set", name)
    rt.access.forget_author(kb_name, "label", name + LABEL_SEP, prefix=True)
    access.record(rt, "query set delete", kb_name, detail=name)


def labels(rt: Runtime, kb_name: str, set_name: str) -> list[Label]:
    access.require(rt, kb_name, access.VIEWER, "see its query sets")
    kb = rt.catalog.get_kb(kb_name)
    return records.labels(rt.catalog, kb, records.require_set(rt.catalog, kb, set_name))


def label_authors(rt: Runtime, kb_name: str, set_name: str) -> dict[str, int]:
    """Who made the set's labels: e-mail (or `local`) -> how many, most first; labels made before authors
    were recorded are not counted."""
    prefix = set_name + LABEL_SEP
    found = access.authors(rt, kb_name, "label")
    return dict(Counter(email for item, email in found.items() if item.startswith(prefix)).most_common())


def label_result(rt: Runtime, kb_name: str, set_name: str, query: str, chunk: Chunk, grade: int) -> Label:
    """Label a search result (one click on a card): the query and the chunk's passage get `grade`."""
    access.require(rt, kb_name, access.VIEWER, "label results")
    if grade not in GRADES:
        raise InvalidInput(f"A grade is 0 (not relevant), 1 (partly) or 2 (answers it), not {grade}.")
    if not query.strip():
        raise InvalidInput("Search for a question before labelling its results.")
    label = label_for_chunk(query, chunk, grade)
    _add_labels(rt, kb_name, set_name, [label], "label", f"{grade} on {chunk.doc_name} for {query!r}")
    return label


def import_file(rt: Runtime, kb_name: str, set_name: str, name: str, data: bytes) -> int:
    """Labels from a CSV or JSONL file; refused whole (LabelImportError lists every bad line). Returns the
    number of labels imported."""
    access.require(rt, kb_name, access.EDITOR, "edit query sets")
    kb = rt.open_kb(kb_name)
    found = parse_file(name, data, StoredTexts(rt, kb))
    return _add_labels(rt, kb_name, set_name, found, "labels import", f"{len(found)} from {name}")


def import_beir(rt: Runtime, kb_name: str, set_name: str, folder: Path) -> int:
    """Whole-document labels from a BEIR folder's qrels (its corpus must be ingested, as `kb eval` does)."""
    access.require(rt, kb_name, access.EDITOR, "edit query sets")
    kb = rt.open_kb(kb_name)
    found = parse_beir(Path(folder), StoredTexts(rt, kb))
    return _add_labels(rt, kb_name, set_name, found, "labels import", f"{len(found)} from {Path(folder).name}")


def _add_labels(rt: Runtime, kb_name: str, set_name: str, found: list[Label], action: str, detail: str) -> int:
    """Write labels (creating the set if missing) and record who made them."""
    kb = rt.catalog.get_kb(kb_name)
    new_set = set_name.strip() not in {s.name for s in records.sets(rt.catalog, kb)}
    count = records.add_labels(rt.catalog, kb, set_name, found)
    if new_set:
        _note_set(rt, kb_name, set_name.strip())
    items = [label_item(set_name.strip(), lb.query, lb.doc, lb.page, lb.char_start, lb.char_end) for lb in found]
    access.note_author(rt, kb_name, "label", items)
    access.record(rt, action, kb_name, detail=f"set {set_name.strip()}: {detail}")
    return count


def _note_set(rt: Runtime, kb_name: str, name: str) -> None:
    access.note_author(rt, kb_name, "query_set", [name])
    access.record(rt, "query set create", kb_name, detail=name)


def import_path(rt: Runtime, kb_name: str, set_name: str, path: Path) -> int:
    """`kb queries import`: a BEIR folder, or a .csv / .jsonl file."""
    path = Path(path)
    if path.is_dir():
        return import_beir(rt, kb_name, set_name, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return import_file(rt, kb_name, set_name, path.name, data)


def export(rt: Runtime, kb_name: str, set_name: str, fmt: str = "csv") -> str:
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"Export as one of: {', '.join(EXPORT_FORMATS)}.")
    found = labels(rt, kb_name, set_name)
    return export_csv(found) if fmt == "csv" else export_jsonl(found)
