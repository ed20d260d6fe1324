"""Every error the API answers, mapped once: domain errors to 4xx with their message, a malformed
request to 422 with what to change, anything unexpected to 500 without a traceback (that goes to the log).

Every error body is `{"detail": "<message for the user>"}`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.errors import (
    AccessDenied,
    BatchTooLarge,
    DocumentNotFound,
    EmbeddingModelMismatch,
    KBError,
    KnowledgeBaseExists,
    KnowledgeBaseNotFound,
    NotSignedIn,
    RerankerUnavailable,
)

log = logging.getLogger("kb.api")

# The first matching class wins; any other KBError is the caller's to fix: 400.
STATUS_OF: tuple[tuple[type[KBError], int], ...] = (
    (NotSignedIn, 401),
    (AccessDenied, 403),
    (KnowledgeBaseNotFound, 404),
    (DocumentNotFound, 404),
    (KnowledgeBaseExists, 409),
    (EmbeddingModelMismatch, 409),
    (RerankerUnavailable, 503),
    (BatchTooLarge, 413),
)


class ErrorBody(BaseModel):
    detail: str


def _error(description: str) -> dict:
    return {"model": ErrorBody, "description": description}


# Documented on every route of the OpenAPI page.
ERROR_RESPONSES: dict[int | str, dict] = {
    400: _error("Invalid input (an empty question, a bad name, ...); the message says what to change."),
    401: _error("Missing, wrong or revoked bearer token (KB_API_TOKEN, or a personal token with sign-in)."),
    403: _error("The token's user lacks the role this needs on the knowledge base; the message names it."),
    404: _error("No such knowledge base or document; the message says how to list them."),
    409: _error("Conflicts with the stored data (e.g. indexed with another embedding model)."),
    413: _error("Request body over KB_API_MAX_BODY_MB, or files over KB_MAX_BATCH_FILES / KB_MAX_BATCH_MB."),
    422: _error("A field is missing or has the wrong type; the message names it."),
}


def status_of(exc: KBError) -> int:
    return next((status for cls, status in STATUS_OF if isinstance(exc, cls)), 400)


def install(app: FastAPI) -> None:
    app.add_exception_handler(KBError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)


async def _domain_error(_request: Request, exc: KBError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = "; ".join(_problem(e) for e in exc.errors()) + ". The request schemas are on /docs."
    return JSONResponse({"detail": detail, "errors": jsonable_encoder(exc.errors())}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}: {exc}); the app's log has the details"}, status_code=500
    )


def _problem(error: dict) -> str:
    where, kind = _where(error["loc"]), error["type"]
    if kind == "missing":
        return "the request has no JSON body" if where == "body" else f"missing field {where!r}"
    if kind == "extra_forbidden":
        return f"unknown field {where!r} (misspelt?)"
    if kind == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
    return f"{where}: {error['msg']}"


def _where(loc) -> str:
    """('body', 'documents', 0) -> 'documents[0]'; ('body',) -> 'body' (the whole body is missing)."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    out = parts[0]
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out
