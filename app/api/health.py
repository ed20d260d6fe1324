"""GET /api/health: is the app up, and is its reranker fit to rank?"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import RuntimeDep
from app.service.health import engine_health

router = APIRouter(tags=["health"])


class SelfTest(BaseModel):
    status: str = Field(description="ok | constant | inverted | inconsistent")
    ok: bool
    message: str
    pair_scores: list[list[float]] = Field(description="(relevant, irrelevant) score per built-in pair")


class HealthReply(BaseModel):
    state: str = Field(description="The reranker engine: off | not loaded | loading | ready | failed")
    model: str
    device: str
    ok: bool = Field(description="Ready and passed its self-test")
    reason: str = Field(description="What is wrong, in words; empty when nothing is")
    load_seconds: float | None
    selftest: SelfTest | None = Field(description="The self-test verdict; null until it has run on this engine")


@router.get("/api/health", response_model=HealthReply, summary="Reranker state, model, device, self-test verdict")
def health(rt: RuntimeDep) -> dict:
    """Answers at once: while the engine loads or self-tests, `selftest` is null."""
    return engine_health(rt).as_json()
