"""A process killed at each write step of drop, delete, ingest and re-ingest: real processes, real Chroma and
BM25 on disk, a hard `os._exit` right after the step (no handler, no cleanup runs).

After the crash a fresh runtime must see the knowledge base or document either whole or not at all, in every
list and every search; running the interrupted command again finishes it; after it nothing is left over
(`testing.consistency.strays`).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.errors import DocumentNotFound, KnowledgeBaseNotFound
from app.search import search
from app.service import documents, kbs
from ingest.pipeline import ingest_bytes
from testing.consistency import strays, visible_problems

ROOT = Path(__file__).resolve().parents[1]
KEEP = b"Otters hold hands while they sleep on the water."
TARGET = ("\n\n".join(f"Lighthouse keepers log every storm, entry {i}, with the wind and the waves." * 6
                      for i in range(12))).encode()

CHILD = textwrap.dedent(
    """
    import importlib, json, os, sys
    sys.path.insert(0, {root!r})
    spec = json.loads(sys.argv[1])
    module, _, path = spec["target"].partition(":")
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    calls = [0]

    def crash_after(*args, **kwargs):
        result = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == spec.get("nth", 1):
            os._exit(9)  # a hard crash right after this step
        return result

    setattr(owner, name, crash_after)
    if spec["op"] == "reingest":
        from app.runtime import Runtime
        from app.service import documents
        rt = Runtime()
        doc = next(d for d in documents.listing(rt, "kb") if d.name == "target.txt")
        documents.reingest(rt, "kb", doc)
    else:
        from app.cli import main
        sys.exit(main(spec["argv"]))
    """
)


def crash(op: str, target: str, argv: list[str] | None = None) -> None:
    spec = json.dumps({"op": op, "target": target, "argv": argv or []})
    proc = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), spec], capture_output=True,
                          text=True, timeout=600, env={**__import__("os").environ, "KB_RERANK_BACKEND": "off"})
    assert proc.returncode == 9, f"never reached {target}: rc={proc.returncode}\n{proc.stderr[-3000:]}"


def seeded(make_runtime):
    rt = make_runtime(rerank_backend="off")
    kb = rt.open_or_create_kb("kb")
    assert ingest_bytes(rt, kb, "keep.txt", KEEP).ok
    assert ingest_bytes(rt, kb, "target.txt", TARGET).ok
    return rt


def found_docs(rt, query: str) -> dict[str, set[str]]:
    """mode -> the documents the search returns."""
    return {mode: {h.chunk.doc_name for h in search(rt, "kb", query, top_n=20, recall_mode=mode).hits}
            for mode in ("dense", "bm25", "hybrid")}


DROP = ["app.catalog:Catalog.mark_dropping", "app.store:VectorStore.drop_key", "shutil:rmtree",
        "app.catalog:Catalog.delete_kb"]


@pytest.mark.parametrize("target", [DROP[0], *(pytest.param(t, marks=pytest.mark.slow) for t in DROP[1:])])
def test_drop_killed_at_any_step(make_runtime, target):
    seeded(make_runtime)
    crash("drop", target, ["drop", "--kb", "kb"])
    rt = make_runtime(rerank_backend="off")
    assert kbs.names(rt) == []  # gone from every list at once
    with pytest.raises(KnowledgeBaseNotFound):
        search(rt, "kb", "lighthouse storm")
    try:
        kbs.drop(rt, "kb")  # the same command again finishes it
    except KnowledgeBaseNotFound:
        assert target == DROP[-1]  # it had finished but for the sweep, which any writer does
        kbs.create(rt, "other")
    assert strays(rt) == []
    assert ingest_bytes(rt, rt.open_or_create_kb("kb"), "new.txt", b"A new knowledge base of the same name.").ok


DELETE = ["app.catalog:Catalog.mark_deleting", "app.store:VectorStore.delete_document",
          "app.lexical.index:LexicalIndex.remove", "app.catalog:Catalog.forget_document"]


@pytest.mark.parametrize("target", [DELETE[0], *(pytest.param(t, marks=pytest.mark.slow) for t in DELETE[1:])])
def test_delete_killed_at_any_step(make_runtime, target):
    seeded(make_runtime)
    crash("delete", target, ["delete", "target.txt", "--kb", "kb"])
    rt = make_runtime(rerank_backend="off")
    assert [d.name for d in documents.listing(rt, "kb")] == ["keep.txt"]
    assert all("target.txt" not in docs for docs in found_docs(rt, "lighthouse keepers storm").values())
    assert visible_problems(rt) == []
    try:
        doc = documents.delete(rt, "kb", "target.txt")  # not "No document": it finishes the delete
        assert doc.name == "target.txt"
    except DocumentNotFound:
        assert target == DELETE[-1]  # the row was the last thing to go: it had finished
    assert strays(rt) == []
    assert found_docs(rt, "otters hold hands")["bm25"] == {"keep.txt"}


INGEST = ["app.catalog:Catalog.begin_documents", "app.store:VectorStore.add", "app.lexical.index:LexicalIndex.add_many"]


@pytest.mark.parametrize("target", [INGEST[1], *(pytest.param(t, marks=pytest.mark.slow) for t in INGEST[::2])])
def test_ingest_killed_at_any_step(make_runtime, target, tmp_path):
    rt = seeded(make_runtime)
    new = tmp_path / "new.txt"
    new.write_bytes(b"Glaciers carve valleys over thousands of years. " * 30)
    crash("ingest", target, ["ingest", str(new), "--kb", "kb"])
    rt = make_runtime(rerank_backend="off")
    assert sorted(d.name for d in documents.listing(rt, "kb")) == ["keep.txt", "target.txt"]
    assert all("new.txt" not in docs for docs in found_docs(rt, "glaciers carve valleys").values())
    assert visible_problems(rt) == []
    [outcome] = list(documents.ingest_files(rt, "kb", [new]))  # the same command again
    assert outcome.status == "added"
    assert strays(rt) == []
    assert found_docs(rt, "glaciers carve valleys")["dense"] >= {"new.txt"}


REINGEST = ["app.catalog:Catalog.begin_generation", "app.store:VectorStore.add",
            "app.lexical.index:LexicalIndex.add_many", "app.catalog:Catalog.commit_generation",
            "app.store:VectorStore.delete_versions"]


@pytest.mark.parametrize("target", [REINGEST[3], *(pytest.param(t, marks=pytest.mark.slow)
                                                    for t in REINGEST[:3] + REINGEST[4:])])
def test_reingest_killed_at_any_step_keeps_one_searchable_version(make_runtime, target):
    rt = seeded(make_runtime)
    kb = rt.open_kb("kb")
    before = rt.catalog.documents_named(kb, "target.txt")[0]
    crash("reingest", target)
    rt = make_runtime(rerank_backend="off")
    kb = rt.open_kb("kb")
    [doc] = [d for d in documents.listing(rt, "kb") if d.name == "target.txt"]
    assert doc.chunks == before.chunks
    assert all("target.txt" in docs for docs in found_docs(rt, "lighthouse keepers storm").values())
    assert visible_problems(rt) == []  # one version visible, never both
    hits = search(rt, "kb", "lighthouse keepers storm", top_n=50, recall_k=50, recall_mode="dense").hits
    shown = [h.chunk.chunk_id for h in hits if h.chunk.doc_name == "target.txt"]
    assert len({cid.rsplit(":", 1)[0] for cid in shown}) == 1 and len(shown) == len(set(shown))
    outcome = documents.reingest(rt, "kb", doc)  # the same command again
    assert outcome.status == "re-ingested", outcome.message
    assert strays(rt) == []
    assert len(documents.chunks(rt, "kb", doc.doc_id)) == doc.chunks
