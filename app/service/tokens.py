"""Personal API tokens: made by a signed-in user on the Account page, carrying that user's roles.

A token is shown once, when it is made; the catalog keeps only its SHA-256, so it cannot be shown again
(make a new one). A revoked token is refused at once, by every process that shares the catalog.
"""

from __future__ import annotations

import secrets

from app.access import ApiToken
from app.errors import AccessDenied, InvalidInput, NotSignedIn
from app.runtime import Runtime
from app.service import access

PREFIX = "kbt_"  # recognisable in a shell history or a secret scanner


def create(rt: Runtime, label: str) -> tuple[str, ApiToken]:
    """(the secret, its record) for the signed-in user; the secret is not stored and never shown again."""
    if rt.user is None:
        raise AccessDenied("Personal tokens need sign-in; in single-user mode the API uses KB_API_TOKEN.")
    label = label.strip()
    if not label or len(label) > 64:
        raise InvalidInput("Name the token (1 to 64 characters), e.g. 'laptop CLI'.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = rt.access.add_token(rt.user.email, label, secret)
    access.record(rt, "token create", detail=f"#{token.id} {label}")
    return secret, token


def mine(rt: Runtime) -> list[ApiToken]:
    return [] if rt.user is None else rt.access.tokens(rt.user.email)


def revoke(rt: Runtime, token_id: int) -> None:
    if rt.user is None or not rt.access.revoke_token(token_id, rt.user.email):
        raise InvalidInput(f"You have no live token #{token_id}.")
    access.record(rt, "token revoke", detail=f"#{token_id}")


def runtime_for(rt: Runtime, secret: str) -> Runtime:
    """`rt` acting for the owner of a live token; NotSignedIn for an unknown or revoked one."""
    email = rt.access.token_owner(secret)
    if email is None:
        raise NotSignedIn("This API token is unknown or was revoked: make a new one on the Account page.")
    return access.as_user(rt, email)
