"""Facts for the Status page and the health check: models, devices, engine state, store counts, self-test."""

from __future__ import annotations

from dataclasses import dataclass

from app.rerank.service import EngineState
from app.runtime import Runtime
from app.selftest import PAIRS as SELFTEST_PAIRS
from app.selftest import Verdict, run_selftest
from app.service import access

__all__ = ["SELFTEST_PAIRS", "embedding_facts", "reranker_facts", "selftest", "store_facts"]


@dataclass(frozen=True)
class RerankerFacts:
    backend: str
    model: str
    device: str
    state: EngineState
    error: str
    load_seconds: float | None


@dataclass(frozen=True)
class StoreFacts:
    location: str
    kbs: int
    documents: int
    chunks: int


def reranker_facts(rt: Runtime) -> RerankerFacts:
    service = rt.reranker
    if service.state == EngineState.OFF:
        return RerankerFacts(service.backend, "-", "-", "off", "", None)
    model = service.model or "(default: 4B with a CUDA GPU, 0.6B without; chosen when it loads)"
    device = service.device or "(known once loaded)"
    return RerankerFacts(service.backend, model, device, service.state, service.error, service.load_seconds)


def store_facts(rt: Runtime) -> StoreFacts:
    """Counts over the knowledge bases the user has a role on."""
    shown = set(access.visible(rt, [kb.name for kb in rt.catalog.list_kbs()]))
    kbs = [kb for kb in rt.catalog.list_kbs() if kb.name in shown]
    docs = [d for kb in kbs for d in rt.catalog.documents(kb)]
    return StoreFacts(rt.store.location, len(kbs), len(docs), sum(d.chunks for d in docs))


def embedding_facts(rt: Runtime) -> tuple[str, int]:
    """(model, dimension); loads the embedding model if it is not loaded yet."""
    return rt.settings.embed_model, rt.embedder.dim


def selftest(rt: Runtime, instruction: str | None) -> Verdict:
    """Score the built-in pairs with the app's reranker. Raises RerankerUnavailable if it cannot run."""
    return run_selftest(rt.reranker.score, instruction)
