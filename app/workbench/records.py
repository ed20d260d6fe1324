"""The workbench's rows in the catalog: query sets and their labels, saved evaluation runs, preset
versions with their last figures, and each knowledge base's default instruction.

The tables are created with the catalog's (app/catalog.py), dropped with a knowledge base and moved by a
re-index, so that labels, runs and versions stay with it. Every function is one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from app.catalog import Catalog, KnowledgeBase
from app.errors import InvalidInput
from app.workbench.labels import Label


@dataclass(frozen=True)
class QuerySetSummary:
    name: str
    queries: int
    labels: int
    created_at: float


@dataclass(frozen=True)
class RunSummary:
    id: int
    set_name: str
    ran_at: float
    configs: list[str]  # names, baseline first


@dataclass(frozen=True)
class PresetVersion:
    name: str
    version: int
    instruction: str
    saved_at: float
    figures: dict[str, dict]  # query set -> {"ndcg@10": ..., "mrr@10": ..., "queries": ..., "at": time}


def validate_set_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput("A query set name needs 1 to 64 characters.")
    return name


# ---- query sets and labels ----------------------------------------------------------------------------


def create_set(catalog: Catalog, kb: KnowledgeBase, name: str) -> str:
    """Create the set if it does not exist yet; returns its (stripped) name."""
    name = validate_set_name(name)
    with catalog.transaction() as db:
        db.execute("INSERT OR IGNORE INTO query_sets VALUES (?, ?, ?)", (kb.key, name, time.time()))
    return name


def sets(catalog: Catalog, kb: KnowledgeBase) -> list[QuerySetSummary]:
    with catalog.transaction(write=False) as db:
        rows = db.execute(
            "SELECT s.name, s.created_at, COUNT(DISTINCT l.query) AS queries, COUNT(l.query) AS labels "
            "FROM query_sets s LEFT JOIN labels l ON l.kb_key = s.kb_key AND l.set_name = s.name "
            "WHERE s.kb_key = ? GROUP BY s.name ORDER BY s.name",
            (kb.key,),
        ).fetchall()
    return [QuerySetSummary(r["name"], r["queries"], r["labels"], r["created_at"]) for r in rows]


def require_set(catalog: Catalog, kb: KnowledgeBase, name: str) -> str:
    with catalog.transaction(write=False) as db:
        found = db.execute("SELECT 1 FROM query_sets WHERE kb_key = ? AND name = ?", (kb.key, name)).fetchone()
    if found is None:
        raise InvalidInput(
            f"No query set {name!r} in {kb.name!r}. `kb queries list --kb {kb.name}` shows the sets; "
            "`kb queries import FILE` or a label on the Search page creates one."
        )
    return name


def delete_set(catalog: Catalog, kb: KnowledgeBase, name: str) -> None:
    with catalog.transaction() as db:
        db.execute("DELETE FROM labels WHERE kb_key = ? AND set_name = ?", (kb.key, name))
        db.execute("DELETE FROM query_sets WHERE kb_key = ? AND name = ?", (kb.key, name))


def add_labels(catalog: Catalog, kb: KnowledgeBase, set_name: str, labels: Iterable[Label]) -> int:
    """Add labels to a set (created if missing), all or none; a label on the same anchor is replaced
    (a new grade for the same passage). Returns how many were written."""
    set_name = validate_set_name(set_name)
    rows = [
        (kb.key, set_name, lb.query, lb.doc, lb.page, lb.char_start, lb.char_end, lb.quote, lb.grade, time.time())
        for lb in labels
    ]
    with catalog.transaction() as db:
        db.execute("INSERT OR IGNORE INTO query_sets VALUES (?, ?, ?)", (kb.key, set_name, time.time()))
        db.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def labels(catalog: Catalog, kb: KnowledgeBase, set_name: str) -> list[Label]:
    """The set's labels in the order they were first written."""
    with catalog.transaction(write=False) as db:
        rows = db.execute(
            "SELECT * FROM labels WHERE kb_key = ? AND set_name = ? ORDER BY rowid", (kb.key, set_name)
        ).fetchall()
    return [
        Label(r["query"], r["doc"], r["grade"], r["page"], r["char_start"], r["char_end"], r["quote"]) for r in rows
    ]


