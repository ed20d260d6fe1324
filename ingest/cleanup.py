"""Deleting documents, dropping knowledge bases, and finishing what a crash interrupted.

Every removal follows the order that makes a crash harmless: first one catalog transaction hides the
thing (a document becomes `deleting`, a knowledge base `dropping`): from then on no list or search shows
it. Then its vectors, BM25 entries and files go, each step tolerating the ones already done; the catalog
rows go last. Whatever moment the process dies, the thing is either fully there or hidden, and the next
writer (`recover`, `recover_data_dir`, or the same command run again) finishes the job. Everything here
runs under the data dir's write lock (`app.locks`), so no other writer is half-way through anything
these functions remove.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from app.catalog import KB_READY, KnowledgeBase
from app.ids import version_key
from app.models import Document
from app.runtime import Runtime
from ingest.details import details_path

log = logging.getLogger(__name__)


def delete_document(rt: Runtime, kb_name: str, name_or_id: str) -> Document:
    """Delete a document by name or id; a document whose deletion was interrupted is finished."""
    with rt.lock.write():
        kb = rt.open_kb(kb_name)
        doc = rt.catalog.find_document(kb, name_or_id, include_deleting=True)
        rt.catalog.mark_deleting(kb, doc.doc_id)
        discard(rt, kb, doc.doc_id)
        recover(rt, kb)  # e.g. an older version of the same file left `deleting` by a crash
    return doc


def drop_kb(rt: Runtime, kb_name: str) -> None:
    """The knowledge base with everything in it; a drop that was interrupted is finished."""
    with rt.lock.write():
        remove_kb(rt, rt.catalog.get_kb(kb_name, include_dropping=True))
        recover_data_dir(rt)


def remove_kb(rt: Runtime, kb: KnowledgeBase) -> None:
    """Hide the knowledge base (one transaction), then remove its vectors, BM25 index and kept files, then
    its catalog rows. The caller holds the write lock."""
    rt.catalog.mark_dropping(kb)
    _remove_kb_data(rt, kb.key)
    rt.catalog.delete_kb(kb)


def recover_data_dir(rt: Runtime) -> None:
    """Finish interrupted drops and remove what belongs to no knowledge base: `kbs/<key>` folders and
    (embedded store only: a server may hold other data dirs' collections) vector collections. The
    caller holds the write lock."""
    for kb in rt.catalog.list_kbs(include_dropping=True):
        if kb.state != KB_READY:
            remove_kb(rt, kb)
    keys = {kb.key for kb in rt.catalog.list_kbs(include_dropping=True)}
    kbs_dir = rt.settings.data_dir / "kbs"
    if kbs_dir.is_dir():
        for folder in kbs_dir.iterdir():
            if folder.name not in keys:
                _remove_kb_data(rt, folder.name, store=False)
    if not rt.settings.chroma_host and rt.settings.chroma_dir.exists():
        for key in rt.store.collection_keys() - keys:
            rt.store.drop_key(key)


def recover(rt: Runtime, kb: KnowledgeBase) -> list[str]:
    """Remove what interrupted writes left in a knowledge base: documents that are not ready, chunk
    generations that are not visible, BM25 entries and kept files that belong to no document. Returns the
    ids of the documents removed. The caller holds the write lock (or this takes it)."""
    with rt.lock.write():
        hidden = rt.catalog.hidden_doc_ids(kb)
        for doc_id in hidden:
            discard(rt, kb, doc_id)
        for doc_id, generation in rt.catalog.hidden_generations(kb):
            discard_generation(rt, kb, doc_id, generation)
        lexical = rt.lexical(kb)
        for stray in lexical.doc_ids() - rt.catalog.visible_versions(kb):
            lexical.remove(stray)
        files = rt.settings.kb_dir(kb.key) / "files"
        if files.is_dir():
            known = {d.doc_id for d in rt.catalog.documents(kb, status=None)}
            for path in files.iterdir():
                if path.name.split(".", 1)[0] not in known or path.suffix == ".tmp":  # .tmp: a write cut short
                    path.unlink(missing_ok=True)
        return hidden


def discard(rt: Runtime, kb: KnowledgeBase, doc_id: str) -> None:
    """Remove every trace of a document; each step tolerates the ones a crash never reached."""
    doc = rt.catalog.get_document(kb, doc_id)
    rt.store.delete_document(kb, doc_id)
    lexical = rt.lexical(kb)
    keys = {doc_id} | {version_key(d, g) for d, g in rt.catalog.hidden_generations(kb) if d == doc_id}
    if doc is not None:
        keys.add(version_key(doc_id, doc.generation))
    for key in sorted(keys):
        lexical.remove(key)
    if doc is not None:
        source = source_path(rt, kb, doc_id, doc.name)
        source.unlink(missing_ok=True)
        details_path(source).unlink(missing_ok=True)
    rt.catalog.forget_document(kb, doc_id)


def discard_quietly(rt: Runtime, kb: KnowledgeBase, doc_ids: list[str]) -> None:
    """`discard` after a failed write: what cannot be removed now stays hidden for `recover`."""
    for doc_id in doc_ids:
        try:
            discard(rt, kb, doc_id)
        except Exception:  # noqa: BLE001 (the write's own failure is what the user is told)
            log.warning("cleaning up after a failed write of %s failed; the next writer retries", doc_id, exc_info=True)


def discard_generation(rt: Runtime, kb: KnowledgeBase, doc_id: str, generation: int) -> None:
    """Remove one chunk generation of a document (the replaced one after a re-ingest, or a new one whose
    write failed), keeping the document and its visible generation."""
    key = version_key(doc_id, generation)
    rt.store.delete_versions(kb, doc_id, {key})
    rt.lexical(kb).remove(key)
    rt.catalog.forget_generation(kb, doc_id, generation)


def source_path(rt: Runtime, kb: KnowledgeBase, doc_id: str, name: str) -> Path:
    """Where the original bytes are kept (for download and re-indexing)."""
    return rt.settings.kb_dir(kb.key) / "files" / f"{doc_id}{Path(name).suffix.lower()}"


def _remove_kb_data(rt: Runtime, key: str, store: bool = True) -> None:
    if store:
        rt.store.drop_key(key)
    rt.forget_lexical(key)
    shutil.rmtree(rt.settings.kb_dir(key), ignore_errors=True)


__all__ = ["delete_document", "discard", "drop_kb", "recover", "recover_data_dir", "remove_kb"]
