"""What every route depends on: the Runtime acting for the caller, decided by the bearer token.

Single-user mode (no sign-in configured): the process's Runtime as it is, behind KB_API_TOKEN when one is
set. With sign-in (`create_app(rt, signed_in=True)`): only personal tokens (made on the Account page) are
accepted, and the Runtime acts for the token's owner, so the service layer applies that user's roles.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.runtime import Runtime
from app.service import tokens

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="KB_API_TOKEN",
    description="`Authorization: Bearer <token>`: KB_API_TOKEN in single-user mode when it is set; with sign-in, "
    "a personal token from the Account page.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require_token(request: Request, credentials: Credentials) -> Runtime:
    """The caller's Runtime, or 401. FastAPI runs this once per request (the app and `runtime` share it)."""
    rt: Runtime = request.app.state.runtime
    if request.app.state.signed_in:
        if credentials is None:
            raise _unauthorized("This app has sign-in on: send `Authorization: Bearer <token>` with a personal "
                                "token made on its Account page (the kb CLI sends $KB_API_TOKEN).")
        return tokens.runtime_for(rt, credentials.credentials)  # NotSignedIn -> 401 (app/api/errors.py)
    expected: str = request.app.state.token
    if not expected:
        return rt  # no token configured: open (loopback only, config.py refuses anything else)
    if credentials is None:
        raise _unauthorized(
            "This API needs a bearer token: send `Authorization: Bearer <token>` with the KB_API_TOKEN the "
            "app was started with (the kb CLI sends $KB_API_TOKEN)."
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise _unauthorized("Wrong bearer token: send the KB_API_TOKEN the app was started with.", "invalid_token")
    return rt


def _unauthorized(detail: str, error: str = "") -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": f'Bearer error="{error}"' if error else "Bearer"})


def runtime(rt: Annotated[Runtime, Depends(require_token)]) -> Runtime:
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]  # a route's `rt: RuntimeDep` acts for the caller
