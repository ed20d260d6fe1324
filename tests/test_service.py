"""The service layer on real components: what a result card needs comes with the search, once."""

from __future__ import annotations

import pytest

from app.service import documents, kbs, presets, search
from ingest.pipeline import IngestStatus

LONG = " ".join(f"Paragraph {i} describes routine maintenance item {i} of the pump." for i in range(120))


def test_search_answer_carries_neighbours_and_originals(runtime):
    outcomes = documents.ingest_uploads(runtime, "kb", [("long.txt", LONG.encode()), ("short.txt", b"Pumps.")])
    assert [o.status for o in outcomes] == [IngestStatus.ADDED, IngestStatus.ADDED]
    answer = search.run(runtime, "kb", "maintenance item 60 of the pump", top_n=3, recall_mode="bm25")
    chunks = {c.chunk_id: c for c in documents.chunks(runtime, "kb", outcomes[0].doc_id)}
    assert len(chunks) > 3
    for hit in [*answer.result.hits, *answer.result.recall_hits]:
        around = answer.neighbours[hit.chunk.chunk_id]
        before, after = (f"{hit.chunk.doc_id}:{hit.chunk.position + d}" for d in (-1, 1))
        assert (around.before and around.before.chunk_id) == (before if before in chunks else None)
        assert (around.after and around.after.chunk_id) == (after if after in chunks else None)
        assert answer.originals[hit.chunk.doc_id].read_bytes() == LONG.encode()

    documents.original(runtime, "kb", outcomes[0].doc_id).unlink()
    again = search.run(runtime, "kb", "maintenance item 60 of the pump", top_n=3, recall_mode="bm25")
    assert outcomes[0].doc_id not in again.originals  # no download button for a file that is gone
    assert search.run(runtime, "kb", "pump", recall_mode="bm25", context=False).neighbours == {}


def test_knowledge_bases_and_presets_through_the_service(runtime):
    kbs.create(runtime, "hr")
    presets.save(runtime, "hr", "Leave", "Find the leave policy clause")
    kbs.rename(runtime, "hr", "people")
    assert [p.name for p in presets.available(runtime, "people") if not p.builtin] == ["Leave"]
    assert [(s.name, s.documents) for s in kbs.summaries(runtime)] == [("people", 0)]
    kbs.drop(runtime, "people")
    assert kbs.names(runtime) == []


def test_upload_batches_over_the_limits_are_refused_whole_and_large_files_one_by_one(make_runtime):
    from app.errors import KBError

    rt = make_runtime(rerank_backend="off", max_batch_files=2, max_batch_mb=1, max_file_mb=1)
    with pytest.raises(KBError, match=r"3 files is more than the 2 one batch may add \(KB_MAX_BATCH_FILES\)"):
        documents.ingest_uploads(rt, "up", [("a.txt", b"A."), ("b.txt", b"B."), ("c.txt", b"C.")])
    with pytest.raises(KBError, match=r"more than the 1 MB one batch may add \(KB_MAX_BATCH_MB\)"):
        documents.check_upload(rt, [700_000, 700_000])
    assert rt.catalog.list_kbs() == []  # nothing was ingested, not even the knowledge base
    big, small = documents.ingest_uploads(rt, "up", [("big.txt", b"x " * 600_000), ("small.txt", b"Small.")])
    assert big.status == "failed" and "allowed per file (KB_MAX_FILE_MB)" in big.message
    assert small.status == "added"


def test_the_ingest_history_records_paths_links_and_re_ingests(runtime, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"Outside the folder.")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"Pumps need filters.")
    (folder / "b.txt").symlink_to(outside / "secret.txt")
    lines = [o.summary() for o in documents.ingest_files(runtime, "kb", [folder])]
    assert lines[0] == "a.txt: added, 1 chunks" and lines[1].startswith("b.txt: skipped: a link to ")
    [doc] = documents.listing(runtime, "kb")
    assert documents.reingest(runtime, "kb", doc).status == IngestStatus.REINGESTED
    history = documents.ingest_history(runtime, "kb")
    assert [(h["name"], h["status"]) for h in history] == [("a.txt", "re-ingested"), ("b.txt", "skipped"),
                                                           ("a.txt", "added")]
    assert history[0]["detail"] == "a.txt: re-ingested, 1 chunks"

    # links alone, where nothing is left to ingest: refused with a reason, and no knowledge base is made for it
    only_link = tmp_path / "links"
    only_link.mkdir()
    (only_link / "c.txt").symlink_to(outside / "secret.txt")
    from app.errors import NothingToIngest

    outcomes = documents.ingest_files(runtime, "new", [only_link])
    assert next(outcomes).status == IngestStatus.SKIPPED
    with pytest.raises(NothingToIngest, match="nothing to ingest in"):
        next(outcomes)
    assert kbs.names(runtime) == ["kb"]
