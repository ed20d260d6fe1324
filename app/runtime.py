"""The heavy resources of one process, each passed in or built on first use, then shared.

Every front end builds its runtime the same way: `Runtime(settings, embedder=..., reranker=...)`.
The CLI passes nothing (each resource is built from the settings when first needed); the Streamlit
app passes the process-wide cached models (`app/ui/resources.py`); tests and `kb eval` pass models
they already loaded. Everything here is safe to share between threads: the catalog opens a
connection per call, the embedder and reranker guard their models, and Chroma clients are
thread-safe.

`rt.user` is who acts (None: single-user mode, no sign-in); `rt.as_user(user)` is the same runtime
acting for a signed-in person, sharing every resource (the service layer checks roles against it).
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Protocol

import numpy as np

from app.access import AccessStore, User
from app.catalog import Catalog, KnowledgeBase
from app.config import Settings, load_settings
from app.errors import EmbeddingModelMismatch, KnowledgeBaseNotFound
from app.locks import DataDirLock, data_dir_lock
from app.query_history import QueryHistory

if TYPE_CHECKING:
    from app.lexical import LexicalIndex
    from app.rerank.service import RerankService
    from app.store import VectorStore
    from ingest.pool import ParsePool


class TextEmbedder(Protocol):
    """What ingest and recall need of an embedding model (`app.embed.Embedder` is the real one)."""

    name: str
    dim: int

    @property
    def tokenizer(self): ...

    def encode_documents(self, texts: list[str]) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


class Runtime:
    """Args:
        settings: the configuration (default: the `KB_*` environment).
        embedder, store, reranker: already built resources to use; each one left out is built from
            `settings` the first time it is used (loading a model takes seconds, so nothing loads early).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: TextEmbedder | None = None,
        store: VectorStore | None = None,
        reranker: RerankService | None = None,
    ):
        self.settings = settings or load_settings()
        self.catalog = Catalog(self.settings.catalog_path)
        # One writer per data dir across processes; searches read whole writes only (app/locks.py).
        self.lock: DataDirLock = data_dir_lock(self.settings.data_dir)
        self.access = AccessStore(self.settings.catalog_path)
        self.query_history = QueryHistory(self.catalog)  # what recall measured of each KB's recent queries
        self.user: User | None = None
        # One dict for every view made by as_user: a resource built through one is built for all.
        self._resources: dict[str, object] = {
            "embedder": embedder, "store": store, "reranker": reranker, "parser": None,
        }
        self._build_lock = threading.Lock()  # held while a model loads: two threads never build one twice
        self._lexical_lock = threading.Lock()
        self._lexical: dict[str, LexicalIndex] = {}

    @property
    def embedder(self) -> TextEmbedder:
        def build():
            from app.embed import Embedder

            return Embedder(self.settings.embed_model, backend=self.settings.embed_backend)

        return self._built("embedder", build)

    @property
    def store(self) -> VectorStore:
        def build():
            from app.store import VectorStore

            return VectorStore(self.settings)

        return self._built("store", build)

    @property
    def reranker(self) -> RerankService:
        def build():
            from app.rerank.service import RerankService

            return RerankService(self.settings)

        return self._built("reranker", build)

    def _built(self, name: str, build):
        """The resource `name`, built by `build()` the first time (imports stay lazy: import does no work)."""
        with self._build_lock:
            if self._resources[name] is None:
                self._resources[name] = build()
            return self._resources[name]

    def as_user(self, user: User | None) -> Runtime:
        """This runtime acting for `user`: a shallow copy, so models, clients, locks and indexes are shared."""
        view = copy.copy(self)
        view.user = user
        return view

    @property
    def parser(self) -> ParsePool:
        """The parse worker processes (started on first use; `close()` stops them)."""
        with self._build_lock:
            if self._resources["parser"] is None:
                import atexit

                from ingest.pool import ParsePool

                parser = ParsePool(self.settings, tokenizer=self._tokenizer_spec)
                atexit.register(parser.close)
                self._resources["parser"] = parser
            return self._resources["parser"]

    def _tokenizer_spec(self) -> dict:
        """What the parse workers load to count tokens: the tokenizer of the embedder given to this
        runtime, else the configured model's tokenizer.json (no model load), else the model's."""
        from ingest.pool import serialized, tokenizer_file

        if self._resources["embedder"] is None:
            path = tokenizer_file(self.settings.embed_model)
            if path:
                return {"file": path}
        return serialized(self.embedder.tokenizer)

    def close(self) -> None:
        """Write the query history not written yet and stop the parse workers (the models stay: other
        runtimes may share them)."""
        self.query_history.flush()
        with self._build_lock:
            parser, self._resources["parser"] = self._resources["parser"], None
        if parser is not None:
            parser.close()

    def lexical(self, kb: KnowledgeBase) -> LexicalIndex:
        """The BM25 index of a knowledge base, opened once per process."""
        from app.lexical import LexicalIndex

        with self._lexical_lock:
            if kb.key not in self._lexical:
                self._lexical[kb.key] = LexicalIndex(self.settings.kb_dir(kb.key) / "bm25")
            return self._lexical[kb.key]

    def forget_lexical(self, key: str) -> None:
        """Drop the open BM25 index of the knowledge base with this key (its folder is being removed)."""
        with self._lexical_lock:
            self._lexical.pop(key, None)

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
        """The knowledge base, created if missing; two processes that create it at once get the same one."""
        try:
            return self.open_kb(name)
        except KnowledgeBaseNotFound:
            dim = self.embedder.dim  # loads the model: not while holding the lock
        with self.lock.write():
            kb = self.catalog.ensure_kb(name, self.settings.embed_model, dim)
        return self.open_kb(kb.name)
