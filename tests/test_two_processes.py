"""Several `kb` processes on one data dir: one writer at a time, creating the same knowledge base twice
succeeds, a long-lived reader sees the others' writes and never fails (real processes, embedded Chroma)."""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import load_settings
from app.locks import data_dir_lock
from app.runtime import Runtime
from testing.consistency import strays

ROOT = Path(__file__).resolve().parents[1]
ENV = {"KB_RERANK_BACKEND": "off"}
WORDS = ("otter heron badger lynx marmot walrus ibis tapir gecko bison plover newt shrew vole egret "
         "quarry harbor meadow canyon glacier tundra delta marsh orchard lagoon").split()


def kb_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env={**os.environ, **ENV},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_docs(folder: Path, prefix: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        words = " ".join(rng.sample(WORDS, 6))
        (folder / f"{prefix}{i:02d}.txt").write_text(
            f"Field note {prefix}{i} records the {words} survey. " + "It lists counts and weather. " * 20
        )


def test_two_ingests_that_create_the_same_kb_both_succeed(tmp_path):
    write_docs(tmp_path / "a", "a", 3, 1)
    write_docs(tmp_path / "b", "b", 3, 2)
    first = kb_process("ingest", str(tmp_path / "a"), "--kb", "shared")
    second = kb_process("ingest", str(tmp_path / "b"), "--kb", "shared")
    for proc in (first, second):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        assert len(out.splitlines()) == 3 and all(": added" in line for line in out.splitlines())
    rt = Runtime(load_settings(rerank_backend="off"))
    [kb] = rt.catalog.list_kbs()
    assert sorted(d.name for d in rt.catalog.documents(kb)) == [f"{p}{i:02d}.txt" for p in "ab" for i in range(3)]
    assert strays(rt) == []


def test_a_second_writer_waits_for_the_first_and_says_so(tmp_path):
    write_docs(tmp_path / "a", "a", 1, 1)
    assert kb_process("ingest", str(tmp_path / "a"), "--kb", "k").wait(timeout=600) == 0
    data_dir = load_settings().data_dir
    message = f"waiting for another kb process writing to {data_dir.resolve()}..."
    stderr = tmp_path / "stderr"
    with data_dir_lock(data_dir).write(), open(stderr, "w") as err:  # this test is "another kb process writing"
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "delete", "a00.txt", "--kb", "k"], cwd=ROOT,
                                env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=err, text=True)
        deadline = time.monotonic() + 120
        while message not in stderr.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, "the second writer did not wait"
            time.sleep(0.2)
        assert message in stderr.read_text()
        time.sleep(1)
        assert proc.poll() is None and "a00.txt" in {d.name for kb in Runtime().catalog.list_kbs()
                                                     for d in Runtime().catalog.documents(kb)}
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.read_text()
    assert out.strip() == "deleted a00.txt (1 chunks) from k"


@pytest.mark.slow
def test_a_long_lived_reader_sees_other_processes_writes_and_never_fails(tmp_path):
    write_docs(tmp_path / "seed", "s", 4, 0)
    assert kb_process("ingest", str(tmp_path / "seed"), "--kb", "live").wait(timeout=600) == 0
    out, stop = tmp_path / "reader.json", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-m", "testing.reader_loop", "live", "600", str(out)], cwd=ROOT,
                              env={**os.environ, **ENV, "KB_READER_STOP": str(stop)})
    try:
        time.sleep(15)  # the reader is searching before the first write
        for round_ in range(3):
            write_docs(tmp_path / f"w{round_}", f"w{round_}x", 4, 10 + round_)
            assert kb_process("ingest", str(tmp_path / f"w{round_}"), "--kb", "live").wait(timeout=600) == 0
            assert kb_process("delete", f"s{round_:02d}.txt", "--kb", "live").wait(timeout=600) == 0
        stop.touch()
        assert reader.wait(timeout=120) == 0
    finally:
        reader.kill()
    counts = json.loads(out.read_text())
    assert counts["searches"] > 20, counts
    assert (counts["failed"], counts["missed_dense"], counts["missed_bm25"]) == (0, 0, 0), counts
    assert counts["final_docs"] == 4 - 3 + 12 and counts["final_missing_dense"] == [], counts
    assert counts["settle_s"] < 5, counts
