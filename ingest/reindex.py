"""Re-embed a knowledge base with the configured embedding model, from the original files we keep.

The new index is built beside the old one under a temporary name; the old one keeps answering
until the swap, which is one catalog transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.runtime import Runtime
from ingest.pipeline import IngestOutcome, ingest_bytes, kb_write_lock, remove_kb, source_path


def reindex_kb(rt: Runtime, kb_name: str) -> Iterator[IngestOutcome]:
    """Yields one outcome per document; the swap happens after the last one."""
    old = rt.catalog.get_kb(kb_name)
    staging_name = f"{old.name}.reindex"
    for kb in rt.catalog.list_kbs():
        if kb.name == staging_name:  # left by an interrupted re-index: start over
            remove_kb(rt, kb)
    new = rt.catalog.create_kb(staging_name, rt.settings.embed_model, rt.embedder.dim)
    with kb_write_lock(rt, old):
        for doc in rt.catalog.documents(old):
            path = source_path(rt, old, doc.doc_id, doc.name)
            if not path.exists():
                yield IngestOutcome(doc.name, "failed", doc.doc_id, message="original file is missing")
                continue
            yield ingest_bytes(rt, new, doc.name, path.read_bytes())
        rt.catalog.replace_kb(old, new)
        remove_kb(rt, old)  # its catalog rows are gone already; vectors, index and files go now
