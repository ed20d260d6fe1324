"""All settings in one place: each has a default, a `KB_` environment variable and a one-line description.

`load_settings()` reads the environment once and validates every value, so a bad setting fails at
start-up with a message that names the variable and the fix. Importing this module does no work.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import ConfigError

BUNDLED_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
RERANK_MODEL_GPU = "Qwen/Qwen3-Reranker-4B"
RERANK_MODEL_CPU = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"

RERANK_BACKENDS = ("vllm", "remote", "off")
RECALL_MODES = ("dense", "bm25", "hybrid")
QUANTIZATIONS = ("none", "fp8")
SECRET_SETTINGS = frozenset({"KB_API_TOKEN"})  # `kb config` says whether they are set, never their value
OCR_MODES = ("on", "tesseract", "off")
EMBED_BACKENDS = ("onnx", "torch")


def _setting(env: str, default, doc: str):
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting("KB_DATA_DIR", Path("./data"), "Where knowledge bases, indexes and uploads live.")
    embed_model: str = _setting(
        "KB_EMBED_MODEL",
        BUNDLED_EMBED_MODEL,
        "sentence-transformers model id or path; the default is the bundled all-MiniLM-L6-v2 (offline).",
    )
    embed_backend: str = _setting(
        "KB_EMBED_BACKEND",
        "onnx",
        "`onnx`: on CPU the embedder's transformer runs in ONNX Runtime where its export matches torch (else "
        "torch); `torch`: always torch.",
    )
    rerank_backend: str = _setting("KB_RERANK_BACKEND", "vllm", "Reranker: `vllm` (in-process), `remote` or `off`.")
    rerank_model: str = _setting(
        "KB_RERANK_MODEL",
        "",
        "Qwen3-Reranker id or local path; empty picks 4B with a CUDA GPU, 0.6B without.",
    )
    rerank_url: str = _setting(
        "KB_RERANK_URL", "http://127.0.0.1:8001", "Base URL of a `vllm serve` reranker (remote backend)."
    )
    rerank_timeout_s: float = _setting("KB_RERANK_TIMEOUT", 60.0, "Seconds to wait for the remote reranker.")
    rerank_quantization: str = _setting(
        "KB_RERANK_QUANTIZATION",
        "none",
        "`none` or `fp8` weights for the in-process vLLM engine (a `kb rerank-fp8` checkpoint is fp8 already: "
        "keep `none`).",
    )
    rerank_max_batched_tokens: int = _setting(
        "KB_RERANK_MAX_BATCHED_TOKENS",
        0,
        "vLLM max_num_batched_tokens for the reranker; 0: 65536 on a GPU of 70 GiB or more, else vLLM's default.",
    )
    rerank_compile: str = _setting(
        "KB_RERANK_COMPILE",
        "on",
        "`on`: torch.compile the GPU engine (11% faster ranking; a restart loads the compile cache from the data "
        "dir in about 1 s; warm start 23-26 s for the 4B model on an H200); `off`: run it eagerly, for a shorter "
        "first start where the data dir does not persist (docs/BENCHMARKS.md).",
    )
    rerank_gpu_memory: float = _setting(
        "KB_RERANK_GPU_MEMORY", 0.5, "Fraction of GPU memory the in-process vLLM engine may take."
    )
    max_doc_tokens: int = _setting(
        "KB_MAX_DOC_TOKENS", 1024, "Documents longer than this (reranker tokens) are truncated before reranking."
    )
    chunk_tokens: int = _setting("KB_CHUNK_TOKENS", 256, "Target chunk size in embedding-model tokens.")
    chunk_overlap: int = _setting("KB_CHUNK_OVERLAP", 32, "Tokens shared by neighbouring chunks.")
    ocr: str = _setting(
        "KB_OCR",
        "on",
        "PDF pages without a text layer (scans): `on` reads them by OCR (RapidOCR, English and Chinese), "
        "`tesseract` with Debian's tesseract-ocr (eng+chi_sim), `off` skips them.",
    )
    recall_k: int = _setting("KB_RECALL_K", 50, "Candidates recalled for the reranker.")
    top_n: int = _setting("KB_TOP_N", 5, "Results shown after reranking.")
    recall_mode: str = _setting("KB_RECALL_MODE", "hybrid", "Recall: `dense`, `bm25` or `hybrid`.")
    cjk_dense_weight: float = _setting(
        "KB_CJK_DENSE_WEIGHT",
        0.05,
        "Hybrid recall: dense weight for mostly-CJK queries, relative to others; the bundled MiniLM is "
        "English-only, set 1 with a multilingual embedder such as Qwen3-Embedding.",
    )
    prf_docs: int = _setting(
        "KB_PRF_DOCS",
        3,
        "Hybrid recall: the first round's top chunks used as pseudo-relevance feedback to expand the BM25 "
        "query (RM3); mostly-CJK queries are not expanded; 0 turns feedback off.",
    )
    parse_timeout_s: float = _setting(
        "KB_PARSE_TIMEOUT_S", 120.0, "Seconds one file may take to parse and chunk; a slower file is stopped, reported."
    )
    parse_max_mb: int = _setting(
        "KB_PARSE_MAX_MB", 2048, "Memory (MB of address space) one file's parser may use; over it the file is reported."
    )
    parse_workers: int = _setting("KB_PARSE_WORKERS", 2, "Parser processes working on files at the same time.")
    max_file_mb: int = _setting(
        "KB_MAX_FILE_MB", 200, "Largest file accepted (MB); a larger one is refused before it is read."
    )
    max_batch_files: int = _setting(
        "KB_MAX_BATCH_FILES", 5000, "Most files one upload or `kb ingest` may add; a larger batch is refused whole."
    )
    max_batch_mb: int = _setting(
        "KB_MAX_BATCH_MB", 4096, "Most MB one upload or `kb ingest` may add; a larger batch is refused whole."
    )
    chroma_host: str = _setting(
        "KB_CHROMA_HOST", "", "ChromaDB server host; empty uses an embedded store in the data dir."
    )
    chroma_port: int = _setting("KB_CHROMA_PORT", 8000, "ChromaDB server port.")
    api_host: str = _setting(
        "KB_API_HOST", "127.0.0.1", "Address the REST API listens on; beyond loopback it needs KB_API_TOKEN."
    )
    api_port: int = _setting("KB_API_PORT", 8502, "Port of the REST API that `kb serve` starts next to the app.")
    api_token: str = _setting(
        "KB_API_TOKEN", "", "Bearer token the API requires when set (and always beyond loopback); the CLI sends it."
    )
    api_url: str = _setting(
        "KB_API_URL", "", "Where the CLI looks for a running app; empty: http://127.0.0.1:KB_API_PORT."
    )
    admins: str = _setting(
        "KB_ADMINS",
        "",
        "With sign-in on: comma-separated e-mails of the admins (create and drop KBs, grant roles, audit log).",
    )
    api_max_body_mb: int = _setting(
        "KB_API_MAX_BODY_MB", 200, "Largest API request body in megabytes (uploads); larger ones get 413."
    )

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def admin_emails(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.admins.split(",") if e.strip())

    @property
    def api_base_url(self) -> str:
        """The URL the CLI probes for a running app (KB_API_URL, or loopback on KB_API_PORT)."""
        return (self.api_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    def kb_dir(self, kb_key: str) -> Path:
        """Per-knowledge-base files (original uploads, BM25 index), keyed by the KB's stable id."""
        return self.data_dir / "kbs" / kb_key


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the README and `kb config`."""
    return [(f.metadata["env"], str(f.default), f.metadata["doc"]) for f in dataclasses.fields(Settings)]


def load_settings(env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Build validated settings from `KB_*` variables (default: the process environment).

    Keyword overrides win over the environment (the CLI uses them for flags).
    """
    env = os.environ if env is None else env
    values = {}
    for f in dataclasses.fields(Settings):
        raw = env.get(f.metadata["env"])
        if raw is not None and raw.strip() != "":
            values[f.name] = _parse(f, raw.strip())
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    _validate(settings)
    return settings


