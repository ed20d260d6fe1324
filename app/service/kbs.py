"""Knowledge bases: list with counts, create, rename, drop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.catalog import KnowledgeBase
from app.runtime import Runtime
from ingest.cleanup import recover_data_dir
from ingest.pipeline import IngestOutcome, drop_kb
from ingest.reindex import reindex_kb


@dataclass(frozen=True)
class KBSummary:
    name: str
    documents: int
    chunks: int
    embed_model: str
    embed_dim: int
    created_at: float


def names(rt: Runtime) -> list[str]:
    return [kb.name for kb in rt.catalog.list_kbs()]


def summaries(rt: Runtime) -> list[KBSummary]:
    out = []
    for kb in rt.catalog.list_kbs():
        docs = rt.catalog.documents(kb)
        out.append(
            KBSummary(kb.name, len(docs), sum(d.chunks for d in docs), kb.embed_model, kb.embed_dim, kb.created_at)
        )
    return out


def create(rt: Runtime, name: str) -> KnowledgeBase:
    """A new, empty knowledge base on the configured embedding model (loads it to learn its dimension)."""
    dim = rt.embedder.dim
    with rt.lock.write():
        recover_data_dir(rt)  # e.g. a drop of the same name that a crash interrupted
        return rt.catalog.create_kb(name, rt.settings.embed_model, dim)


def rename(rt: Runtime, old: str, new: str) -> KnowledgeBase:
    with rt.lock.write():
        recover_data_dir(rt)
        return rt.catalog.rename_kb(old, new)


def drop(rt: Runtime, name: str) -> None:
    """The knowledge base with its documents, vectors, BM25 index, kept files and presets."""
    drop_kb(rt, name)


def reindex(rt: Runtime, name: str) -> Iterator[IngestOutcome]:
    """Re-embed with the configured KB_EMBED_MODEL from the kept originals; one outcome per document."""
    return reindex_kb(rt, name)


def calibration_inputs(rt: Runtime, name: str) -> tuple[list[str], list[str | None]]:
    """What `kb rerank-fp8` calibrates on: every chunk's text, and the instructions the knowledge base is
    searched with (None for the default, then its saved presets)."""
    kb = rt.open_kb(name)
    return [chunk.text for chunk in rt.store.iter_chunks(kb)], [None, *rt.catalog.presets(kb).values()]
