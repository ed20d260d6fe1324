"""Label import/export and anchoring, on in-memory documents and on real BEIR folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import InvalidInput
from app.models import Chunk
from app.workbench.labels import (
    BadLine,
    InMemoryTexts,
    Label,
    LabelImportError,
    export_csv,
    export_jsonl,
    label_for_chunk,
    parse_beir,
    parse_csv,
    parse_file,
    parse_jsonl,
    relevant_labels,
)
from tests.conftest import EVAL_DIR

PAGE1 = "Annual leave is 25 days a year.\nIt is granted  yearly by HR.\n\nAnnual leave is 25 days a year."
PAGE2 = "Expenses are paid monthly. Receipts are required for every claim."
NOTES = 'Remote work is allowed two days a week.\n\nAsk your manager, "first".'
TEXTS = InMemoryTexts(
    {
        "policy.pdf": [(1, PAGE1), (2, PAGE2), (4, "Appendix A.")],  # page 3 has no text layer
        "notes.txt": [(None, NOTES)],
    }
)


def csv_of(*rows: str, header: str = "query,doc,page,quote,grade") -> str:
    return "\n".join([header, *rows]) + "\n"


def problems(excinfo) -> list[tuple[int | None, str]]:
    return [(p.line, p.reason) for p in excinfo.value.problems]


# --- anchoring on import --------------------------------------------------------------------------


def test_each_anchor_kind_from_csv():
    labels = parse_csv(
        csv_of(
            "leave?,policy.pdf,1,granted yearly,2",  # quote on the page given
            "claims?,policy.pdf,,Receipts are required,1",  # quote searched on every page
            "appendix?,policy.pdf,4,,1",  # the page, wholly
            "remote?,notes.txt,,,2",  # the whole document
            "remote?,notes.txt,,Ask your manager,1",  # a quote in a file without pages
        ),
        TEXTS,
    )
    start, receipts = PAGE1.index("granted"), PAGE2.index("Receipts")
    assert labels == [
        Label("leave?", "policy.pdf", 2, 1, start, start + len("granted  yearly"), "granted yearly"),
        Label("claims?", "policy.pdf", 1, 2, receipts, receipts + 21, "Receipts are required"),
        Label("appendix?", "policy.pdf", 1, 4, 0, None),
        Label("remote?", "notes.txt", 2, None, 0, None),
        Label("remote?", "notes.txt", 1, None, NOTES.index("Ask"), NOTES.index(","), "Ask your manager"),
    ]
    assert labels[3].whole_doc and not labels[2].whole_doc
    assert PAGE1[labels[0].char_start : labels[0].char_end] == "granted  yearly"


def test_a_quote_matches_across_other_line_breaks_spacing_case_and_a_broken_hyphen():
    rows = [
        {"query": "q", "doc": "policy.pdf", "grade": 1, "quote": "  It is\ngranted yearly  "},
        {"query": "q", "doc": "policy.pdf", "grade": 1, "quote": "RECEIPTS are required"},
        {"query": "q", "doc": "notes.txt", "grade": 1, "quote": "al-\nlowed two days"},  # as pasted from a PDF
    ]
    labels = parse_jsonl("".join(json.dumps(r) + "\n" for r in rows), TEXTS)
    assert PAGE1[labels[0].char_start : labels[0].char_end] == "It is granted  yearly"
    assert PAGE2[labels[1].char_start : labels[1].char_end] == "Receipts are required"
    assert NOTES[labels[2].char_start : labels[2].char_end] == "allowed two days"


def test_a_quote_found_twice_takes_the_first_unless_offsets_point_at_another():
    second = PAGE1.rindex("Annual leave")
    first, = parse_csv(csv_of("q,policy.pdf,1,Annual leave,1"), TEXTS)
    assert (first.char_start, first.char_end) == (0, len("Annual leave"))
    header = "query,doc,page,quote,grade,char_start,char_end"
    at, = parse_csv(csv_of(f"q,policy.pdf,1,Annual leave,1,{second},{second + 12}", header=header), TEXTS)
    assert (at.char_start, at.char_end) == (second, second + 12)
    # After a re-ingest the offsets may point elsewhere: the quote is found again, nearest to them.
    moved, = parse_csv(csv_of(f"q,policy.pdf,1,Annual leave,1,{second - 3},{second + 9}", header=header), TEXTS)
    assert (moved.char_start, moved.char_end) == (second, second + 12)


# --- refusing bad files ---------------------------------------------------------------------------


def test_every_bad_csv_row_is_reported_with_its_line_and_nothing_is_imported():
    text = csv_of(
        "good,policy.pdf,1,,2",  # line 2
        "q,missing.pdf,,,1",  # 3
        "q,policy.pdf,2,not in the text,1",  # 4
        ",policy.pdf,,,1",  # 5
        "q,policy.pdf,,,high",  # 6
        "q,policy.pdf,,,-1",  # 7
        "q,policy.pdf,x,,1",  # 8
        "q,policy.pdf,0,,1",  # 9
        "q,policy.pdf,9,,1",  # 10
        "q,policy.pdf,3,,1",  # 11
        "q,notes.txt,1,,1",  # 12
        "q,policy.pdf,1,,1,extra",  # 13
        "q,policy.pdf",  # 14: a short row
        "",  # 15: blank, skipped
        'q,policy.pdf,1,"Annual leave is 25 days a year.',  # 16-17: a quoted field over two lines
        'It is granted",2',
        "q,policy.pdf,,,2.5",  # 18
        "good,policy.pdf,1,,1",  # 19: same passage as line 2, another grade
    )
    with pytest.raises(LabelImportError) as excinfo:
        parse_csv(text, TEXTS, source="labels.csv")
    assert problems(excinfo) == [
        (3, "unknown document 'missing.pdf'"),
        (4, "quote not found in page 2 of 'policy.pdf': 'not in the text'"),
        (5, "missing value in column 'query'"),
        (6, "grade must be an integer >= 0 (got 'high')"),
        (7, "grade must be an integer >= 0 (got -1)"),
        (8, "page must be a positive integer (got 'x')"),
        (9, "page must be a positive integer (got 0)"),
        (10, "page 9 is beyond the last page (4) of 'policy.pdf'"),
        (11, "page 3 of 'policy.pdf' has no text"),
        (12, "'notes.txt' has no pages: leave page empty"),
        (13, "6 fields but the header has 5"),
        (14, "missing value in column 'grade'"),
        (18, "grade must be an integer >= 0 (got '2.5')"),
        (19, "the same query and passage as line 2 with another grade (1 vs 2)"),
    ]
    message = str(excinfo.value).splitlines()
    assert message[0] == "labels.csv was not imported (14 problems); fix and import again:"
    assert message[1] == "line 3: unknown document 'missing.pdf'"
    assert len(message) == 15
    assert isinstance(excinfo.value, InvalidInput)


def test_a_header_without_a_required_column_is_refused_at_line_1():
    with pytest.raises(LabelImportError) as excinfo:
        parse_csv("query,document,page\nq,policy.pdf,1\n", TEXTS)
    assert problems(excinfo) == [
        (1, "missing column 'doc', 'grade' in the header (needs query, doc, grade)"),
    ]
    with pytest.raises(LabelImportError) as excinfo:
        parse_csv("", TEXTS)
    assert problems(excinfo) == [(1, "the file is empty: expected a header row query,doc,grade")]
    with pytest.raises(LabelImportError, match="no labels in the file"):
        parse_csv("query,doc,grade\n", TEXTS)


def test_every_bad_jsonl_line_is_reported_with_its_physical_line():
    lines = [
        '{"query": "q", "doc": "policy.pdf", "grade": 1}',  # 1
        "",  # 2: blank, skipped
        '{"query": "q", "doc": "policy.pdf", "grade": 1',  # 3
        '["q", "policy.pdf", 1]',  # 4
        '{"query": "q", "doc": "policy.pdf"}',  # 5
        '{"query": "q", "doc": "policy.pdf", "grade": true}',  # 6
        '{"query": 7, "doc": "policy.pdf", "grade": 1}',  # 7
        '{"query": "q", "doc": "policy.pdf", "grade": "2", "page": 2, "quote": "Receipts"}',  # 8: fine
        '{"query": "q", "doc": "policy.pdf", "grade": 1, "page": 1, "char_start": 5, "char_end": 999}',  # 9
        '{"query": "q", "doc": "policy.pdf", "grade": 1, "page": 1, "char_end": 9}',  # 10
    ]
    with pytest.raises(LabelImportError) as excinfo:
        parse_jsonl("\n".join(lines) + "\n", TEXTS)
    assert problems(excinfo) == [
        (3, "invalid JSON (Expecting ',' delimiter at column 47)"),
        (4, "expected a JSON object with query, doc, grade"),
        (5, "missing column 'grade'"),
        (6, "grade must be an integer >= 0 (got true)"),
        (7, "query must be text (got 7)"),
        (9, f"char_start/char_end [5, 999) outside the page's {len(PAGE1)} characters"),
        (10, "char_end given without char_start"),
    ]


def test_parse_file_picks_the_format_by_extension_and_refuses_others():
    data = export_csv([Label("q", "notes.txt", 2)]).encode("utf-8-sig")
    assert parse_file("set.CSV", data, TEXTS) == [Label("q", "notes.txt", 2)]
    with pytest.raises(InvalidInput, match="use a .csv or .jsonl file"):
        parse_file("set.xlsx", data, TEXTS)
    with pytest.raises(LabelImportError, match="not UTF-8 text"):
        parse_file("set.jsonl", b"\xff\xfe\x00bad", TEXTS)


# --- export round trip ----------------------------------------------------------------------------


def round_trip_labels() -> list[Label]:
    second = PAGE1.rindex("Annual leave")
    chunk = Chunk("d:1", "d", "policy.pdf", 1, PAGE2[27:], page=2, char_start=27, char_end=len(PAGE2))
    return [
        *parse_csv(
            csv_of(
                'leave?,policy.pdf,1,"granted\n yearly",2',
                "claims?,policy.pdf,,Receipts are required,1",
                "appendix?,policy.pdf,4,,0",
                "remote?,notes.txt,,,2",
                'remote?,notes.txt,,"Ask your manager, ""first""",1',
            ),
            TEXTS,
        ),
        Label("leave?", "policy.pdf", 1, 1, second, second + 12, "Annual leave"),  # the 2nd occurrence
        Label("remote?", "notes.txt", 3, None, 5, 9),  # offsets without a quote
        label_for_chunk("claims? ", chunk, 2),  # a click on a search result
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_import_gives_the_same_labels(fmt):
    labels = round_trip_labels()
    exported = export_csv(labels) if fmt == "csv" else export_jsonl(labels)
    again = (parse_csv if fmt == "csv" else parse_jsonl)(exported, TEXTS)
    assert again == labels
    assert again[-1].quote == PAGE2[27:] and again[-1].query == "claims?"


