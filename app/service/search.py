"""A question answered with everything a result card shows, read once per search.

The Search page draws its cards on every rerun; the neighbouring chunks and whether each original file
is still kept are fetched here, once, in one vector-store read, instead of once per card per rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.ids import neighbour_id
from app.models import Chunk, SearchResult
from app.runtime import Runtime
from app.search import search
from app.service import access
from app.service.documents import kept_originals
from app.service.presets import default_instruction


@dataclass(frozen=True)
class Neighbours:
    before: Chunk | None  # None at the start of the document
    after: Chunk | None  # None at its end


@dataclass(frozen=True)
class SearchAnswer:
    kb: str
    query: str
    result: SearchResult
    neighbours: dict[str, Neighbours] = field(default_factory=dict)  # chunk id -> the chunks around it
    originals: dict[str, Path] = field(default_factory=dict)  # doc id -> kept original (absent if gone)


def run(
    rt: Runtime,
    kb_name: str,
    query: str,
    *,
    instruction: str | None = None,
    top_n: int | None = None,
    recall_k: int | None = None,
    recall_mode: str | None = None,
    rerank: bool = True,
    wait_for_reranker: bool = True,
    context: bool = True,
) -> SearchAnswer:
    """`app.search.search` plus, with `context`, the neighbours and kept originals of every hit shown
    (the reranked hits and the recall-order hits). Without an `instruction`, the knowledge base's default
    (see `app.service.presets.default_instruction`). Raises KBError with a message for the user."""
    access.require(rt, kb_name, access.VIEWER, "search it")
    if not (instruction or "").strip():
        instruction = default_instruction(rt, kb_name)[1]
    result = search(
        rt, kb_name, query, instruction=instruction, top_n=top_n, recall_k=recall_k,
        recall_mode=recall_mode, rerank=rerank, wait_for_reranker=wait_for_reranker,
    )
    if not context:
        return SearchAnswer(kb_name, query, result)
    shown = {h.chunk.chunk_id: h.chunk for h in [*result.hits, *result.recall_hits]}
    kb = rt.open_kb(kb_name)
    return SearchAnswer(
        kb_name,
        query,
        result,
        neighbours=_neighbours(rt, kb, list(shown.values())),
        originals=kept_originals(rt, kb, {c.doc_id: c.doc_name for c in shown.values()}),
    )


def _neighbours(rt: Runtime, kb, chunks: list[Chunk]) -> dict[str, Neighbours]:
    # A chunk id ends in its position (app/ids.py): the neighbours are found by id, in one read.
    def around(c: Chunk) -> tuple[str, str]:
        return neighbour_id(c.chunk_id, c.position - 1), neighbour_id(c.chunk_id, c.position + 1)

    wanted = [cid for c in chunks for cid in around(c)]
    found = {c.chunk_id: c for c in rt.store.get(kb, list(dict.fromkeys(wanted)))}
    return {c.chunk_id: Neighbours(*(found.get(cid) for cid in around(c))) for c in chunks}
