"""Parse workers (ingest/pool.py): real worker processes, real limits, real kill -9."""

import os
import signal
import threading
import time

import pytest

from app.config import load_settings
from app.models import Page
from ingest.chunking import chunk_pages
from ingest.parse import ChunkSettings, Parsed, ParseFailure, ParseTask, chunk_bounded, segments
from ingest.pool import ParsePool
from tests.fixtures_docs import make_pdf, truncated_pdf

MB = 2**20


def long_text(mb: float) -> bytes:
    sentence = "The pump moves water through the intake filter and the valve. "
    return (sentence * int(mb * MB / len(sentence) + 1)).encode()


@pytest.fixture
def pool_with():
    pools = []

    def make(**overrides) -> ParsePool:
        pool = ParsePool(load_settings(**overrides))
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def test_good_and_bad_files_in_one_batch_each_get_their_outcome(pool_with):
    pool = pool_with()
    tasks = [
        ParseTask("a.txt", b"Otters hold hands while sleeping.", "d1"),
        ParseTask("broken.pdf", truncated_pdf(), "d2"),
        ParseTask("empty.txt", b"", "d3"),
        ParseTask("report.pdf", make_pdf(["Page one text.", "Page two text."]), "d4"),
        ParseTask("x.xyz", b"what", "d5"),
    ]
    results = pool.parse_many(tasks)
    assert [type(r) for r in results] == [Parsed, ParseFailure, ParseFailure, Parsed, ParseFailure]
    assert results[0].chunks[0].text == "Otters hold hands while sleeping."
    assert results[0].chunks[0].chunk_id == "d1:0"
    assert results[3].page_count == 2 and [c.page for c in results[3].chunks] == [1, 2]
    assert results[1].message.startswith("not a readable PDF")
    assert results[2].message == "the file is empty"
    assert "unsupported file type" in results[4].message
    assert all(r.peak_rss > 0 for r in results)


def test_a_file_over_the_time_limit_is_stopped_and_the_next_one_parses(pool_with):
    pool = pool_with(parse_timeout_s=1.0, parse_workers=1)
    started = time.monotonic()
    slow, fine = pool.parse_many([ParseTask("slow.txt", long_text(30), "s"), ParseTask("ok.txt", b"Fine.", "o")])
    assert isinstance(slow, ParseFailure)
    assert slow.message == "parsing took longer than 1 s, the limit (KB_PARSE_TIMEOUT_S): stopped"
    assert isinstance(fine, Parsed) and fine.chunks[0].text == "Fine."
    assert time.monotonic() - started < 15  # one second for the slow file, then a fresh worker's start-up


def test_a_file_over_the_memory_limit_is_reported_and_the_next_one_parses(pool_with):
    pool = pool_with(parse_max_mb=256, parse_workers=1)
    big, fine = pool.parse_many([ParseTask("big.txt", long_text(120), "b"), ParseTask("ok.txt", b"Fine.", "o")])
    assert isinstance(big, ParseFailure)
    assert "256 MB of memory allowed (KB_PARSE_MAX_MB)" in big.message
    assert big.peak_rss <= 256 * MB
    assert isinstance(fine, Parsed)


def test_a_worker_killed_mid_file_is_reported_and_replaced(pool_with):
    pool = pool_with(parse_workers=1)
    pool.parse_many([ParseTask("warm.txt", b"Warm up.", "w")])  # the worker is running now
    [worker] = list(pool._all)
    result = {}
    big = [ParseTask("big.txt", long_text(20), "b")]
    thread = threading.Thread(target=lambda: result.update(r=pool.parse_many(big)))
    thread.start()
    time.sleep(1.0)
    os.kill(worker.proc.pid, signal.SIGKILL)  # what the kernel's OOM killer does
    thread.join(60)
    [failure] = result["r"]
    assert isinstance(failure, ParseFailure) and "KB_PARSE_MAX_MB" in failure.message
    [again] = pool.parse_many([ParseTask("after.txt", b"Still parsing.", "a")])
    assert isinstance(again, Parsed)


