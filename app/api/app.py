"""The FastAPI app on one Runtime: routers, auth, body limit and error mapping wired once."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from app.api import documents, errors, health, kbs, rerank, search
from app.api.deps import require_token
from app.api.limits import BodyLimit
from app.runtime import Runtime

DESCRIPTION = """\
The knowledge-base app's REST API, served by `kb serve` next to the web app, from the same process and
the same reranker engine. Errors are `{"detail": "<what to change>"}`. With `KB_API_TOKEN` set every
route needs `Authorization: Bearer <token>`; with sign-in on, every route needs a personal token (made on the
Account page), and answers with that user's roles: 403 for what the role does not allow.

`POST /v1/rerank` serves this app's Qwen3-Reranker to other tools (Cohere/Jina request and reply), with
an optional `instruction`.
"""


def create_app(rt: Runtime, *, signed_in: bool = False) -> FastAPI:
    """Args:
        rt: the process's Runtime; its settings give the token (KB_API_TOKEN) and body limit.
        signed_in: sign-in is configured: accept only personal tokens, each acting with its owner's roles.
    """
    app = FastAPI(title="kb", version="1", description=DESCRIPTION, dependencies=[Depends(require_token)])
    app.state.runtime = rt
    app.state.token = rt.settings.api_token
    app.state.signed_in = signed_in
    app.add_middleware(BodyLimit, max_bytes=rt.settings.api_max_body_mb * 2**20)
    errors.install(app)
    for module in (health, kbs, documents, search, rerank):
        app.include_router(module.router, responses=errors.ERROR_RESPONSES)
    return app
