"""What every route depends on: the process's Runtime, and the bearer token when one is configured."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.runtime import Runtime

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="KB_API_TOKEN",
    description="`Authorization: Bearer $KB_API_TOKEN`; needed when the app was started with KB_API_TOKEN set.",
)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(runtime)]  # a route's `rt: RuntimeDep` is the app's Runtime


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """No token configured: open (loopback only, config.py refuses anything else). Otherwise it must match."""
    expected: str = request.app.state.token
    if not expected:
        return
    if credentials is None:
        raise HTTPException(
            401,
            "This API needs a bearer token: send `Authorization: Bearer <token>` with the KB_API_TOKEN the "
            "app was started with (the kb CLI sends $KB_API_TOKEN).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            401,
            "Wrong bearer token: send the KB_API_TOKEN the app was started with.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
