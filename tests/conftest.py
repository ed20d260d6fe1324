"""Shared fixtures. Component fixtures live in their own plugin modules, listed here."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

# In-process vLLM engine, small KV cache, no telemetry: set before anything imports vllm.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.fixtures_models", "tests.fixtures_rerank", "tests.fixtures_docs"]

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Every test gets its own data dir and no stray KB_* settings from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("KB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    # The CLI looks for a running app on KB_API_PORT: a port nothing listens on, so no test reaches an app
    # someone else started (a test that serves one passes its own port).
    monkeypatch.setenv("KB_API_PORT", str(free_port()))


def stored_doc_ids(rt, kb) -> set[str]:
    """The documents that have chunks in the vector store."""
    return {c.doc_id for c in rt.store.iter_chunks(kb)}


def stored_chunks(rt, kb) -> int:
    """How many chunks the vector store holds for `kb`."""
    return sum(1 for _ in rt.store.iter_chunks(kb))


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
