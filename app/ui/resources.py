"""The app's one module of `st.cache_resource` getters: everything heavy, built once per process.

Every session shares these objects, so they are used read-only; the objects guard themselves (the
embedder and reranker take a lock, the catalog opens a connection per call). The embedding model and
the reranker engine are cached on their own settings rather than the whole configuration: a process
normally has one of each, and tests that open several data dirs in one process still load each model
once. Per-user state (chosen knowledge base, instruction, results) lives in `st.session_state`.
"""

from __future__ import annotations

import atexit
import dataclasses

import streamlit as st

from app.config import Settings, load_settings
from app.rerank.service import EngineState, RerankService, keep_caches_in
from app.runtime import Runtime
from app.ui import signin


@st.cache_resource(show_spinner=False)
def _embedder(model: str, backend: str):
    from app.embed import Embedder

    return Embedder(model, backend=backend)


@st.cache_resource(show_spinner=False)
def _rerank_service(rerank_settings: Settings) -> RerankService:
    return RerankService(rerank_settings)


@st.cache_resource(show_spinner=False)
def _runtime(settings: Settings) -> Runtime:
    keep_caches_in(settings.data_dir)
    # Only the reranker's own settings pick the engine: the data dir does not change it.
    reranker = _rerank_service(dataclasses.replace(settings, data_dir=Settings.data_dir))
    rt = Runtime(settings, embedder=_embedder(settings.embed_model, settings.embed_backend), reranker=reranker)
    _BUILT.append(rt)
    return rt


_BUILT: list[Runtime] = []


def close_runtimes() -> None:
    """Close every runtime this process built (`Runtime.close`: the query history written, the parse workers
    stopped): the server is stopping. `kb serve`'s lifespan calls this; atexit covers `streamlit run`."""
    while _BUILT:
        _BUILT.pop().close()


atexit.register(close_runtimes)


def runtime() -> Runtime:
    """The process's Runtime for the configuration in the environment (KB_* variables), acting for the
    signed-in user (app/ui/signin.py)."""
    return signin.acting(_runtime(load_settings()))


@st.cache_resource(show_spinner=False)
def api_server():
    """The process's REST API, started once (app/serve.py calls this when the server starts), on the
    pages' own Runtime; None if its port is taken. Also starts loading the reranker and its self-test."""
    from app.api.server import start
    from app.service import health

    rt = _runtime(load_settings())
    server = start(rt, signed_in=signin.configured())
    health.watch(rt)
    return server


def warm_reranker(rt: Runtime) -> None:
    """Start loading the reranker in a background thread if nobody has yet; returns at once."""
    service = rt.reranker
    if service.state == EngineState.NOT_LOADED:
        service.start_loading()
