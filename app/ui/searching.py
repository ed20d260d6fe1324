"""One search from the Search page: reranked results, plus recall order when the user compares."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import SearchResult
from app.runtime import Runtime
from app.search import search
from app.ui.sidebar import SearchOptions


@dataclass(frozen=True)
class SearchView:
    kb: str
    query: str
    result: SearchResult
    recall_only: SearchResult | None = None  # the same search without reranking, for the side-by-side view


def run_search(rt: Runtime, options: SearchOptions, query: str, recall_mode: str, compare: bool) -> SearchView:
    """Raises KBError (no such KB, empty query, ...) with a message for the user."""
    args = dict(
        instruction=options.instruction,
        top_n=options.top_n,
        recall_k=options.recall_k,
        recall_mode=recall_mode,
    )
    result = search(rt, options.kb, query, **args)
    recall_only = search(rt, options.kb, query, rerank=False, **args) if compare else None
    return SearchView(options.kb, query, result, recall_only)
