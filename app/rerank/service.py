"""What the app uses: picks the reranker backend, loads it once, and reports its state for the UI.

A model that cannot be loaded must fail in seconds with a plain reason, not hang in a download: the
model is located on disk or in the Hugging Face cache first, and the hub is only tried when a bounded
network check says it is reachable. A failed load is remembered so that every query does not retry
it; `retry()` forgets the failure.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from app.config import RERANK_MODEL_CPU, RERANK_MODEL_GPU, Settings
from app.errors import KBError, RerankerUnavailable
from app.rerank.base import Reranker

HUB_URL = "https://huggingface.co"
HUB_CHECK_TIMEOUT_S = 3.0


def default_model() -> str:
    """The 4B reranker with a CUDA GPU, the 0.6B one without."""
    import torch

    return RERANK_MODEL_GPU if torch.cuda.is_available() else RERANK_MODEL_CPU


def locate_model(model: str) -> str:
    """A local directory for `model` (a path or a hub id in the HF cache), or the hub id when the hub is
    reachable (vLLM downloads it). Raises RerankerUnavailable within seconds otherwise."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise RerankerUnavailable(f"{path} is not a model directory (it has no config.json)")
        return str(path)
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise RerankerUnavailable(f"reranker model directory {model} does not exist")
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model, local_files_only=True)
    except Exception:  # huggingface_hub raises several kinds for "not cached"; all mean the same here
        pass
    if _hub_reachable():
        return model
    raise RerankerUnavailable(
        f"model {model} is not available offline: not in the Hugging Face cache and no network "
        "(set KB_RERANK_MODEL to a local path)"
    )


def _hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    import httpx

    try:
        httpx.head(os.environ.get("HF_ENDPOINT", HUB_URL), timeout=HUB_CHECK_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return True


class RerankService:
    """The app's reranker: `score()` loads the backend on first use and raises RerankerUnavailable
    with a plain reason when it cannot be used.

    Args:
        settings: rerank_backend, rerank_model, rerank_url, ... are read from here.
        reranker: an already started reranker to use instead of building one (tests share one engine).
    """

    def __init__(self, settings: Settings, reranker: Reranker | None = None):
        self.settings = settings
        self.backend = settings.rerank_backend
        self.model = settings.rerank_model or getattr(reranker, "model", "")
        self.error = ""
        self.load_seconds: float | None = None
        self._reranker = reranker
        self._lock = threading.Lock()
        if self.backend == "off":
            self.state = "off"
        else:
            self.state = "ready" if reranker is not None else "not loaded"

    @property
    def device(self) -> str:
        if self.backend == "remote":
            return f"remote server {self.settings.rerank_url}"
        return getattr(self._reranker, "device", "")

    @property
    def engine(self) -> Reranker | None:
        """The loaded backend, or None; never loads (health checks key their self-test on it)."""
        return self._reranker if self.state == "ready" else None

    def ensure_loaded(self) -> Reranker:
        """Load the backend once (thread-safe) and return it; raise RerankerUnavailable if it cannot."""
        with self._lock:
            if self.state == "off":
                raise RerankerUnavailable("reranking is off (KB_RERANK_BACKEND=off)")
            if self.state == "failed":
                raise RerankerUnavailable(self.error)
            if self._reranker is None:
                self.state = "loading"
                start = time.monotonic()
                try:
                    self._reranker = self._load()
                except Exception as exc:
                    self.state = "failed"
                    self.error = str(exc) if isinstance(exc, KBError) else f"reranker failed to load: {exc}"
                    raise RerankerUnavailable(self.error) from exc
                self.load_seconds = time.monotonic() - start
                self.state = "ready"
            return self._reranker

    def start_loading(self) -> threading.Thread:
        """Load in a background thread (the page stays responsive); watch `state`."""

        def load() -> None:
            try:
                self.ensure_loaded()
            except RerankerUnavailable:
                pass  # remembered in state/error for the UI

        thread = threading.Thread(target=load, name="rerank-loader", daemon=True)
        thread.start()
        return thread

    def retry(self) -> None:
        """Forget a failed load so that the next `ensure_loaded()` tries again."""
        with self._lock:
            if self.state == "failed":
                self.state, self.error = "not loaded", ""

    def score(self, query: str, documents: list[str], instruction: str | None = None) -> list[float]:
        """P(yes) per document, in order. Raises RerankerUnavailable with the reason when it cannot."""
        reranker = self.ensure_loaded()
        try:
            return reranker.score(query, documents, instruction)
        except KBError:
            raise
        except Exception as exc:
            raise RerankerUnavailable(f"reranking failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._reranker is not None:
                self._reranker.close()
                self._reranker = None
            if self.state == "ready":
                self.state = "not loaded"

    def _load(self) -> Reranker:
        s = self.settings
        self.model = self.model or default_model()
        if self.backend == "remote":
            from app.rerank.remote import RemoteReranker

            remote = RemoteReranker(
                s.rerank_url,
                self.model,
                s.rerank_timeout_s,
                max_doc_tokens=s.max_doc_tokens,
                tokenizer=_local_tokenizer(self.model),
            )
            remote.check()
            return remote
        from app.rerank.vllm_engine import VllmReranker

        return VllmReranker(
            locate_model(self.model),
            max_doc_tokens=s.max_doc_tokens,
            quantization=s.rerank_quantization,
            max_batched_tokens=s.rerank_max_batched_tokens,
            gpu_memory=s.rerank_gpu_memory,
        )


def _local_tokenizer(model: str):
    """The model's tokenizer if it is on this machine (for exact truncation), else None."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(locate_model(model), local_files_only=True)
    except Exception:  # no local copy: the remote server truncates nothing, documents go whole
        return None
