"""The catalog: which knowledge bases and documents exist, in one SQLite file in the data dir.

The catalog is the commit point of ingest. A document's chunks are written to the vector store while
its row says `pending`; flipping the row to `ready` (one SQLite transaction) makes the whole document
visible at once. Search hides chunks of documents that are not `ready`, and `recover()` deletes the
leftovers of a crash. Every call opens its own connection, so the catalog is safe across threads
and processes.

Deleting works the same way backwards: a document is marked `deleting` and a knowledge base `dropping`
in one transaction first (hidden from every list and search from then on), then its data is removed,
then its rows. A re-ingest of the same bytes writes a new *generation* of chunks beside the visible one
(listed in `doc_versions` while it is written, and the old one after the switch), so the old version
answers searches until the new one is committed (`app/ids.py`).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.errors import DocumentNotFound, InvalidInput, KnowledgeBaseExists, KnowledgeBaseNotFound
from app.ids import version_key
from app.models import Document

PENDING, READY, DELETING = "pending", "ready", "deleting"
KB_READY, KB_DROPPING = "ready", "dropping"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kbs (
    name TEXT PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    embed_model TEXT NOT NULL,
    embed_dim INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'ready'
);
CREATE TABLE IF NOT EXISTS documents (
    kb_key TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    pages INTEGER,
    chunks INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    added_at REAL NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kb_key, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_by_name ON documents (kb_key, name);
-- Chunk generations of a document other than the visible one (`documents.generation`): being written by
-- a re-ingest, or replaced by one and not yet removed. Hidden from search; `recover()` removes them.
CREATE TABLE IF NOT EXISTS doc_versions (
    kb_key TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (kb_key, doc_id, generation)
);
CREATE TABLE IF NOT EXISTS presets (
    kb_key TEXT NOT NULL,
    name TEXT NOT NULL,
    instruction TEXT NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (kb_key, name)
);
-- Every text a preset has had, oldest first; `figures` holds the last evaluation on each query set (JSON).
CREATE TABLE IF NOT EXISTS preset_versions (
    kb_key TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    instruction TEXT NOT NULL,
    saved_at REAL NOT NULL,
    figures TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (kb_key, name, version)
);
-- The instruction a knowledge base's searches start from (the sidebar, `kb search` without --instruction).
CREATE TABLE IF NOT EXISTS kb_defaults (
    kb_key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    instruction TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS query_sets (
    kb_key TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (kb_key, name)
);
-- Labels are anchored to a document name and a character range of one page (or the whole document),
-- never to a chunk id, so they survive re-chunking and re-indexing (app/workbench/labels.py).
CREATE TABLE IF NOT EXISTS labels (
    kb_key TEXT NOT NULL,
    set_name TEXT NOT NULL,
    query TEXT NOT NULL,
    doc TEXT NOT NULL,
    page INTEGER,
    char_start INTEGER NOT NULL,
    char_end INTEGER,
    quote TEXT,
    grade INTEGER NOT NULL,
    labelled_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS labels_by_anchor
    ON labels (kb_key, set_name, query, doc, IFNULL(page, 0), char_start, IFNULL(char_end, -1));
-- What happened to every file given to a knowledge base, so that a failed upload is not forgotten.
CREATE TABLE IF NOT EXISTS ingest_log (
    kb_key TEXT NOT NULL,
    at REAL NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_log_by_kb ON ingest_log (kb_key, at);
-- The BM25 coverage of a knowledge base's recent hybrid queries (app/query_history.py), oldest first by rowid.
CREATE TABLE IF NOT EXISTS query_coverage (
    kb_key TEXT NOT NULL,
    coverage REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS query_coverage_by_kb ON query_coverage (kb_key);
CREATE TABLE IF NOT EXISTS eval_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kb_key TEXT NOT NULL,
    set_name TEXT NOT NULL,
    ran_at REAL NOT NULL,
    report TEXT NOT NULL
);
"""
# Rows keyed by a knowledge base's key, besides `kbs` and `documents`: dropped with it, moved by a re-index.
_KB_TABLES = ("presets", "preset_versions", "kb_defaults", "query_sets", "labels", "eval_runs", "ingest_log",
              "query_coverage")
# Columns added after the first release: (table, column, definition) for databases made before them.
_ADDED_COLUMNS = (
    ("kbs", "state", "TEXT NOT NULL DEFAULT 'ready'"),
    ("documents", "generation", "INTEGER NOT NULL DEFAULT 0"),
)