def test_workers_load_a_tokenizer_not_a_model_and_small_files_cost_milliseconds(pool_with):
    pool = pool_with()
    text = "Document {} about pumps and valves. " * 20
    tasks = [ParseTask(f"f{i}.txt", text.format(*[i] * 20).encode(), f"d{i}") for i in range(200)]
    pool.parse_many(tasks[:2])
    started = time.monotonic()
    results = pool.parse_many(tasks)
    per_file = (time.monotonic() - started) / len(tasks)
    assert all(isinstance(r, Parsed) for r in results)
    assert per_file < 0.05, per_file
    for worker in pool._all:
        maps = open(f"/proc/{worker.proc.pid}/maps").read()
        assert "libtorch" not in maps and "sentence_transformers" not in maps


def test_segmented_chunking_equals_whole_pages_for_normal_documents(minilm_tokenizer):
    pages = [Page(1, "One sentence here. " * 50), Page(2, "Another page with words. " * 80)]
    settings = ChunkSettings(64, 8)
    whole = chunk_pages(pages, doc_id="d", doc_name="a.pdf", tokenizer=minilm_tokenizer, chunk_tokens=64, overlap=8)
    assert chunk_bounded(pages, "d", "a.pdf", minilm_tokenizer, settings) == whole


def test_a_long_page_is_chunked_in_segments_whose_offsets_point_into_the_page(minilm_tokenizer):
    text = ("Paragraph about valves and pumps. " * 200 + "\n\n") * 100  # ~680 k characters
    page = Page(None, text.strip())
    chunks = chunk_bounded([page], "d", "a.txt", minilm_tokenizer, ChunkSettings(128, 16))
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.chunk_id == f"d:{c.position}" for c in chunks)
    assert all(page.text[c.char_start : c.char_end] == c.text for c in chunks)
    spans = segments(page.text, 250_000)
    assert len(spans) >= 3 and spans[0][0] == 0 and spans[-1][1] == len(page.text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    word = "x" * 600_000  # no space at all: cut anywhere
    assert [end - start for start, end in segments(word, 250_000)] == [250_000, 250_000, 100_000]


def test_a_long_page_keeps_its_sections_across_segments(minilm_tokenizer):
    """Each chunk of a segmented page carries the heading path running where it starts, as whole pages do."""
    from bisect import bisect_right

    from app.models import Section

    part = "Paragraph about valves and pumps. " * 200 + "\n\n"
    text = part * 40 + "Leave\n\n" + part * 40 + "Pay\n\n" + part * 20
    starts = [0, text.index("Leave\n\n"), text.index("Pay\n\n")]
    sections = tuple(Section(s, p) for s, p in zip(starts, ["Handbook", "Handbook › Leave", "Handbook › Pay"],
                                                   strict=True))
    page = Page(None, text, sections)
    chunks = chunk_bounded([page], "d", "a.md", minilm_tokenizer, ChunkSettings(128, 16))
    assert len(segments(text, 250_000)) >= 3
    assert {c.section for c in chunks} == {s.path for s in sections}
    for c in chunks:
        assert c.section == sections[bisect_right(starts, c.char_start) - 1].path


@pytest.mark.slow
def test_a_scanned_pdf_is_read_by_ocr_inside_the_worker_and_its_details_come_back(pool_with):
    """OCR runs in the worker, under its limits; the page count, the OCR'd pages and the details come back."""
    from testing import documents as gen

    scan = gen.scanned(gen.text_pages_pdf(["The pump overheats when the intake filter is blocked."], header=False),
                       200)
    [result] = pool_with().parse_many([ParseTask("scan.pdf", scan, "s1")])
    assert isinstance(result, Parsed), result
    assert result.page_count == 1 and result.details.ocr_pages == (1,)
    assert result.peak_rss > 0 and "intake filter" in " ".join(c.text for c in result.chunks)


def test_workers_answer_when_the_process_already_holds_over_1024_descriptors(pool_with):
    """A long-lived app process holds many files (Chroma, the indexes, sockets); select() refused them."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        [result] = pool_with().parse_many([ParseTask("a.txt", b"Otters hold hands while sleeping.", "d1")])
    finally:
        for fd in held:
            os.close(fd)
    assert isinstance(result, Parsed) and result.chunks[0].text == "Otters hold hands while sleeping."
