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
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from pathlib import Path

from app.bytecode import keep_bytecode_in
from app.config import RERANK_MODEL_CPU, RERANK_MODEL_GPU, Settings
from app.errors import KBError, RerankerUnavailable
from app.rerank.base import Reranker

HUB_URL = "https://huggingface.co"
HUB_CHECK_TIMEOUT_S = 3.0
# Requests `score_many` keeps in flight at once: the in-process engine's worker takes whatever is queued
# as one engine call, so a few concurrent requests fill its steps; a remote server batches them too.
SCORE_MANY_CONCURRENCY = 8


class EngineState(str, Enum):
    """Where `RerankService` stands. A `str`, so `state == "ready"` and JSON keep working; `str()` and
    f-strings give the value ("not loaded"), as they did when the state was a plain string."""

    OFF = "off"  # KB_RERANK_BACKEND=off
    NOT_LOADED = "not loaded"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"  # the reason is in `RerankService.error`; `retry()` forgets it

    def __str__(self) -> str:
        return self.value


def keep_caches_in(data_dir: Path) -> None:
    """What an engine start can reuse, under the data dir, so a restart of the app does: vLLM's compile
    cache (torch.compile artefacts, ~240 MB for the 4B model; VLLM_CACHE_ROOT, one the user set is kept)
    and, where the install keeps none, Python's bytecode (`app.bytecode`)."""
    os.environ.setdefault("VLLM_CACHE_ROOT", str(Path(data_dir).resolve() / "vllm-cache"))
    keep_bytecode_in(data_dir)


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
        self._pairs_scored = 0
        self._seconds_scoring = 0.0
        self.stage = ""  # while loading: what the engine is doing (app.rerank.stages)
        self.stage_history: list[tuple[str, float]] = []  # (stage, time.monotonic() it began), for benchmarks
        self.loading_since: float | None = None  # time.monotonic() when the load began
        if self.backend == "off":
            self.state = EngineState.OFF
        else:
            self.state = EngineState.READY if reranker is not None else EngineState.NOT_LOADED

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
            if self.state is EngineState.OFF:
                raise RerankerUnavailable("reranking is off (KB_RERANK_BACKEND=off)")
            if self.state is EngineState.FAILED:
                raise RerankerUnavailable(self.error)
            if self._reranker is None:
                self.state = EngineState.LOADING
                start = self.loading_since = time.monotonic()
                try:
                    self._reranker = self._load()
                except Exception as exc:
                    self.state = EngineState.FAILED
                    self.error = str(exc) if isinstance(exc, KBError) else f"reranker failed to load: {exc}"
                    raise RerankerUnavailable(self.error) from exc
                self.load_seconds = time.monotonic() - start
                self.state = EngineState.READY
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
            if self.state is EngineState.FAILED:
                self.state, self.error = EngineState.NOT_LOADED, ""

    def score(self, query: str, documents: list[str], instruction: str | None = None) -> list[float]:
        """P(yes) per document, in order. Raises RerankerUnavailable with the reason when it cannot."""
        reranker = self.ensure_loaded()
        started = time.perf_counter()
        try:
            scores = reranker.score(query, documents, instruction)
        except KBError:
            raise
        except Exception as exc:
            raise RerankerUnavailable(f"reranking failed: {exc}") from exc
        with self._lock:
            self._pairs_scored += len(documents)
            self._seconds_scoring += time.perf_counter() - started
        return scores

    def score_many(self, requests: list[tuple[str, list[str], str | None]]) -> list[list[float]]:
        """`score` for many (query, documents, instruction) at once, sent concurrently so that the engine
        batches them; one score list per request, in order."""
        if len(requests) <= 1:
            return [self.score(*r) for r in requests]
        self.ensure_loaded()
        with ThreadPoolExecutor(min(SCORE_MANY_CONCURRENCY, len(requests)), "rerank-many") as pool:
            return list(pool.map(lambda r: self.score(*r), requests))

    def pairs_per_second(self) -> float | None:
        """Pairs scored per second of `score` calls so far in this process (None before the first one):
        the rate of one caller, which is what the workbench's time estimates assume."""
        with self._lock:
            if self._seconds_scoring <= 0:
                return None
            return self._pairs_scored / self._seconds_scoring

    def close(self) -> None:
        with self._lock:
            if self._reranker is not None:
                self._reranker.close()
                self._reranker = None
            if self.state is EngineState.READY:
                self.state = EngineState.NOT_LOADED

    def _load(self) -> Reranker:
        s = self.settings
        self.model = self.model or default_model()
        if self.backend == "remote":
            from app.rerank.remote import RemoteReranker

            # Ask the server first: one that is down fails in milliseconds, before the tokenizer's
            # transformers import (5-7 s on two cores) is paid for nothing.
            probe = RemoteReranker(s.rerank_url, self.model, s.rerank_timeout_s)
            try:
                probe.check()
            finally:
                probe.close()
            return RemoteReranker(
                s.rerank_url,
                self.model,
                s.rerank_timeout_s,
                max_doc_tokens=s.max_doc_tokens,
                tokenizer=_local_tokenizer(self.model),
            )
        from app.rerank.stages import watching
        from app.rerank.vllm_engine import VllmReranker

        with watching(self._at_stage):
            return VllmReranker(
                locate_model(self.model),
                max_doc_tokens=s.max_doc_tokens,
                quantization=s.rerank_quantization,
                max_batched_tokens=s.rerank_max_batched_tokens,
                gpu_memory=s.rerank_gpu_memory,
                compile=s.rerank_compile == "on",
            )

    def _at_stage(self, stage: str) -> None:
        self.stage = stage
        self.stage_history.append((stage, time.monotonic()))

    def loading_note(self) -> str:
        """'loading weights, 12 s' while the engine starts ('' otherwise)."""
        if self.state is not EngineState.LOADING or self.loading_since is None:
            return ""
        return f"{self.stage or 'starting'}, {time.monotonic() - self.loading_since:.0f} s"


def _local_tokenizer(model: str):
    """The model's tokenizer if it is on this machine (for exact truncation), else None."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(locate_model(model), local_files_only=True)
    except Exception:  # no local copy: the remote server truncates nothing, documents go whole
        return None
