"""Python bytecode for the engine's packages, cached in the data dir when the install keeps none.

Starting the reranker imports some 6,000 modules (torch, its compiler stack, transformers, vLLM). Installed
the usual way they come with bytecode, but container images often ship without it and forbid writing it
(`PYTHONDONTWRITEBYTECODE=1`, read-only site-packages); then every start compiles those modules from
source again (seconds of the engine's start, docs/BENCHMARKS.md). `keep_bytecode_in` points Python's
bytecode cache at the data dir for exactly that case, so only the first start pays.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# Packages whose bytecode decides: the bulk of what the engine's start imports.
PROBES = ("torch", "vllm")


def keep_bytecode_in(data_dir: Path, probes: tuple[str, ...] = PROBES) -> bool:
    """Cache bytecode under `data_dir`/pycache if a probe package has none and Python could not write it
    next to the source; returns whether it did. A prefix the user set (PYTHONPYCACHEPREFIX) is kept."""
    if sys.pycache_prefix is not None or not any(_lacks_bytecode(p) for p in probes):
        return False
    sys.pycache_prefix = str(Path(data_dir).resolve() / "pycache")
    # The interpreter's own "no bytecode" flag protects the install; the data dir is ours to write.
    sys.dont_write_bytecode = False
    return True


def _lacks_bytecode(package: str) -> bool:
    """Whether importing `package` compiles it from source on every start (installed, no cached
    bytecode next to it, and none can be written there)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return False
    cached = Path(importlib.util.cache_from_source(spec.origin))
    if cached.exists():
        return False
    folder = cached.parent if cached.parent.is_dir() else cached.parent.parent
    return sys.dont_write_bytecode or not os.access(folder, os.W_OK)
