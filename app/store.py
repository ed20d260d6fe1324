"""Chunk vectors in ChromaDB: an embedded PersistentClient under the data dir, or a server.

One Chroma collection per knowledge base, named by the KB's stable key. We always pass our own
embeddings: Chroma's default embedding function downloads a model, which fails offline.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from app.catalog import KnowledgeBase
from app.config import Settings
from app.models import Chunk

# Chroma rejects larger batches (its limit is 5461 on this version).
MAX_BATCH = 5000


class VectorStore:
    def __init__(self, settings: Settings):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._collections: dict[str, object] = {}
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_host:
            self._client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
            self.location = f"server http://{settings.chroma_host}:{settings.chroma_port}"
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
            self.location = f"embedded at {settings.chroma_dir.resolve()}"

    def _collection(self, kb: KnowledgeBase):
        # Looked up once per knowledge base: a lookup is a round trip in server mode. Keys are never
        # reused (a new or re-indexed KB gets a new one), so a cached handle cannot go stale.
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
        collection = self._collection(kb)
        for start in range(0, len(chunks), MAX_BATCH):
            batch = chunks[start : start + MAX_BATCH]
            collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=embeddings[start : start + MAX_BATCH],
                documents=[c.text for c in batch],
                metadatas=[_metadata(c) for c in batch],
            )

    def delete_document(self, kb: KnowledgeBase, doc_id: str) -> None:
        self._collection(kb).delete(where={"doc_id": doc_id})

    def query(
        self, kb: KnowledgeBase, embedding: np.ndarray, k: int, exclude_doc_ids: Sequence[str] = ()
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity, best first."""
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
        result = self._collection(kb).query(
            query_embeddings=[embedding], n_results=k, where=_excluding(exclude_doc_ids), include=["distances"]
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def get(self, kb: KnowledgeBase, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, in the order asked (ids that do not exist are skipped)."""
        if not chunk_ids:
            return []
        result = self._collection(kb).get(ids=list(chunk_ids), include=["documents", "metadatas"])
        found = {
            cid: _chunk(cid, text, meta)
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        }
        return [found[cid] for cid in chunk_ids if cid in found]

    def document_chunks(self, kb: KnowledgeBase, doc_id: str) -> list[Chunk]:
        result = self._collection(kb).get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        chunks = [
            _chunk(cid, text, meta)
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: c.position)

    def iter_chunks(self, kb: KnowledgeBase, batch: int = MAX_BATCH) -> Iterator[Chunk]:
        collection = self._collection(kb)
        offset = 0
        while True:
            result = collection.get(limit=batch, offset=offset, include=["documents", "metadatas"])
            if not result["ids"]:
                return
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True):
                yield _chunk(cid, text, meta)
            offset += len(result["ids"])

    def drop(self, kb: KnowledgeBase) -> None:
        self._collections.pop(kb.key, None)
        try:
            self._client.delete_collection(kb.collection)
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
