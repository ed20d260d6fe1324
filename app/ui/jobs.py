"""Long work for a page (an evaluation, Suggest) in a background thread, with progress and cancel.

Streamlit reruns the page script on every click, so work that takes minutes cannot run inside it: a
`Job` runs it in a thread, the page keeps the job in `st.session_state` and polls it from a fragment;
Cancel sets the job's event, which the work checks between batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.errors import KBError

log = logging.getLogger(__name__)


@dataclass
class Job:
    title: str
    stage: str = "starting"
    done: int = 0
    total: int = 0
    result: object = None
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total


def start(title: str, work: Callable[[Job], object]) -> Job:
    """Run `work(job)` in a daemon thread; its return value lands in `job.result`, a KBError's message
    (cancellation included) in `job.error`."""
    job = Job(title)

    def run() -> None:
        try:
            job.result = work(job)
        except KBError as exc:
            job.error = str(exc)
        except Exception as exc:  # shown on the page instead of dying silently in a thread
            log.warning("%s failed", title, exc_info=True)
            detail = " ".join(str(exc).split())[:200]
            job.error = f"The {title} stopped on an unexpected error" + (f": {detail}" if detail else " (see the log)")
        finally:
            job.finished.set()

    threading.Thread(target=run, name=f"job-{title}", daemon=True).start()
    return job
