"""A long-lived reader (as `kb serve` is): searches one knowledge base in a loop while other processes write.

    python -m testing.reader_loop KB SECONDS OUT.json      (KB_DATA_DIR and the other KB_* from the environment)

Each round lists the knowledge base's documents, takes the next one in turn and asks for it by its first
sentence with dense recall and with BM25 (top 10). It counts searches that raised, and searches that missed
a listed document; at the end (after `SECONDS`, or once the file named by KB_READER_STOP exists) it waits up
to 10 s until every listed document is found by dense search, and writes the counts as JSON. Used by
scripts/bench_reliability.py and tests/test_two_processes.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path


def first_sentence(text: str) -> str:
    return text.strip().split(". ")[0]


def main(kb: str, seconds: float, out: Path) -> None:
    from app.config import load_settings
    from app.runtime import Runtime
    from app.search import search
    from app.service import documents
    from ingest.cleanup import source_path

    rt = Runtime(load_settings(rerank_backend="off"))
    stop = os.environ.get("KB_READER_STOP")
    queries: dict[str, str] = {}
    counts = {"searches": 0, "failed": 0, "missed_dense": 0, "missed_bm25": 0, "errors": [], "max_docs": 0}
    turn = 0
    deadline = time.monotonic() + seconds

    def query_for(doc) -> str | None:
        if doc.doc_id not in queries:
            try:
                path = source_path(rt, rt.catalog.get_kb(kb), doc.doc_id, doc.name)
                queries[doc.doc_id] = first_sentence(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, Exception):  # noqa: BLE001 (deleted meanwhile)
                return None
        return queries[doc.doc_id]

    def finds(doc, mode: str) -> bool:
        question = query_for(doc)
        if question is None:
            return True
        hits = search(rt, kb, question, top_n=10, recall_k=10, recall_mode=mode).hits
        return doc.name in {h.chunk.doc_name for h in hits}

    while time.monotonic() < deadline and not (stop and Path(stop).exists()):
        try:
            docs = documents.listing(rt, kb)
        except Exception:  # noqa: BLE001 (no knowledge base yet)
            time.sleep(0.05)
            continue
        counts["max_docs"] = max(counts["max_docs"], len(docs))
        if not docs:
            time.sleep(0.05)
            continue
        doc = docs[turn % len(docs)]
        turn += 1
        for mode in ("dense", "bm25"):
            counts["searches"] += 1
            try:
                if not finds(doc, mode):
                    # listed a moment ago: deleted or replaced since? Only a miss if it is still listed.
                    if any(d.doc_id == doc.doc_id for d in documents.listing(rt, kb)):
                        counts[f"missed_{mode}"] += 1
            except Exception as exc:  # noqa: BLE001 (what we count)
                counts["failed"] += 1
                if len(counts["errors"]) < 5:
                    counts["errors"].append("".join(traceback.format_exception_only(type(exc), exc)).strip())
    settle = time.monotonic()
    while True:
        docs = documents.listing(rt, kb)
        missing = [d.name for d in docs if not finds(d, "dense")]
        if not missing or time.monotonic() - settle > 10:
            break
        time.sleep(0.2)
    counts.update(final_docs=len(docs), final_missing_dense=missing, settle_s=round(time.monotonic() - settle, 2))
    out.write_text(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
