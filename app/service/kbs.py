"""Knowledge bases: list with counts (only those the user has a role on), create, rename, drop (admins)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.catalog import KnowledgeBase
from app.runtime import Runtime
from app.service import access
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
    return access.visible(rt, [kb.name for kb in rt.catalog.list_kbs()])


def summaries(rt: Runtime) -> list[KBSummary]:
    out = []
    shown = set(names(rt))
    for kb in (kb for kb in rt.catalog.list_kbs() if kb.name in shown):
        docs = rt.catalog.documents(kb)
        out.append(
            KBSummary(kb.name, len(docs), sum(d.chunks for d in docs), kb.embed_model, kb.embed_dim, kb.created_at)
        )
    return out


def create(rt: Runtime, name: str) -> KnowledgeBase:
    """A new, empty knowledge base on the configured embedding model (loads it to learn its dimension)."""
    access.require_admin(rt, "create knowledge bases")
    dim = rt.embedder.dim
    with rt.lock.write():
        recover_data_dir(rt)  # e.g. a drop of the same name that a crash interrupted
        kb = rt.catalog.create_kb(name, rt.settings.embed_model, dim)
    access.record(rt, "kb create", kb.name)
    return kb


def rename(rt: Runtime, old: str, new: str) -> KnowledgeBase:
    access.require_admin(rt, "rename knowledge bases")
    with rt.lock.write():
        recover_data_dir(rt)
        kb = rt.catalog.rename_kb(old, new)
        rt.access.rename_kb(old, kb.name)  # under the same lock: no writer sees the roles half moved
    access.record(rt, "kb rename", kb.name, detail=f"{old} -> {kb.name}")
    return kb


def drop(rt: Runtime, name: str) -> None:
    """The knowledge base with its documents, vectors, BM25 index, kept files, presets and roles."""
    access.require_admin(rt, "delete knowledge bases")
    drop_kb(rt, name)
    rt.access.forget_kb(name)
    access.record(rt, "kb drop", name)


def reindex(rt: Runtime, name: str) -> Iterator[IngestOutcome]:
    """Re-embed with the configured KB_EMBED_MODEL from the kept originals; one outcome per document."""
    access.require_admin(rt, "re-index knowledge bases")
    yield from reindex_kb(rt, name)
    access.record(rt, "kb reindex", name, detail=f"with {rt.settings.embed_model}")


def calibration_inputs(rt: Runtime, name: str) -> tuple[list[str], list[str | None]]:
    """What `kb rerank-fp8` calibrates on: every chunk's text, and the instructions the knowledge base is
    searched with (None for the default, then its saved presets)."""
    access.require(rt, name, access.VIEWER, "read its chunks")
    kb = rt.open_kb(name)
    return [chunk.text for chunk in rt.store.iter_chunks(kb)], [None, *rt.catalog.presets(kb).values()]
