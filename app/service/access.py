"""Roles and the audit log: the checks every service function makes, and the admin's functions.

Who acts is `rt.user`: None in single-user mode (no sign-in configured), where every check passes, as
before sign-in existed; otherwise a `User` made by `as_user` (the pages, from the identity provider's
e-mail) or by `app.service.tokens` (the REST API, from a personal token). Admins (KB_ADMINS) may do
everything; anybody else only what a role on a knowledge base allows:

- viewer: search, see documents, label results, run evaluations;
- editor: also upload, re-ingest and delete documents, save presets and defaults, edit query sets;
- admin: also create, rename, re-index and drop knowledge bases, grant roles, read the audit log.

Every change is written to the audit log with its actor, in single-user mode too (actor `local`).
"""

from __future__ import annotations

from collections.abc import Iterable

from app.access import EDITOR, LOCAL, ROLES, VIEWER, AuditEntry, Grant, User
from app.errors import AccessDenied, InvalidInput, KnowledgeBaseNotFound
from app.runtime import Runtime

__all__ = ["EDITOR", "VIEWER", "ROLES", "as_user", "require", "require_admin", "visible", "record"]

GRANT_HINT = "an admin (KB_ADMINS) can grant it on the Admin page"
# Every action the audit log records, for the Admin page's filter.
ACTIONS = (
    "upload", "reingest", "delete", "kb create", "kb rename", "kb reindex", "kb drop", "role grant",
    "role revoke", "preset save", "preset delete", "default set", "query set create", "query set delete",
    "label", "labels import", "token create", "token revoke",
)


def as_user(rt: Runtime, email: str, name: str = "") -> Runtime:
    """`rt` acting for the person with this e-mail (admin if it is in KB_ADMINS)."""
    email = normalize_email(email)
    return rt.as_user(User(email, name, admin=email in rt.settings.admin_emails))


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email:
        raise InvalidInput(f"{email!r} is not an e-mail address; roles are granted to e-mail addresses.")
    return email


def actor(rt: Runtime) -> str:
    return LOCAL if rt.user is None else rt.user.email


def is_admin(rt: Runtime) -> bool:
    return rt.user is None or rt.user.admin


def role_of(rt: Runtime, kb: str) -> str | None:
    """The user's role on `kb`: EDITOR for admins and in single-user mode, None without one."""
    if is_admin(rt):
        return EDITOR
    return rt.access.role(kb, rt.user.email)


def require(rt: Runtime, kb: str, role: str, doing: str) -> None:
    """Raise AccessDenied unless the user has `role` (or more) on `kb`; `doing` says what was refused,
    e.g. 'upload documents'."""
    have = role_of(rt, kb)
    if have is not None and ROLES.index(have) >= ROLES.index(role):
        return
    who = rt.user.email
    if have is None:
        raise AccessDenied(f"{who} has no role on knowledge base {kb!r}, so cannot {doing}; {GRANT_HINT}.")
    raise AccessDenied(f"To {doing} in {kb!r} needs the {role} role; {who} is a {have} there ({GRANT_HINT}).")


def require_admin(rt: Runtime, doing: str) -> None:
    if not is_admin(rt):
        raise AccessDenied(f"Only an admin (KB_ADMINS) may {doing}; {rt.user.email} is not one.")


def visible(rt: Runtime, names: Iterable[str]) -> list[str]:
    """The knowledge bases of `names` that the user has a role on (all of them for admins)."""
    names = list(names)
    if is_admin(rt):
        return names
    mine = {g.kb for g in rt.access.grants(email=rt.user.email)}
    return [n for n in names if n in mine]


def record(rt: Runtime, action: str, kb: str = "", document: str = "", detail: str = "") -> None:
    """One audit entry for a change, made by the acting user."""
    rt.access.record(actor(rt), action, kb, document, detail)


# the admin's functions


def grant(rt: Runtime, kb: str, email: str, role: str) -> Grant:
    """Give `email` `role` on `kb` (replacing the role it had)."""
    require_admin(rt, "grant roles")
    if role not in ROLES:
        raise InvalidInput(f"A role is one of: {', '.join(ROLES)} (not {role!r}).")
    rt.catalog.get_kb(kb)  # the knowledge base must exist
    email = normalize_email(email)
    before = rt.access.role(kb, email)
    rt.access.grant(kb, email, role, actor(rt))
    record(rt, "role grant", kb, detail=f"{email}: {before or 'none'} -> {role}")
    return next(g for g in rt.access.grants(kb=kb, email=email))


def revoke(rt: Runtime, kb: str, email: str) -> None:
    require_admin(rt, "take roles away")
    email = normalize_email(email)
    before = rt.access.role(kb, email)
    if not rt.access.revoke(kb, email):
        raise InvalidInput(f"{email} has no role on {kb!r}.")
    record(rt, "role revoke", kb, detail=f"{email}: {before} -> none")


def grants(rt: Runtime, kb: str | None = None) -> list[Grant]:
    require_admin(rt, "see everybody's roles")
    return rt.access.grants(kb=kb)


def my_roles(rt: Runtime) -> dict[str, str]:
    """kb -> role, for the user's own page."""
    return {g.kb: g.role for g in rt.access.grants(email=rt.user.email)} if rt.user is not None else {}


def audit_log(rt: Runtime, *, actor: str = "", action: str = "", kb: str = "", limit: int = 500) -> list[AuditEntry]:
    """The newest entries first, filtered by exact actor, action and knowledge base."""
    require_admin(rt, "read the audit log")
    return rt.access.audit(actor=actor.strip().lower(), action=action, kb=kb, limit=limit)


# who made presets, query sets and labels


def note_author(rt: Runtime, kb: str, kind: str, items: list[str], replace: bool = True) -> None:
    rt.access.note_author(kb, kind, items, actor(rt), replace)


def authors(rt: Runtime, kb: str, kind: str) -> dict[str, str]:
    """item -> who made it, for `kind` preset ("name@version"), query_set or label (`app.access.label_item`)."""
    require(rt, kb, VIEWER, "see who made what")
    return rt.access.authors(kb, kind)


# writing documents


def require_writer(rt: Runtime, kb: str) -> bool:
    """Raise unless the user may add documents to `kb`: an editor of it, or an admin when it does not exist
    yet (uploading creates it). Returns whether it is missing (the caller records its creation)."""
    try:
        rt.catalog.get_kb(kb)
    except KnowledgeBaseNotFound:
        require_admin(rt, f"create knowledge base {kb!r} (uploading into a missing one creates it)")
        return True
    require(rt, kb, EDITOR, "upload documents")
    return False


def record_ingest(rt: Runtime, kb: str, outcomes, action: str = "upload") -> None:
    """An entry per file that changed the knowledge base (added or replaced)."""
    for o in outcomes:
        if o.ok and o.status.value != "unchanged":
            record(rt, action, kb, o.name, f"{o.status.value}, {o.doc_id}")
