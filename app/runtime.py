"""The heavy resources of one process, each built on first use and then shared.

The CLI makes one Runtime per command; the Streamlit app keeps one per process behind
`st.cache_resource`. Everything here is safe to share between threads: the catalog opens a
connection per call, the embedder and reranker guard their models, and Chroma clients are
thread-safe.
"""

from __future__ import annotations

import threading
from functools import cached_property

from app.catalog import Catalog, KnowledgeBase
from app.config import Settings, load_settings
from app.errors import EmbeddingModelMismatch


class Runtime:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        self._lock = threading.Lock()
        self._lexical: dict[str, object] = {}

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog_path)

    @cached_property
    def store(self):
        from app.store import VectorStore

        return VectorStore(self.settings)

    @cached_property
    def embedder(self):
        from app.embed import Embedder

        return Embedder(self.settings.embed_model)

    @cached_property
    def reranker(self):
        from app.rerank.service import RerankService

        return RerankService(self.settings)

    def lexical(self, kb: KnowledgeBase):
        """The BM25 index of a knowledge base, opened once per process."""
        from app.lexical import LexicalIndex

        with self._lock:
            if kb.key not in self._lexical:
                self._lexical[kb.key] = LexicalIndex(self.settings.kb_dir(kb.key) / "bm25")
            return self._lexical[kb.key]

    def forget_lexical(self, kb: KnowledgeBase) -> None:
        with self._lock:
            self._lexical.pop(kb.key, None)

    def open_kb(self, name: str) -> KnowledgeBase:
        """The knowledge base, checked against the configured embedding model."""
        kb = self.catalog.get_kb(name)
        if kb.embed_model != self.settings.embed_model:
            raise EmbeddingModelMismatch(
                f"Knowledge base {kb.name!r} was indexed with {kb.embed_model} ({kb.embed_dim}-d), "
                f"but KB_EMBED_MODEL is {self.settings.embed_model}. Either set "
                f"KB_EMBED_MODEL={kb.embed_model}, or re-index it with the new model: "
                f"`kb reindex --kb {kb.name}`."
            )
        return kb

    def open_or_create_kb(self, name: str) -> KnowledgeBase:
        from app.errors import KnowledgeBaseNotFound

        try:
            return self.open_kb(name)
        except KnowledgeBaseNotFound:
            return self.catalog.create_kb(name, self.settings.embed_model, self.embedder.dim)
