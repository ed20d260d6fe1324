"""GET /api/kbs: the knowledge bases with their counts."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import RuntimeDep
from app.service import kbs
from app.service.kbs import KBSummary

router = APIRouter(tags=["knowledge bases"])


class KBList(BaseModel):
    kbs: list[KBSummary]


@router.get("/api/kbs", response_model=KBList, summary="List knowledge bases")
def list_kbs(rt: RuntimeDep) -> KBList:
    return KBList(kbs=kbs.summaries(rt))
