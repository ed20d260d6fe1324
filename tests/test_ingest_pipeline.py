"""The ingest pipeline on real files, the real embedder, real Chroma on disk and the real BM25 index."""

import subprocess
import sys
import textwrap

import pytest

from app.catalog import PENDING
from app.search import search
from ingest.pipeline import delete_document, ingest_bytes, ingest_paths, recover
from tests.conftest import stored_chunks, stored_doc_ids
from tests.fixtures_docs import make_pdf

PAGES = [
    "The committee met in Geneva to discuss the annual budget.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The lighthouse keeper recorded a violent storm on the third night.",
]


def _names(outcomes):
    return [(o.name, o.status) for o in outcomes]


def test_pdf_pages_are_kept_through_search(runtime):
    kb = runtime.open_or_create_kb("kb")
    outcome = ingest_bytes(runtime, kb, "report.pdf", make_pdf(PAGES))
    assert (outcome.status, outcome.pages) == ("added", 3)
    for mode in ("dense", "bm25", "hybrid"):
        hit = search(runtime, "kb", "lighthouse keeper storm", recall_mode=mode).hits[0]
        assert (hit.chunk.doc_name, hit.chunk.page) == ("report.pdf", 3), mode
        assert "lighthouse keeper" in hit.chunk.text


def test_same_bytes_are_unchanged_and_a_changed_file_replaces(runtime):
    kb = runtime.open_or_create_kb("kb")
    first = ingest_bytes(runtime, kb, "notes.txt", b"Alpacas are domesticated camelids from South America.")
    again = ingest_bytes(runtime, kb, "notes.txt", b"Alpacas are domesticated camelids from South America.")
    assert (first.status, again.status, again.doc_id) == ("added", "unchanged", first.doc_id)

    new = ingest_bytes(runtime, kb, "notes.txt", b"Glaciers carve U-shaped valleys over thousands of years.")
    assert new.status == "replaced"
    docs = runtime.catalog.documents(kb)
    assert [(d.name, d.doc_id) for d in docs] == [("notes.txt", new.doc_id)]
    assert stored_doc_ids(runtime, kb) == {new.doc_id}
    assert runtime.lexical(kb).doc_ids() == {new.doc_id}
    assert all("Alpacas" not in h.chunk.text for h in search(runtime, "kb", "alpaca camelid").hits)


def test_delete_removes_every_trace(runtime):
    kb = runtime.open_or_create_kb("kb")
    doc = ingest_bytes(runtime, kb, "a.md", b"# Title\n\nZebras have stripes.")
    keep = ingest_bytes(runtime, kb, "b.md", b"# Other\n\nOwls hunt at night.")
    delete_document(runtime, "kb", "a.md")
    assert [d.name for d in runtime.catalog.documents(kb)] == ["b.md"]
    assert stored_doc_ids(runtime, kb) == {keep.doc_id}
    assert doc.doc_id not in runtime.lexical(kb).doc_ids()
    assert not list((runtime.settings.kb_dir(kb.key) / "files").glob(f"{doc.doc_id}*"))


def test_bad_files_fail_alone_and_touch_nothing_stored(runtime, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good.txt").write_text("Penguins cannot fly but swim well.")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(make_pdf(PAGES)[:400])
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "ignored.xyz").write_text("folders only yield supported types")
    stray = tmp_path / "notes.xyz"
    stray.write_text("named explicitly: refused with a reason")

    kb = runtime.open_or_create_kb("kb")
    before = ingest_bytes(runtime, kb, "existing.txt", b"Existing knowledge stays put.")
    outcomes = list(ingest_paths(runtime, "kb", [folder, stray]))
    status = dict(_names(outcomes))
    assert status == {
        "binary.txt": "failed",
        "broken.pdf": "failed",
        "empty.txt": "failed",
        "good.txt": "added",
        "notes.xyz": "failed",
    }
    reasons = {o.name: o.message for o in outcomes}
    assert "empty" in reasons["empty.txt"]
    assert "PDF" in reasons["broken.pdf"]
    assert "unsupported file type" in reasons["notes.xyz"]
    assert "decode" in reasons["binary.txt"]
    names = sorted(d.name for d in runtime.catalog.documents(kb))
    assert names == ["existing.txt", "good.txt"]
    assert runtime.catalog.hidden_doc_ids(kb) == []
    assert before.doc_id in stored_doc_ids(runtime, kb)


