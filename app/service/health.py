"""Is the reranker fit to rank? The engine's state plus the self-test verdict, the test run once per
loaded engine.

A reranker can load and still rank badly (constant, flat or inverted scores: wrong weights, a prompt
that does not match the model, "yes"/"no" swapped). So once an engine is ready its self-test runs by
itself, once, in a background thread, and the verdict is kept next to that engine: `/api/health` and the
Search page read it without ever waiting for it.

Example:
    >>> watch(rt)                      # at server start: load the engine, then self-test it
    >>> engine_health(rt).as_json()    # later, at once
    {'state': 'ready', 'model': '/models/tiny', 'device': 'CPU', 'ok': True, 'reason': '',
     'load_seconds': 23.4, 'selftest': {'status': 'ok', 'message': 'relevant passages win all 3 pairs', ...}}
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from app.errors import RerankerUnavailable
from app.runtime import Runtime
from app.selftest import Verdict
from app.service.status import reranker_facts, selftest


class _Check:
    """The self-test of one loaded engine: run by the first caller, read by every later one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcome: Verdict | str | None = None  # the verdict, or why the test could not run


_checks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loaded engine -> _Check
_checks_lock = threading.Lock()


@dataclass(frozen=True)
class Health:
    state: str  # off | not loaded | loading | ready | failed (as on the Status page)
    model: str
    device: str
    verdict: Verdict | None  # None until the self-test has run on the loaded engine
    reason: str  # what is wrong, in words for the user; "" when nothing is (yet)
    load_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """Ready and passed its self-test (False while loading or testing, too)."""
        return self.state == "ready" and self.verdict is not None and self.verdict.ok

    def as_json(self) -> dict:
        verdict = self.verdict
        return {
            "state": self.state,
            "model": self.model,
            "device": self.device,
            "ok": self.ok,
            "reason": self.reason,
            "load_seconds": self.load_seconds,
            "selftest": None
            if verdict is None
            else {"status": verdict.status, "ok": verdict.ok, "message": verdict.message,
                  "pair_scores": [list(pair) for pair in verdict.pair_scores]},
        }


def engine_health(rt: Runtime) -> Health:
    """The reranker's health now. Never waits: while the engine loads or its self-test runs, the verdict
    is None (and a ready engine that was never tested gets its self-test started)."""
    facts = reranker_facts(rt)
    engine = rt.reranker.engine if facts.state == "ready" else None
    if engine is None:
        return Health(facts.state, facts.model, facts.device, None, facts.error, facts.load_seconds)
    check, new = _check_of(engine)
    if new:
        threading.Thread(target=checked_selftest, args=(rt,), name="rerank-selftest", daemon=True).start()
    outcome = check.outcome
    verdict = outcome if isinstance(outcome, Verdict) else None
    if isinstance(outcome, str):
        reason = outcome
    elif verdict is not None and not verdict.ok:
        reason = f"self-test {verdict.status}: {verdict.message}"
    else:
        reason = ""
    return Health(facts.state, facts.model, facts.device, verdict, reason, facts.load_seconds)


def watch(rt: Runtime) -> threading.Thread:
    """Load the reranker in a background thread (if it is not loaded) and self-test it once ready."""

    def load_and_test() -> None:
        try:
            rt.reranker.ensure_loaded()
        except RerankerUnavailable:
            return  # remembered by the service: health reports state "failed" and the reason
        checked_selftest(rt)

    thread = threading.Thread(target=load_and_test, name="rerank-health", daemon=True)
    thread.start()
    return thread


def checked_selftest(rt: Runtime) -> Verdict | None:
    """The loaded engine's self-test verdict, running the test if nobody has (a second caller waits for
    the first). None if no engine is loaded or the test could not run."""
    engine = rt.reranker.engine
    if engine is None:
        return None
    check, _ = _check_of(engine)
    with check.lock:
        if check.outcome is None:
            try:
                check.outcome = selftest(rt, None)
            except RerankerUnavailable as exc:
                check.outcome = f"the self-test could not run: {exc}"
    return check.outcome if isinstance(check.outcome, Verdict) else None


def _check_of(engine) -> tuple[_Check, bool]:
    with _checks_lock:
        check = _checks.get(engine)
        if check is None:
            check = _checks[engine] = _Check()
            return check, True
        return check, False
