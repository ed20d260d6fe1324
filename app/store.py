"""Chunk vectors in ChromaDB: an embedded PersistentClient under the data dir, or a server.

One Chroma collection per knowledge base, named by the KB's stable key. We always pass our own
embeddings: Chroma's default embedding function downloads a model, which fails offline.

Embedded Chroma is not safe across processes: a PersistentClient keeps its HNSW indexes in memory and
never sees what another process wrote (its searches miss new chunks, return deleted ones, or fail with
"Error finding id"), and a stale client that writes would persist its old index over the new one
(chroma-core/chroma#3792). So every read and write runs under the data dir's lock (`app.locks`): writes
exclusively, one process at a time; before writing, a writer records a new token in
`<data dir>/chroma.generation`, and any client that finds a token other than the last one it saw (its
own writes update it) opens the store afresh before it reads or writes.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from app.catalog import KnowledgeBase
from app.config import Settings
from app.ids import version_of
from app.locks import data_dir_lock
from app.models import Chunk

# Chroma rejects larger batches (its limit is 5461 on this version).
MAX_BATCH = 5000


class VectorStore:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = data_dir_lock(settings.data_dir)
        self._swap = threading.Lock()  # a reopen replaces the client and the cached collections together
        self._collections: dict[str, object] = {}
        self._stamp_path = None if settings.chroma_host else settings.data_dir / "chroma.generation"
        self._seen: str | None = None
        if settings.chroma_host:
            self.location = f"server http://{settings.chroma_host}:{settings.chroma_port}"
        else:
            self.location = f"embedded at {settings.chroma_dir.resolve()}"
        with self._lock.read():
            self._seen = self._stamp()
            self._client = self._open()

    def _open(self):
        """A new client. In embedded mode never the process's cached one: another VectorStore of this
        process may hold it, opened before writes it has not seen."""
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient
        from chromadb.config import Settings as ChromaSettings

        settings = self._settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_host:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        # Chroma shares one System (with its in-memory indexes) per path within a process; clients handed
        # out before keep theirs.
        SharedSystemClient.clear_system_cache()
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)

    # ---- freshness across processes (embedded mode) ------------------------------------------------------

    def _stamp(self) -> str | None:
        if self._stamp_path is None:
            return None
        try:
            return self._stamp_path.read_text()
        except FileNotFoundError:
            return None

    def _refresh(self) -> None:
        """Open the store afresh if another process (or another VectorStore) has written since we looked."""
        if self._stamp_path is None:
            return
        stamp = self._stamp()
        if stamp == self._seen:
            return
        with self._swap:
            self._client = self._open()
            self._collections = {}
            self._seen = stamp

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock.read():
            self._refresh()
            yield

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock.write():
            self._refresh()
            if self._stamp_path is not None:
                # Before the first change: a reader that opens the store from now on knows it must reopen.
                stamp = f"{os.getpid()}-{uuid.uuid4().hex}"
                tmp = self._stamp_path.with_name(f".{self._stamp_path.name}.{os.getpid()}.tmp")
                tmp.write_text(stamp)
                os.replace(tmp, self._stamp_path)
                self._seen = stamp
            yield

    def _collection(self, kb: KnowledgeBase):
        # Looked up once per knowledge base and client: a lookup is a round trip in server mode. Keys are
        # never reused (a new or re-indexed KB gets a new one); a reopen (`_refresh`) clears the cache.
        with self._swap:
            collection = self._collections.get(kb.key)
            if collection is None:
                collection = self._client.get_or_create_collection(
                    kb.collection,
                    embedding_function=None,
                    metadata={"hnsw:space": "cosine", "embed_model": kb.embed_model, "embed_dim": kb.embed_dim},
                )
                self._collections[kb.key] = collection
            return collection

    def add(self, kb: KnowledgeBase, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        with self._writing():
            collection = self._collection(kb)
            self._add(collection, chunks, embeddings)

    @staticmethod
    def _add(collection, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        for start in range(0, len(chunks), MAX_BATCH):
            batch = chunks[start : start + MAX_BATCH]
            collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=embeddings[start : start + MAX_BATCH],
                documents=[c.text for c in batch],
                metadatas=[_metadata(c) for c in batch],
            )

    def delete_document(self, kb: KnowledgeBase, doc_id: str) -> None:
        with self._writing():
            self._collection(kb).delete(where={"doc_id": doc_id})

    def delete_versions(self, kb: KnowledgeBase, doc_id: str, versions: set[str]) -> None:
        """The chunks of some generations of a document (version keys, `app/ids.py`); others stay."""
        with self._writing():
            collection = self._collection(kb)
            ids = collection.get(where={"doc_id": doc_id}, include=[])["ids"]
            doomed = [cid for cid in ids if version_of(cid) in versions]
            for start in range(0, len(doomed), MAX_BATCH):
                collection.delete(ids=doomed[start : start + MAX_BATCH])

    def collection_keys(self) -> set[str]:
        """Keys of the knowledge bases that have a collection (to find those left by a crash)."""
        with self._reading():
            names = [c if isinstance(c, str) else c.name for c in self._client.list_collections()]
        return {name.removeprefix("kb_") for name in names if name.startswith("kb_")}

    def query(
        self, kb: KnowledgeBase, embedding: np.ndarray, k: int, exclude_doc_ids: Sequence[str] = ()
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity, best first."""
        with self._reading():
            result = self._collection(kb).query(
                query_embeddings=[embedding],
                n_results=k,
                where=_excluding(exclude_doc_ids),
                include=["documents", "metadatas", "distances"],
            )
        return [
            (_chunk(cid, text, meta), 1.0 - float(dist))
            for cid, text, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def query_ids(
        self, kb: KnowledgeBase, embedding: np.ndarray, k: int, exclude_doc_ids: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """Like `query`, ids only: (chunk id, cosine similarity), best first. Reading the chunks' text and
        metadata is most of a query's cost (~13 ms for 200 hits vs ~2 ms), so hybrid recall reads the
        lists as ids and fetches only the chunks it returns."""
        with self._reading():
            result = self._collection(kb).query(
                query_embeddings=[embedding], n_results=k, where=_excluding(exclude_doc_ids), include=["distances"]
            )
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def get(self, kb: KnowledgeBase, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, in the order asked (ids that do not exist are skipped)."""
        if not chunk_ids:
            return []
        with self._reading():
            result = self._collection(kb).get(ids=list(chunk_ids), include=["documents", "metadatas"])
        found = {
            cid: _chunk(cid, text, meta)
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        }
        return [found[cid] for cid in chunk_ids if cid in found]

    def document_chunks(self, kb: KnowledgeBase, doc_id: str) -> list[Chunk]:
        with self._reading():
            result = self._collection(kb).get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        chunks = [
            _chunk(cid, text, meta)
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: c.position)

    def iter_chunks(self, kb: KnowledgeBase, batch: int = MAX_BATCH) -> Iterator[Chunk]:
        offset = 0
        while True:
            with self._reading():  # per batch, not across the generator's yields
                result = self._collection(kb).get(limit=batch, offset=offset, include=["documents", "metadatas"])
            if not result["ids"]:
                return
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True):
                yield _chunk(cid, text, meta)
            offset += len(result["ids"])

    def drop(self, kb: KnowledgeBase) -> None:
        self.drop_key(kb.key)

    def drop_key(self, key: str) -> None:
        """The collection of the knowledge base with this key (no error if it has none)."""
        with self._writing():
            with self._swap:
                self._collections.pop(key, None)
            try:
                self._client.delete_collection(f"kb_{key}")
            except Exception as exc:  # chromadb raises different types per version when it is missing
                if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                    raise


def _excluding(doc_ids: Sequence[str]) -> dict | None:
    """A Chroma filter that leaves out the chunks of these documents (None: no filter)."""
    return {"doc_id": {"$nin": list(doc_ids)}} if doc_ids else None


def _metadata(c: Chunk) -> dict:
    meta = {
        "doc_id": c.doc_id,
        "doc_name": c.doc_name,
        "position": c.position,
        "char_start": c.char_start,
        "char_end": c.char_end,
    }
    # Chroma metadata values cannot be None: absent keys mean "no page".
    if c.page is not None:
        meta["page"] = c.page
    if c.section:  # absent: no heading above it (and chunks stored before sections existed)
        meta["section"] = c.section
    return meta


def _chunk(chunk_id: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        doc_name=meta["doc_name"],
        position=int(meta["position"]),
        text=text,
        page=meta.get("page"),
        char_start=int(meta.get("char_start", 0)),
        char_end=int(meta.get("char_end", 0)),
        section=meta.get("section", ""),
    )
