"""Helpers for the Upload page: progress through the pipeline's stages, and outcome labels."""

from __future__ import annotations

from ingest.loaders import SUPPORTED_EXTENSIONS
from ingest.pipeline import IngestOutcome

ACCEPTED_TYPES = [ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS]  # for st.file_uploader

# Share of the bar each stage fills; embedding dominates the time on CPU.
_STAGES = {"parse": (0.0, 0.1), "chunk": (0.1, 0.2), "embed": (0.2, 0.9), "store": (0.9, 1.0)}


def progress_fraction(stage: str, done: int, total: int) -> float:
    """Overall progress in [0, 1] for the pipeline's callback (stage, done, total)."""
    start, end = _STAGES.get(stage, (0.0, 1.0))
    part = done / total if total > 0 else 1.0
    return min(1.0, max(0.0, start + (end - start) * part))


def progress_text(name: str, stage: str, done: int, total: int) -> str:
    """'report.pdf: embed 3/7 chunks' (the name as it is: pages pass it through `app.ui.text.literal`)."""
    counts = f" {done}/{total} chunks" if stage == "embed" else ""
    return f"{name}: {stage}{counts}"


def outcome_label(outcome: IngestOutcome) -> str:
    """One line for the file's status box, e.g. 'report.pdf: added, 3 pages, 7 chunks' (the name as it is:
    pages pass it through `app.ui.text.literal`)."""
    return outcome.line()


def outcome_state(outcome: IngestOutcome) -> str:
    """The `st.status` state: 'error' for a failure, 'complete' otherwise."""
    return "complete" if outcome.ok else "error"
