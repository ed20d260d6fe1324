"""Re-embed a knowledge base with the configured embedding model, from the original files we keep.

The new index is built beside the old one under a temporary name; the old one keeps answering
until the swap, which is one catalog transaction. Documents added to or deleted from the old one while
the new one is built are caught up under the write lock just before the swap.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.runtime import Runtime
from ingest.cleanup import delete_document, recover_data_dir, remove_kb, source_path
from ingest.limits import read_file
from ingest.pipeline import IngestOutcome, failed, ingest_many


def reindex_kb(rt: Runtime, kb_name: str) -> Iterator[IngestOutcome]:
    """Yields one outcome per document; the swap happens after the last one."""
    old = rt.catalog.get_kb(kb_name)
    staging_name = f"{old.name}.reindex"
    dim = rt.embedder.dim
    with rt.lock.write():
        recover_data_dir(rt)
        for kb in rt.catalog.list_kbs():
            if kb.name == staging_name:  # left by an interrupted re-index: start over
                remove_kb(rt, kb)
        new = rt.catalog.create_kb(staging_name, rt.settings.embed_model, dim)
    done: set[str] = set()
    while True:
        todo = [d for d in rt.catalog.documents(old) if d.doc_id not in done]
        if not todo:
            with rt.lock.write():
                if any(d.doc_id not in done for d in rt.catalog.documents(old)):
                    continue  # a writer added one meanwhile: catch up first
                gone = done - {d.doc_id for d in rt.catalog.documents(old)}
                for doc_id in gone:  # deleted from the old one meanwhile
                    delete_document(rt, new.name, doc_id)
                rt.catalog.replace_kb(old, new)
                remove_kb(rt, old)  # its rows are gone already; its vectors, index and files go now
            return
        for doc in todo:
            done.add(doc.doc_id)
            try:
                data = read_file(source_path(rt, old, doc.doc_id, doc.name), rt.settings.max_file_mb * 2**20)
            except Exception as exc:  # noqa: BLE001 (its outcome says why; the others go on)
                yield failed(doc.name, f"the kept original: {exc}", doc.doc_id)
                continue
            yield from ingest_many(rt, new, [(doc.name, data)])