def _parse(f: dataclasses.Field, raw: str):
    kind = type(f.default)
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(
            f"{f.metadata['env']}={raw!r} is not a valid {kind.__name__}; unset it or give a number."
        ) from None


def _validate(s: Settings) -> None:
    def choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise ConfigError(f"{name}={value!r} is not supported; use one of: {', '.join(allowed)}.")

    choice("KB_RERANK_BACKEND", s.rerank_backend, RERANK_BACKENDS)
    choice("KB_RECALL_MODE", s.recall_mode, RECALL_MODES)
    choice("KB_RERANK_QUANTIZATION", s.rerank_quantization, QUANTIZATIONS)
    choice("KB_RERANK_COMPILE", s.rerank_compile, ("on", "off"))
    choice("KB_OCR", s.ocr, OCR_MODES)
    choice("KB_EMBED_BACKEND", s.embed_backend, EMBED_BACKENDS)
    positive = {
        "KB_CHUNK_TOKENS": s.chunk_tokens,
        "KB_RECALL_K": s.recall_k,
        "KB_TOP_N": s.top_n,
        "KB_MAX_DOC_TOKENS": s.max_doc_tokens,
        "KB_CHROMA_PORT": s.chroma_port,
        "KB_PARSE_TIMEOUT_S": s.parse_timeout_s,
        "KB_PARSE_WORKERS": s.parse_workers,
        "KB_MAX_FILE_MB": s.max_file_mb,
        "KB_MAX_BATCH_FILES": s.max_batch_files,
        "KB_MAX_BATCH_MB": s.max_batch_mb,
        "KB_API_MAX_BODY_MB": s.api_max_body_mb,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name} must be positive (got {value}).")
    if not 0 <= s.chunk_overlap < s.chunk_tokens:
        raise ConfigError(
            f"KB_CHUNK_OVERLAP ({s.chunk_overlap}) must be at least 0 and less than KB_CHUNK_TOKENS ({s.chunk_tokens})."
        )
    if s.max_doc_tokens < 32:
        raise ConfigError("KB_MAX_DOC_TOKENS must be at least 32 so a document keeps some text after truncation.")
    if s.prf_docs < 0:
        raise ConfigError("KB_PRF_DOCS must be at least 0 (0 turns pseudo-relevance feedback off).")
    if s.cjk_dense_weight < 0:
        raise ConfigError("KB_CJK_DENSE_WEIGHT must be at least 0 (0 ignores the embedder for CJK queries).")
    if s.parse_max_mb < 256:
        raise ConfigError(f"KB_PARSE_MAX_MB must be at least 256 (got {s.parse_max_mb}): a parser needs about 150 MB.")
    if not 0 < s.rerank_gpu_memory <= 1:
        raise ConfigError("KB_RERANK_GPU_MEMORY is a fraction: give a value in (0, 1].")
    if not 0 < s.api_port < 65536:
        raise ConfigError(f"KB_API_PORT must be a TCP port between 1 and 65535 (got {s.api_port}).")
    if s.api_url and not s.api_url.startswith(("http://", "https://")):
        raise ConfigError("KB_API_URL must start with http:// or https:// (or be empty for loopback).")
    if any("@" not in e for e in s.admin_emails):
        raise ConfigError(f"KB_ADMINS={s.admins!r} must list e-mail addresses, separated by commas.")
    if not s.api_token and not is_loopback(s.api_host):
        raise ConfigError(
            f"KB_API_HOST={s.api_host} exposes the API beyond this machine: set KB_API_TOKEN to a secret "
            "(e.g. `export KB_API_TOKEN=$(openssl rand -hex 32)`), or keep KB_API_HOST=127.0.0.1."
        )
    if s.rerank_backend == "remote" and not s.rerank_url.startswith(("http://", "https://")):
        raise ConfigError("KB_RERANK_URL must start with http:// or https:// for the remote reranker.")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False
