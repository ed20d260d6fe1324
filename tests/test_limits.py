"""Checks before any byte is read (ingest/limits.py) or unpacked (ingest/loaders/archive.py), and the linear hyphen
joining."""

import os
import re
import time
from pathlib import Path

import pytest

from app.errors import IngestError
from ingest.limits import read_file
from ingest.loaders import load_document
from ingest.loaders.archive import open_zip
from ingest.normalize import join_hyphenated, normalize_text
from testing.hostile import zip_of
from tests.fixtures_docs import make_docx

MB = 2**20


def test_a_fifo_is_refused_from_its_type_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(IngestError, match=r"not a regular file \(a named pipe\)"):
        read_file(fifo, MB)
    assert time.monotonic() - started < 1


def test_a_device_is_refused():
    with pytest.raises(IngestError, match=r"not a regular file \(a device\)"):
        read_file(Path("/dev/zero"), MB)


def test_a_sparse_9_gib_file_is_refused_by_its_size_without_reading(tmp_path):
    sparse = tmp_path / "sparse.txt"
    with open(sparse, "wb") as f:
        f.truncate(9 * 2**30)
    started = time.monotonic()
    message = r"the file is 9\.0 GB, more than the 200 MB allowed per file \(KB_MAX_FILE_MB\)"
    with pytest.raises(IngestError, match=message):
        read_file(sparse, 200 * MB)
    assert time.monotonic() - started < 1


def test_a_file_at_the_limit_is_read_and_one_byte_more_is_not(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 1000)
    assert read_file(path, 1000) == b"x" * 1000
    with pytest.raises(IngestError, match="more than"):
        read_file(path, 999)
    with pytest.raises(IngestError, match="cannot read the file: no such file"):
        read_file(tmp_path / "missing.txt", 1000)


def test_an_archive_with_too_many_entries_is_refused_from_its_directory():
    many = zip_of({f"word/media/{i}.xml": b"" for i in range(50)})
    with pytest.raises(IngestError, match="not a readable DOCX: 50 files inside"):
        open_zip(many, "DOCX", max_entries=10)


def test_real_documents_pass_the_archive_check_and_damaged_ones_get_a_reason():
    assert open_zip(make_docx(["Hello", "World"]), "DOCX").namelist()
    with pytest.raises(IngestError, match="not a readable DOCX: not a zip archive"):
        load_document("broken.docx", b"PK\x03\x04 junk")


_OLD_HYPHEN_BREAK = re.compile(r"([\w-]*[^\W\d_])-[ \t]*\n[ \t]*(?=[^\W\d_])")


def _old_join(text: str) -> str:
    """The quadratic implementation this replaced: the reference for what joining does."""

    def join(m: re.Match) -> str:
        word = m.group(1)
        if not text[m.end()].islower():
            return m.group(0)
        return word + "-" if "-" in word else word

    return _OLD_HYPHEN_BREAK.sub(join, text)


def test_join_hyphenated_matches_the_old_regex_on_random_text():
    import random

    rng = random.Random(0)
    alphabet = ["a", "B", "é", "Ж", "1", "_", "-", "\n", " ", "\t", "x", "-\n", "- \n ", ".", "中"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert join_hyphenated(text) == _old_join(text), repr(text)


@pytest.mark.parametrize("length, seconds", [(40_000, 0.5), (2 * MB, 3.0)])
def test_one_long_word_normalizes_in_linear_time(length, seconds):
    word = "a" * length
    started = time.monotonic()
    assert normalize_text(word) == word
    assert join_hyphenated(word + "-\nb") == word + "b"
    assert time.monotonic() - started < seconds