# ---- evaluation runs ----------------------------------------------------------------------------------


def save_run(catalog: Catalog, kb: KnowledgeBase, set_name: str, report: dict) -> int:
    with catalog.transaction() as db:
        cursor = db.execute(
            "INSERT INTO eval_runs (kb_key, set_name, ran_at, report) VALUES (?, ?, ?, ?)",
            (kb.key, set_name, time.time(), json.dumps(report, ensure_ascii=False)),
        )
        return int(cursor.lastrowid)


def runs(catalog: Catalog, kb: KnowledgeBase) -> list[RunSummary]:
    """Saved runs, newest first."""
    with catalog.transaction(write=False) as db:
        rows = db.execute(
            "SELECT id, set_name, ran_at, report FROM eval_runs WHERE kb_key = ? ORDER BY id DESC", (kb.key,)
        ).fetchall()
    return [
        RunSummary(r["id"], r["set_name"], r["ran_at"], [c["name"] for c in json.loads(r["report"])["configs"]])
        for r in rows
    ]


def run_report(catalog: Catalog, kb: KnowledgeBase, run_id: int) -> dict:
    with catalog.transaction(write=False) as db:
        row = db.execute("SELECT report FROM eval_runs WHERE kb_key = ? AND id = ?", (kb.key, run_id)).fetchone()
    if row is None:
        raise InvalidInput(f"No saved run {run_id} in {kb.name!r}.")
    return json.loads(row["report"])


# ---- preset versions and the default instruction ------------------------------------------------------


def versions(catalog: Catalog, kb: KnowledgeBase) -> list[PresetVersion]:
    """Every saved version of every preset of the knowledge base, by name, oldest version first."""
    with catalog.transaction(write=False) as db:
        rows = db.execute(
            "SELECT * FROM preset_versions WHERE kb_key = ? ORDER BY name, version", (kb.key,)
        ).fetchall()
    return [
        PresetVersion(r["name"], r["version"], r["instruction"], r["saved_at"], json.loads(r["figures"]))
        for r in rows
    ]


def record_figures(catalog: Catalog, kb: KnowledgeBase, instruction: str, set_name: str, figures: dict) -> None:
    """Keep `figures` as the last evaluation on `set_name` of every saved version with this text."""
    with catalog.transaction() as db:
        rows = db.execute(
            "SELECT name, version, figures FROM preset_versions WHERE kb_key = ? AND instruction = ?",
            (kb.key, instruction.strip()),
        ).fetchall()
        for r in rows:
            kept = {**json.loads(r["figures"]), set_name: figures}
            db.execute(
                "UPDATE preset_versions SET figures = ? WHERE kb_key = ? AND name = ? AND version = ?",
                (json.dumps(kept, ensure_ascii=False), kb.key, r["name"], r["version"]),
            )


def set_default(catalog: Catalog, kb: KnowledgeBase, label: str, instruction: str) -> None:
    if not instruction.strip():
        raise InvalidInput("The default instruction cannot be empty.")
    with catalog.transaction() as db:
        db.execute("INSERT OR REPLACE INTO kb_defaults VALUES (?, ?, ?)", (kb.key, label, instruction.strip()))


def clear_default(catalog: Catalog, kb: KnowledgeBase) -> None:
    with catalog.transaction() as db:
        db.execute("DELETE FROM kb_defaults WHERE kb_key = ?", (kb.key,))


def default(catalog: Catalog, kb: KnowledgeBase) -> tuple[str, str] | None:
    """(label, instruction) of the knowledge base's default instruction, if one was chosen."""
    with catalog.transaction(write=False) as db:
        row = db.execute("SELECT label, instruction FROM kb_defaults WHERE kb_key = ?", (kb.key,)).fetchone()
    return None if row is None else (row["label"], row["instruction"])
