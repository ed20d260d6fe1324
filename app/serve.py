"""`kb serve`'s entry point: the Streamlit app of app/main.py, and the REST API from the server's start.

Streamlit runs a page script only when a browser opens a session, so a script cannot start the API
before someone visits. Streamlit 1.67's `st.App` (its ASGI entry point, found by `streamlit run` in this
file) takes a `lifespan` that runs once when the server starts: it starts the API in this process
(`resources.api_server()`: uvicorn in a daemon thread on KB_API_HOST:KB_API_PORT, sharing the pages'
cached Runtime, so one reranker engine serves the pages, the CLI and other tools) and starts loading the
reranker and its self-test. Running `streamlit run app/main.py` directly gives the pages without the API.
"""

from __future__ import annotations

import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `streamlit run app/serve.py` puts app/ on sys.path, not the project root that holds the packages.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402


@asynccontextmanager
async def lifespan(_app):
    started: dict = {}

    def start() -> None:
        from app.errors import KBError
        from app.ui import resources

        try:
            started["api"] = resources.api_server()
        except KBError as exc:  # a bad KB_* setting: the pages show it too
            print(f"kb API not started: {exc}", file=sys.stderr, flush=True)

    # In a thread: the runtime loads the embedding model first, and the web server must not wait for it.
    threading.Thread(target=start, name="kb-api-start", daemon=True).start()
    yield
    if started.get("api") is not None:
        started["api"].stop()
    from app.ui import resources

    # Here, not at exit: uvicorn raises the SIGTERM it caught again once the server is down, so the process
    # ends by the signal and atexit handlers never run.
    resources.close_runtimes()


app = st.App("main.py", lifespan=lifespan)