@dataclass(frozen=True)
class KnowledgeBase:
    name: str
    key: str  # stable id: names the vector collection and the folder, so renames are cheap
    embed_model: str
    embed_dim: int
    created_at: float
    state: str = KB_READY  # `dropping` once `kb drop` has started: hidden, and finished by the next writer

    @property
    def collection(self) -> str:
        return f"kb_{self.key}"


@dataclass(frozen=True)
class Hidden:
    """What search must not show in a knowledge base: whole documents (not `ready`) by id, and every
    hidden chunk generation by version key (`app/ids.py`), those of hidden documents included."""

    doc_ids: list[str]
    versions: list[str]


class Catalog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            db.executescript(_SCHEMA)
            for table, column, definition in _ADDED_COLUMNS:
                if column not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        finally:
            db.close()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction on a connection of its own (rows as sqlite3.Row); the workbench's tables use it."""
        with self._connect(write) as db:
            yield db

    @contextmanager
    def _connect(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            # A writer takes the lock up front (no upgrade deadlocks); readers never wait (WAL).
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # knowledge bases

    def create_kb(self, name: str, embed_model: str, embed_dim: int) -> KnowledgeBase:
        name = validate_kb_name(name)
        kb = KnowledgeBase(name, uuid.uuid4().hex[:16], embed_model, embed_dim, time.time())
        with self._connect() as db:
            if db.execute("SELECT 1 FROM kbs WHERE name = ?", (name,)).fetchone():
                raise KnowledgeBaseExists(f"A knowledge base named {name!r} already exists.")
            _insert_kb(db, kb)
        return kb

    def ensure_kb(self, name: str, embed_model: str, embed_dim: int) -> KnowledgeBase:
        """The knowledge base named `name`, created if missing, in one transaction: two processes that
        both create it get the same one. A knowledge base being dropped is not reused (finish the drop
        first: `ingest.pipeline.recover_data_dir`)."""
        name = validate_kb_name(name)
        with self._connect() as db:
            _insert_kb(db, KnowledgeBase(name, uuid.uuid4().hex[:16], embed_model, embed_dim, time.time()), "OR IGNORE")
            row = db.execute("SELECT * FROM kbs WHERE name = ?", (name,)).fetchone()
        kb = KnowledgeBase(**dict(row))
        if kb.state != KB_READY:
            raise KnowledgeBaseExists(
                f"The knowledge base {name!r} is being deleted; `kb drop --kb {name}` finishes that, then try again."
            )
        return kb

    def get_kb(self, name: str, include_dropping: bool = False) -> KnowledgeBase:
        with self._connect(write=False) as db:
            row = db.execute("SELECT * FROM kbs WHERE name = ?", (name,)).fetchone()
        if row is None or (row["state"] != KB_READY and not include_dropping):
            raise KnowledgeBaseNotFound(
                f"No knowledge base named {name!r}. `kb list` shows the existing ones; "
                "`kb ingest PATH --kb NAME` creates one."
            )
        return KnowledgeBase(**dict(row))

    def list_kbs(self, include_dropping: bool = False) -> list[KnowledgeBase]:
        query = "SELECT * FROM kbs" + ("" if include_dropping else f" WHERE state = '{KB_READY}'")
        with self._connect(write=False) as db:
            rows = db.execute(query + " ORDER BY name").fetchall()
        return [KnowledgeBase(**dict(r)) for r in rows]

    def rename_kb(self, old: str, new: str) -> KnowledgeBase:
        new = validate_kb_name(new)
        with self._connect() as db:
            if db.execute("SELECT 1 FROM kbs WHERE name = ?", (new,)).fetchone():
                raise KnowledgeBaseExists(f"A knowledge base named {new!r} already exists.")
            changed = db.execute("UPDATE kbs SET name = ? WHERE name = ? AND state = ?", (new, old, KB_READY))
            if changed.rowcount == 0:
                raise KnowledgeBaseNotFound(f"No knowledge base named {old!r}.")
        return self.get_kb(new)

    def mark_dropping(self, kb: KnowledgeBase) -> KnowledgeBase:
        """Hide the knowledge base from every list and search (the first step of dropping it)."""
        with self._connect() as db:
            db.execute("UPDATE kbs SET state = ? WHERE key = ?", (KB_DROPPING, kb.key))
        return dataclasses.replace(kb, state=KB_DROPPING)

    def delete_kb(self, kb: KnowledgeBase) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM documents WHERE kb_key = ?", (kb.key,))
            db.execute("DELETE FROM doc_versions WHERE kb_key = ?", (kb.key,))
            for table in _KB_TABLES:
                db.execute(f"DELETE FROM {table} WHERE kb_key = ?", (kb.key,))
            db.execute("DELETE FROM kbs WHERE key = ?", (kb.key,))

    def replace_kb(self, old: KnowledgeBase, new: KnowledgeBase) -> KnowledgeBase:
        """Give `old`'s name, presets, query sets and runs to `new` and forget `old`, in one transaction
        (re-indexing)."""
        with self._connect() as db:
            db.execute("DELETE FROM documents WHERE kb_key = ?", (old.key,))
            db.execute("DELETE FROM doc_versions WHERE kb_key = ?", (old.key,))
            for table in _KB_TABLES:
                db.execute(f"UPDATE {table} SET kb_key = ? WHERE kb_key = ?", (new.key, old.key))
            db.execute("DELETE FROM kbs WHERE key = ?", (old.key,))
            db.execute("UPDATE kbs SET name = ? WHERE key = ?", (old.name, new.key))
        return self.get_kb(old.name)

    # documents

    def begin_document(self, kb: KnowledgeBase, doc_id: str, name: str, size: int) -> None:
        """Record a document as pending: its chunks may be written but stay hidden."""
        self.begin_documents(kb, [(doc_id, name, size)])

    def begin_documents(self, kb: KnowledgeBase, docs: list[tuple[str, str, int]]) -> None:
        """`begin_document` for several (doc_id, name, size), in one transaction."""
        now = time.time()
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO documents (kb_key, doc_id, name, status, size, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(kb.key, doc_id, name, PENDING, size, now) for doc_id, name, size in docs],
            )

    def commit_document(
        self, kb: KnowledgeBase, doc_id: str, pages: int | None, chunks: int, replaces: list[str]
    ) -> None:
        """Make a pending document visible and hide the versions it replaces, in one transaction."""
        self.commit_documents(kb, [(doc_id, pages, chunks, replaces)])

    def commit_documents(self, kb: KnowledgeBase, docs: list[tuple[str, int | None, int, list[str]]]) -> None:
        """`commit_document` for several (doc_id, pages, chunks, replaces): each becomes visible whole, all
        in one transaction."""
        now = time.time()
        with self._connect() as db:
            for doc_id, pages, chunks, replaces in docs:
                db.execute(
                    "UPDATE documents SET status = ?, pages = ?, chunks = ?, added_at = ? "
                    "WHERE kb_key = ? AND doc_id = ?",
                    (READY, pages, chunks, now, kb.key, doc_id),
                )
                for old in replaces:
                    db.execute(
                        "UPDATE documents SET status = ? WHERE kb_key = ? AND doc_id = ?", (DELETING, kb.key, old)
                    )

    def begin_generation(self, kb: KnowledgeBase, doc_id: str) -> int:
        """A new chunk generation for a ready document (a re-ingest of its bytes), hidden until
        `commit_generation`. Returns its number."""
        with self._connect() as db:
            row = db.execute(
                "SELECT MAX(g) FROM (SELECT generation AS g FROM documents WHERE kb_key = ? AND doc_id = ? "
                "UNION ALL SELECT generation FROM doc_versions WHERE kb_key = ? AND doc_id = ?)",
                (kb.key, doc_id, kb.key, doc_id),
            ).fetchone()
            if row[0] is None:
                raise DocumentNotFound(f"No document {doc_id[:12]} in knowledge base {kb.name!r}.")
            generation = row[0] + 1
            db.execute("INSERT INTO doc_versions VALUES (?, ?, ?)", (kb.key, doc_id, generation))
        return generation

    def commit_generation(
        self, kb: KnowledgeBase, doc_id: str, generation: int, pages: int | None, chunks: int
    ) -> int:
        """Make `generation` the visible one and hide the one it replaces, in one transaction; returns the
        replaced generation (now in `doc_versions`, to be removed)."""
        with self._connect() as db:
            old = db.execute(
                "SELECT generation FROM documents WHERE kb_key = ? AND doc_id = ? AND status = ?",
                (kb.key, doc_id, READY),
            ).fetchone()
            if old is None:
                raise DocumentNotFound(f"The document {doc_id[:12]} was deleted meanwhile.")
            db.execute(
                "UPDATE documents SET generation = ?, pages = ?, chunks = ?, added_at = ? "
                "WHERE kb_key = ? AND doc_id = ?",
                (generation, pages, chunks, time.time(), kb.key, doc_id),
            )
            db.execute(
                "DELETE FROM doc_versions WHERE kb_key = ? AND doc_id = ? AND generation = ?",
                (kb.key, doc_id, generation),
            )
            db.execute("INSERT OR IGNORE INTO doc_versions VALUES (?, ?, ?)", (kb.key, doc_id, old[0]))
        return old[0]

    def forget_generation(self, kb: KnowledgeBase, doc_id: str, generation: int) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM doc_versions WHERE kb_key = ? AND doc_id = ? AND generation = ?",
                (kb.key, doc_id, generation),
            )

    def hidden_generations(self, kb: KnowledgeBase) -> list[tuple[str, int]]:
        """(doc_id, generation) of every chunk generation that is not a document's visible one."""
        with self._connect(write=False) as db:
            rows = db.execute("SELECT doc_id, generation FROM doc_versions WHERE kb_key = ?", (kb.key,)).fetchall()
        return [(r["doc_id"], r["generation"]) for r in rows]

    def mark_deleting(self, kb: KnowledgeBase, doc_id: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE documents SET status = ? WHERE kb_key = ? AND doc_id = ?", (DELETING, kb.key, doc_id)
            )

    def forget_document(self, kb: KnowledgeBase, doc_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM documents WHERE kb_key = ? AND doc_id = ?", (kb.key, doc_id))
            db.execute("DELETE FROM doc_versions WHERE kb_key = ? AND doc_id = ?", (kb.key, doc_id))

    def documents(self, kb: KnowledgeBase, status: str | None = READY) -> list[Document]:
        query = "SELECT * FROM documents WHERE kb_key = ?"
        args: tuple = (kb.key,)
        if status is not None:
            query += " AND status = ?"
            args += (status,)
        with self._connect(write=False) as db:
            rows = db.execute(query + " ORDER BY name, added_at", args).fetchall()
        return [_document(kb, r) for r in rows]

    def documents_named(self, kb: KnowledgeBase, name: str) -> list[Document]:
        """Every row with this file name, whatever its status (an indexed lookup)."""
        with self._connect(write=False) as db:
            rows = db.execute(
                "SELECT * FROM documents WHERE kb_key = ? AND name = ? ORDER BY added_at", (kb.key, name)
            ).fetchall()
        return [_document(kb, r) for r in rows]

    def get_document(self, kb: KnowledgeBase, doc_id: str) -> Document | None:
        with self._connect(write=False) as db:
            row = db.execute(
                "SELECT * FROM documents WHERE kb_key = ? AND doc_id = ?", (kb.key, doc_id)
            ).fetchone()
        return None if row is None else _document(kb, row)

    def find_document(self, kb: KnowledgeBase, name_or_id: str, include_deleting: bool = False) -> Document:
        """The ready document with this file name or id (a unique id prefix of 8+ characters works too).

        With `include_deleting`, a document whose deletion was interrupted is found too (when no ready one
        matches), so that deleting it again finishes the job.
        """
        docs = self.documents(kb)
        if include_deleting:
            docs += self.documents(kb, status=DELETING)
        exact = [d for d in docs if name_or_id in (d.name, d.doc_id)]
        if not exact and len(name_or_id) >= 8:
            exact = [d for d in docs if d.doc_id.startswith(name_or_id)]
        ready = [d for d in exact if d.status == READY]
        if len(ready) == 1 or (not ready and len(exact) == 1):
            return (ready or exact)[0]
        if not exact:
            raise DocumentNotFound(f"No document {name_or_id!r} in knowledge base {kb.name!r}.")
        raise DocumentNotFound(f"{name_or_id!r} matches several documents; give its id instead.")

    def hidden_doc_ids(self, kb: KnowledgeBase) -> list[str]:
        """Documents whose chunks must not be seen: being written, replaced or deleted."""
        with self._connect(write=False) as db:
            rows = db.execute(
                "SELECT doc_id FROM documents WHERE kb_key = ? AND status != ?", (kb.key, READY)
            ).fetchall()
        return [r["doc_id"] for r in rows]

    def hidden(self, kb: KnowledgeBase) -> Hidden:
        """Everything search must leave out, read in one transaction."""
        with self._connect(write=False) as db:
            docs = db.execute(
                "SELECT doc_id, generation FROM documents WHERE kb_key = ? AND status != ?", (kb.key, READY)
            ).fetchall()
            extra = db.execute("SELECT doc_id, generation FROM doc_versions WHERE kb_key = ?", (kb.key,)).fetchall()
        versions = [version_key(r["doc_id"], r["generation"]) for r in [*docs, *extra]]
        return Hidden([r["doc_id"] for r in docs], list(dict.fromkeys(versions)))

    def visible_versions(self, kb: KnowledgeBase) -> set[str]:
        """Version keys of the chunks search may show: each ready document's current generation."""
        return {version_key(d.doc_id, d.generation) for d in self.documents(kb)}

    # the ingest log

    def log_ingest(self, kb: KnowledgeBase, entries: list[tuple[str, str, str]]) -> None:
        """(file name, status, summary line) per file, stamped now."""
        now = time.time()
        with self._connect() as db:
            db.executemany(
                "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?)", [(kb.key, now, *entry) for entry in entries]
            )

    def ingest_log(self, kb: KnowledgeBase, limit: int = 200) -> list[dict]:
        """The newest entries first: at, name, status, detail."""
        with self._connect(write=False) as db:
            rows = db.execute(
                "SELECT at, name, status, detail FROM ingest_log WHERE kb_key = ? ORDER BY at DESC, rowid DESC "
                "LIMIT ?",
                (kb.key, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    # what recent hybrid queries measured (app/query_history.py)

    def add_query_coverage(self, kb: KnowledgeBase, coverages: list[float], keep: int) -> None:
        """Append these queries' BM25 coverages, keeping the knowledge base's newest `keep` (none once it is
        deleted: a search that ran while it was dropped leaves nothing behind)."""
        with self._connect() as db:
            db.executemany(
                "INSERT INTO query_coverage SELECT ?, ? WHERE EXISTS (SELECT 1 FROM kbs WHERE key = ?)",
                [(kb.key, c, kb.key) for c in coverages],
            )
            db.execute(
                "DELETE FROM query_coverage WHERE kb_key = ? AND rowid NOT IN "
                "(SELECT rowid FROM query_coverage WHERE kb_key = ? ORDER BY rowid DESC LIMIT ?)",
                (kb.key, kb.key, keep),
            )

    def query_coverage(self, kb: KnowledgeBase, limit: int) -> list[float]:
        """The knowledge base's newest `limit` query coverages, oldest first."""
        with self._connect(write=False) as db:
            rows = db.execute(
                "SELECT coverage FROM query_coverage WHERE kb_key = ? ORDER BY rowid DESC LIMIT ?", (kb.key, limit)
            ).fetchall()
        return [r["coverage"] for r in reversed(rows)]

    # instruction presets saved by users (per knowledge base)

    def save_preset(self, kb: KnowledgeBase, name: str, instruction: str) -> None:
        """Save under `name`; a changed text becomes the preset's newest version, the old ones are kept."""
        name, instruction = name.strip(), instruction.strip()
        if not name or not instruction:
            raise InvalidInput("A preset needs a name and an instruction.")
        now = time.time()
        with self._connect() as db:
            last = db.execute(
                "SELECT version, instruction FROM preset_versions WHERE kb_key = ? AND name = ? "
                "ORDER BY version DESC LIMIT 1",
                (kb.key, name),
            ).fetchone()
            if last is None or last["instruction"] != instruction:
                version = 1 if last is None else last["version"] + 1
                db.execute(
                    "INSERT INTO preset_versions (kb_key, name, version, instruction, saved_at) VALUES (?, ?, ?, ?, ?)",
                    (kb.key, name, version, instruction, now),
                )
            db.execute("INSERT OR REPLACE INTO presets VALUES (?, ?, ?, ?)", (kb.key, name, instruction, now))

    def presets(self, kb: KnowledgeBase) -> dict[str, str]:
        with self._connect(write=False) as db:
            rows = db.execute(
                "SELECT name, instruction FROM presets WHERE kb_key = ? ORDER BY name", (kb.key,)
            ).fetchall()
        return {r["name"]: r["instruction"] for r in rows}

    def delete_preset(self, kb: KnowledgeBase, name: str) -> None:
        """The preset and its versions."""
        with self._connect() as db:
            db.execute("DELETE FROM presets WHERE kb_key = ? AND name = ?", (kb.key, name))
            db.execute("DELETE FROM preset_versions WHERE kb_key = ? AND name = ?", (kb.key, name))


def validate_kb_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c in name for c in "/\\\0"):
        raise InvalidInput("A knowledge base name needs 1 to 64 characters and no slashes.")
    return name


def _insert_kb(db: sqlite3.Connection, kb: KnowledgeBase, conflict: str = "") -> None:
    db.execute(
        f"INSERT {conflict} INTO kbs (name, key, embed_model, embed_dim, created_at, state) VALUES (?, ?, ?, ?, ?, ?)",
        (kb.name, kb.key, kb.embed_model, kb.embed_dim, kb.created_at, kb.state),
    )


def _document(kb: KnowledgeBase, row: sqlite3.Row) -> Document:
    return Document(
        doc_id=row["doc_id"],
        name=row["name"],
        kb=kb.name,
        pages=row["pages"],
        chunks=row["chunks"],
        size=row["size"],
        added_at=row["added_at"],
        status=row["status"],
        generation=row["generation"],
    )
