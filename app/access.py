"""Who may do what, and what was done: roles per knowledge base, personal API tokens, the audit log, and
who made each preset, query set and label.

The tables live in the catalog's SQLite file but belong to this module (created here, on first use), so
the catalog's own schema stays as it is. Roles and authorship are keyed by the knowledge base's *name*:
a rename moves them (`rename_kb`), a re-index keeps the name and so keeps them. The audit log keeps the
names as they were when the change happened. Checks and audit entries are made by `app/service/access.py`;
this module only stores.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

VIEWER, EDITOR = "viewer", "editor"
ROLES = (VIEWER, EDITOR)  # in increasing power: an editor may do all a viewer may
LOCAL = "local"  # the actor of changes made in single-user mode (no sign-in configured)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_grants (
    kb TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at REAL NOT NULL,
    PRIMARY KEY (kb, email)
);
-- Only the SHA-256 of a token is kept: a stolen catalog file gives no usable token.
CREATE TABLE IF NOT EXISTS access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    label TEXT NOT NULL,
    digest TEXT UNIQUE NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    kb TEXT NOT NULL DEFAULT '',
    document TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at);
-- kind: preset (item "name@version") | query_set | label (see `label_item`), within the knowledge base.
CREATE TABLE IF NOT EXISTS authors (
    kb TEXT NOT NULL,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    email TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (kb, kind, item)
);
"""


@dataclass(frozen=True)
class User:
    """A signed-in person (from the identity provider's e-mail claim) or a personal token's owner."""

    email: str
    name: str = ""
    admin: bool = False


@dataclass(frozen=True)
class Grant:
    kb: str
    email: str
    role: str
    granted_by: str
    granted_at: float


@dataclass(frozen=True)
class ApiToken:
    id: int
    email: str
    label: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    kb: str
    document: str
    detail: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


LABEL_SEP = "\x1f"  # in no query, file name or set name a user types


def label_item(set_name: str, query: str, doc: str, page: int | None, start: int, end: int | None) -> str:
    """The authors-table key of a label: its query set and its anchor, as the catalog keys labels."""
    return LABEL_SEP.join(map(str, (set_name, query, doc, page, start, end)))


class AccessStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:  # created on first use: building a Runtime does no writes
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.executescript(_SCHEMA)
            finally:
                db.close()
            self._ready = True
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    # roles

    def grant(self, kb: str, email: str, role: str, by: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO access_grants VALUES (?, ?, ?, ?, ?)", (kb, email, role, by, time.time())
            )

    def revoke(self, kb: str, email: str) -> bool:
        with self._connect() as db:
            return db.execute("DELETE FROM access_grants WHERE kb = ? AND email = ?", (kb, email)).rowcount > 0

    def role(self, kb: str, email: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT role FROM access_grants WHERE kb = ? AND email = ?", (kb, email)).fetchone()
        return None if row is None else row["role"]

    def grants(self, kb: str | None = None, email: str | None = None) -> list[Grant]:
        query, args = "SELECT * FROM access_grants WHERE 1 = 1", []
        if kb is not None:
            query, args = query + " AND kb = ?", [*args, kb]
        if email is not None:
            query, args = query + " AND email = ?", [*args, email]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY kb, email", args).fetchall()
        return [Grant(**dict(r)) for r in rows]

    def rename_kb(self, old: str, new: str) -> None:
        with self._connect() as db:
            for table in ("access_grants", "authors"):
                db.execute(f"UPDATE {table} SET kb = ? WHERE kb = ?", (new, old))

    def forget_kb(self, kb: str) -> None:
        with self._connect() as db:
            for table in ("access_grants", "authors"):
                db.execute(f"DELETE FROM {table} WHERE kb = ?", (kb,))

    # personal API tokens

    def add_token(self, email: str, label: str, secret: str) -> ApiToken:
        now = time.time()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO access_tokens (email, label, digest, created_at) VALUES (?, ?, ?, ?)",
                (email, label, digest(secret), now),
            )
        return ApiToken(cursor.lastrowid, email, label, now, None)

    def token_owner(self, secret: str) -> str | None:
        """The e-mail of a live token's owner; None for an unknown or revoked token."""
        with self._connect() as db:
            row = db.execute(
                "SELECT email FROM access_tokens WHERE digest = ? AND revoked_at IS NULL", (digest(secret),)
            ).fetchone()
        return None if row is None else row["email"]

    def tokens(self, email: str) -> list[ApiToken]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, email, label, created_at, revoked_at FROM access_tokens WHERE email = ? ORDER BY id",
                (email,),
            ).fetchall()
        return [ApiToken(**dict(r)) for r in rows]

    def revoke_token(self, token_id: int, email: str) -> bool:
        """Revoke one of `email`'s live tokens; False if it has no such token."""
        with self._connect() as db:
            return db.execute(
                "UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND email = ? AND revoked_at IS NULL",
                (time.time(), token_id, email),
            ).rowcount > 0

    # the audit log

    def record(self, actor: str, action: str, kb: str = "", document: str = "", detail: str = "") -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO audit_log (at, actor, action, kb, document, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), actor, action, kb, document, detail),
            )

    def audit(
        self, *, actor: str = "", action: str = "", kb: str = "", since: float | None = None, limit: int = 500
    ) -> list[AuditEntry]:
        """Newest first; each non-empty filter must match exactly."""
        query, args = "SELECT * FROM audit_log WHERE 1 = 1", []
        for column, value in (("actor", actor), ("action", action), ("kb", kb)):
            if value:
                query, args = query + f" AND {column} = ?", [*args, value]
        if since is not None:
            query, args = query + " AND at >= ?", [*args, since]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [AuditEntry(**dict(r)) for r in rows]

    # who made presets, query sets and labels

    def note_author(self, kb: str, kind: str, items: list[str], email: str, replace: bool = True) -> None:
        """`replace=False` keeps an item's first author (a preset version saved again unchanged)."""
        now = time.time()
        verb = "REPLACE" if replace else "IGNORE"
        with self._connect() as db:
            rows = [(kb, kind, item, email, now) for item in items]
            db.executemany(f"INSERT OR {verb} INTO authors VALUES (?, ?, ?, ?, ?)", rows)

    def authors(self, kb: str, kind: str) -> dict[str, str]:
        """item -> e-mail of whoever made (or last saved) it."""
        with self._connect() as db:
            rows = db.execute("SELECT item, email FROM authors WHERE kb = ? AND kind = ?", (kb, kind)).fetchall()
        return {r["item"]: r["email"] for r in rows}

    def forget_author(self, kb: str, kind: str, item: str, prefix: bool = False) -> None:
        """The item's author; with `prefix`, every item that starts with `item` (a set's labels)."""
        with self._connect() as db:
            if prefix:  # substr, not LIKE: the item may hold % or _
                db.execute(
                    "DELETE FROM authors WHERE kb = ? AND kind = ? AND substr(item, 1, ?) = ?",
                    (kb, kind, len(item), item),
                )
            else:
                db.execute("DELETE FROM authors WHERE kb = ? AND kind = ? AND item = ?", (kb, kind, item))
