"""Qwen3-Reranker backends behind one interface; the app uses `RerankService`."""

from app.rerank.base import Reranker
from app.rerank.remote import RemoteReranker
from app.rerank.service import EngineState, RerankService
from app.rerank.vllm_engine import VllmReranker

__all__ = ["EngineState", "Reranker", "RemoteReranker", "RerankService", "VllmReranker"]