def test_export_csv_columns():
    out = export_csv([Label("q", "policy.pdf", 2, 1, 0, None), Label("q", "notes.txt", 1, None, 5, 9, "work")])
    assert out.splitlines() == [
        "query,doc,page,quote,grade,char_start,char_end",
        "q,policy.pdf,1,,2,,",
        "q,notes.txt,,work,1,5,9",
    ]


# --- BEIR folders ---------------------------------------------------------------------------------


def write_beir(folder: Path, qrels: list[str]) -> Path:
    folder.mkdir()
    corpus = [{"_id": "d1", "title": "A", "text": "alpha"}, {"_id": "d2", "title": "B", "text": "beta"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    queries = [{"_id": "q1", "text": "what is alpha?"}, {"_id": "q2", "text": " what is beta? "}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(line + "\n" for line in qrels))
    return folder


class EveryName:
    """A knowledge base where a fixed set of names exists, all whole documents."""

    def __init__(self, names):
        self.names = set(names)

    def exists(self, doc):
        return doc in self.names

    def pages(self, doc):
        return [(None, "")]


def test_beir_folder_gives_whole_document_labels(tmp_path):
    folder = write_beir(tmp_path / "beir", ["q1\td1\t1", "q2\td2\t2", "q2\td1\t0", "q1\td1\t1"])
    labels = parse_beir(folder, EveryName({"d1.txt", "d2.txt"}))
    assert labels == [
        Label("what is alpha?", "d1.txt", 1),
        Label("what is beta?", "d2.txt", 2),
        Label("what is beta?", "d1.txt", 0),
    ]
    assert all(label.whole_doc for label in labels)
    named = parse_beir(folder, EveryName({"doc-d1", "doc-d2"}), doc_name=lambda cid: f"doc-{cid}")
    assert [label.doc for label in named] == ["doc-d1", "doc-d2", "doc-d1"]


def test_beir_bad_qrels_lines_are_reported_by_file_and_line(tmp_path):
    folder = write_beir(tmp_path / "beir", ["q1\td1\t1", "q9\td1\t1", "q1\td7\t1", "q2\td2\tx", "q2 d2 1"])
    with pytest.raises(LabelImportError) as excinfo:
        parse_beir(folder, EveryName({"d1.txt", "d2.txt"}))
    assert excinfo.value.problems == [
        BadLine(3, "query id 'q9' is not in queries.jsonl", "qrels.tsv"),
        BadLine(4, "unknown document 'd7.txt'", "qrels.tsv"),
        BadLine(5, "grade must be an integer >= 0 (got 'x')", "qrels.tsv"),
        BadLine(6, "expected query-id<TAB>corpus-id<TAB>score", "qrels.tsv"),
    ]
    assert "qrels.tsv line 3: query id 'q9' is not in queries.jsonl" in str(excinfo.value).splitlines()
    (folder / "queries.jsonl").unlink()
    with pytest.raises(InvalidInput, match="missing queries.jsonl"):
        parse_beir(folder, EveryName({"d1.txt"}))


@pytest.mark.skipif(not (EVAL_DIR / "xquadr-en").exists(), reason="shared/eval/xquadr-en is not present")
def test_beir_import_of_xquadr_en():
    folder = EVAL_DIR / "xquadr-en"
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        names = {f"{json.loads(line)['_id']}.txt" for line in f}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        text_of = {(row := json.loads(line))["_id"]: row["text"].strip() for line in f}
    with open(folder / "qrels.tsv", encoding="utf-8") as f:
        next(f)
        pairs = {(text_of[q], f"{d}.txt") for q, d, _ in (line.rstrip("\n").split("\t") for line in f)}
    labels = parse_beir(folder, EveryName(names))
    # 1190 qrels lines; a few questions are asked twice with the same answer: one label each.
    assert {(label.query, label.doc) for label in labels} == pairs and len(labels) == len(pairs) > 1100
    assert {label.grade for label in labels} == {1}
    assert all(label.whole_doc for label in labels)


# --- overlap anchoring ----------------------------------------------------------------------------


def chunks_of(ranges: list[tuple[int, int]], page: int | None = 1, text: str = PAGE1, doc: str = "policy.pdf"):
    return [
        Chunk(f"{doc}:{i}", "d", doc, i, text[s:e], page=page, char_start=s, char_end=e)
        for i, (s, e) in enumerate(ranges)
    ]


def test_a_quoted_label_matches_the_containing_chunk_under_two_chunkings():
    label, = parse_csv(csv_of("q,policy.pdf,,granted yearly,2"), TEXTS)
    start = PAGE1.index("It is")
    coarse = chunks_of([(0, start), (start, len(PAGE1))])
    fine = chunks_of([(0, 20), (20, start + 5), (start + 5, start + 30), (start + 30, len(PAGE1))])
    assert [bool(relevant_labels(c, [label])) for c in coarse] == [False, True]
    assert [bool(relevant_labels(c, [label])) for c in fine] == [False, False, True, False]
    # The same range on another page, or in another document, is not the label's.
    other_page = chunks_of([(start, len(PAGE1))], page=2)[0]
    other_doc = chunks_of([(start, len(PAGE1))], doc="other.pdf")[0]
    assert relevant_labels(other_page, [label]) == [] and relevant_labels(other_doc, [label]) == []


def test_ranges_overlap_by_at_least_one_character():
    label = Label("q", "policy.pdf", 1, 1, 10, 20)
    touching = chunks_of([(0, 10), (20, 30), (19, 25), (0, 11), (12, 15)])
    assert [bool(relevant_labels(c, [label])) for c in touching] == [False, False, True, True, True]


def test_whole_page_and_whole_document_labels():
    page2, doc = Label("q", "policy.pdf", 1, 2), Label("q", "policy.pdf", 1)
    chunks = chunks_of([(0, 5)], page=1) + chunks_of([(40, 50)], page=2, text=PAGE2)
    assert [relevant_labels(c, [page2, doc]) for c in chunks] == [[doc], [page2, doc]]
    txt = chunks_of([(3, 8)], page=None, text=NOTES, doc="notes.txt")[0]
    assert relevant_labels(txt, [Label("q", "notes.txt", 1), Label("q", "notes.txt", 1, None, 8, 12)]) == [
        Label("q", "notes.txt", 1)
    ]


def test_label_ids_are_distinct_per_anchor_and_never_chunk_ids():
    ids = {lb.id for lb in round_trip_labels()}
    assert len(ids) == len({lb.anchor for lb in round_trip_labels()})
    assert all(i.startswith("label:") for i in ids)
    assert Label("q", "notes.txt", 1).id == "label:notes.txt#:0-"
    assert Label("q", "policy.pdf", 1, 3, 120, 480).id == "label:policy.pdf#p3:120-480"


def test_label_refuses_impossible_values():
    with pytest.raises(InvalidInput, match="grade must be an integer >= 0"):
        Label("q", "a.txt", -1)
    with pytest.raises(InvalidInput, match="empty or negative"):
        Label("q", "a.txt", 1, None, 5, 5)
