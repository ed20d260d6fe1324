"""A sampling profiler for slow starts: where the seconds go, without cProfile's overhead on every call.

A daemon thread looks at every other thread's stack every `interval` seconds; each function seen on a stack
in a sample is counted once for it (inclusive time). `top()` gives the functions that were on the stack
longest, so "22 s inside huggingface_hub's HTTP retry" shows up as such.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter


class StackSampler:
    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.samples = 0
        self._counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        own = threading.get_ident()
        while not self._stop.wait(self.interval):
            seen: set[str] = set()
            for ident, frame in sys._current_frames().items():
                if ident == own:
                    continue
                while frame is not None:
                    code = frame.f_code
                    seen.add(f"{_short(code.co_filename)}:{code.co_firstlineno} {code.co_qualname}")
                    frame = frame.f_back
            self._counts.update(seen)
            self.samples += 1

    def top(self, n: int = 40, contains: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        """The `n` functions on the stack longest, as (function, seconds); only those whose name contains
        one of `contains` when given."""
        rows = [(f, c * self.interval) for f, c in self._counts.most_common()]
        return [r for r in rows if not contains or any(s in r[0] for s in contains)][:n]


def _short(path: str) -> str:
    """The path from the package folder on ('vllm/config/model.py'), not the site-packages prefix."""
    for marker in ("site-packages/", "dist-packages/", "/tmp/site/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path

