"""What `kb search`, `ingest`, `list` and `delete` do, by the running app when one answers, else here.

Each function returns the same plain objects either way (the API's JSON shapes), so the CLI prints the
same lines whichever did the work. In-process work imports the heavy stack (models, Chroma) only when
it runs.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from app.api_client import running_app
from app.config import Settings


def search(settings: Settings, kb: str, question: str, **params) -> dict:
    """`{"hits": [...], "rerank_note": str, "timings": {...}}`; params: instruction, top, recall,
    recall_mode, no_rerank (as `POST /api/search`)."""
    client = running_app(settings, "searching")
    if client is not None:
        return client.search(kb, question, **params)
    from app.service import search as service

    answer = service.run(
        runtime(settings), kb, question, instruction=params.get("instruction"), top_n=params.get("top"),
        recall_k=params.get("recall"), recall_mode=params.get("recall_mode"),
        rerank=not params.get("no_rerank"), context=False,
    )
    return answer.result.as_json()


def ingest(
    settings: Settings, kb: str, paths: list[Path], progress_for: Callable | None = None, follow_symlinks: bool = False
) -> Iterator[dict]:
    """One outcome (`summary` plus the IngestOutcome fields) per file, in order; progress only in-process.
    Links that leave a folder are skipped (an outcome says so) unless `follow_symlinks`."""
    client = running_app(settings, "ingesting")
    if client is not None:
        yield from client.ingest_paths(kb, paths, settings, follow_symlinks=follow_symlinks)
        return
    from app.service import documents

    for outcome in documents.ingest_files(runtime(settings), kb, paths, progress_for, follow_symlinks=follow_symlinks):
        yield {"summary": outcome.summary(), **outcome.as_json()}


def kb_summaries(settings: Settings) -> list[dict]:
    client = running_app(settings, "listing")
    if client is not None:
        return client.kbs()
    from app.service import kbs

    return [dataclasses.asdict(s) for s in kbs.summaries(runtime(settings))]


def documents(settings: Settings, kb: str) -> list[dict]:
    client = running_app(settings, "listing")
    if client is not None:
        return client.documents(kb)
    from app.service import documents as service

    return [dataclasses.asdict(d) for d in service.listing(runtime(settings), kb)]


def delete(settings: Settings, kb: str, doc: str) -> dict:
    """The deleted document."""
    client = running_app(settings, "deleting")
    if client is not None:
        return client.delete(kb, doc)
    from app.service import documents as service

    return dataclasses.asdict(service.delete(runtime(settings), kb, doc))


_RUNTIMES: list = []


def runtime(settings: Settings):
    """A runtime for work in this process; `close_runtimes()` stops its parse workers at exit."""
    from app.runtime import Runtime

    rt = Runtime(settings)
    # A second writer waits for the one holding the data dir (app.locks); say so, or a wait looks like a hang.
    rt.lock.on_wait = lambda message: print(message, file=sys.stderr, flush=True)
    _RUNTIMES.append(rt)
    return rt


def close_runtimes() -> None:
    while _RUNTIMES:
        _RUNTIMES.pop().close()