def test_a_failure_mid_document_leaves_nothing(runtime, monkeypatch):
    kb = runtime.open_or_create_kb("kb")
    boom = RuntimeError("disk full")

    def failing_add(*args, **kwargs):
        raise boom

    monkeypatch.setattr(runtime.lexical(kb), "add_many", failing_add)  # after Chroma has the chunks
    outcome = ingest_bytes(runtime, kb, "x.txt", b"Volcanoes erupt molten rock.")
    assert outcome.status == "failed" and "disk full" in outcome.message
    assert runtime.catalog.get_document(kb, outcome.doc_id) is None
    assert stored_chunks(runtime, kb) == 0


CRASH = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from app.runtime import Runtime
    from ingest.pipeline import ingest_bytes

    rt = Runtime()
    kb = rt.open_or_create_kb("kb")
    real_add = rt.store.add

    def add_half_then_die(kb, chunks, embeddings):
        real_add(kb, chunks[: len(chunks) // 2], embeddings[: len(chunks) // 2])
        os._exit(9)  # a hard crash: no exception handler, no cleanup runs

    rt.store.add = add_half_then_die
    ingest_bytes(rt, kb, "long.txt", open({path!r}, "rb").read())
    """
)


def test_a_crash_mid_document_is_invisible_after_restart(make_runtime, tmp_path):
    rt = make_runtime(rerank_backend="off")
    kb = rt.open_or_create_kb("kb")
    ingest_bytes(rt, kb, "keep.txt", b"Otters hold hands while sleeping.")
    long_text = "\n\n".join(f"Paragraph {i} about the crashing document and its lighthouse." * 8 for i in range(40))
    path = tmp_path / "long.txt"
    path.write_text(long_text)
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, "-c", CRASH.format(root=root, path=str(path))], capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()[-2000:]

    rt = make_runtime(rerank_backend="off")  # "after restart": a fresh process view
    kb = rt.open_kb("kb")
    pending = rt.catalog.documents(kb, status=PENDING)
    assert [d.name for d in pending] == ["long.txt"] and stored_chunks(rt, kb) > 1  # half was written
    hits = search(rt, "kb", "crashing document lighthouse", top_n=20).hits
    assert {h.chunk.doc_name for h in hits} == {"keep.txt"}
    assert recover(rt, kb) == [pending[0].doc_id]
    assert stored_doc_ids(rt, kb) == {d.doc_id for d in rt.catalog.documents(kb)}
    assert rt.catalog.hidden_doc_ids(kb) == []
    outcome = ingest_bytes(rt, kb, "long.txt", path.read_bytes())
    assert outcome.status == "added" and outcome.chunks > 1


def test_chinese_text_is_chunked_and_found(runtime):
    kb = runtime.open_or_create_kb("kb")
    text = "长城是中国古代的军事防御工程。它的修建持续了两千多年。熊猫主要以竹子为食。"
    outcome = ingest_bytes(runtime, kb, "中文.txt", text.encode("utf-8"))
    assert outcome.status == "added"
    hit = search(runtime, "kb", "熊猫吃什么", recall_mode="bm25").hits[0]
    assert "熊猫" in hit.chunk.text


def test_a_kb_built_with_another_embedder_is_refused(runtime, make_runtime):
    runtime.open_or_create_kb("kb")
    other = make_runtime(rerank_backend="off", embed_model="Qwen/Qwen3-Embedding-0.6B")
    with pytest.raises(Exception, match="kb reindex --kb kb"):
        search(other, "kb", "anything")


def test_reindex_moves_a_kb_to_the_configured_model(make_runtime):
    old = make_runtime(rerank_backend="off", embed_model="legacy-model")
    kb = old.open_or_create_kb("kb")
    old.catalog.save_preset(kb, "mine", "Find the clause")
    ingest_bytes(old, kb, "a.txt", b"Beavers build dams across streams.")

    from ingest.reindex import reindex_kb

    rt = make_runtime(rerank_backend="off")
    outcomes = list(reindex_kb(rt, "kb"))
    assert _names(outcomes) == [("a.txt", "added")]
    kb = rt.open_kb("kb")
    assert kb.embed_model == rt.settings.embed_model
    assert rt.catalog.presets(kb) == {"mine": "Find the clause"}
    assert [k.name for k in rt.catalog.list_kbs()] == ["kb"]
    assert search(rt, "kb", "beaver dams").hits[0].chunk.doc_name == "a.txt"
