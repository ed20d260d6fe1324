"""Waiting for a server a test started (`kb serve`, `vllm serve`) to answer its health check."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path


def wait_until_healthy(
    proc: subprocess.Popen, health_url: str, log: Path, timeout_s: float = 90, what: str = "kb serve"
) -> None:
    """Return once `health_url` answers 200. Fails with the end of the server's `log` if the server exits
    first, or when it has not answered within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, Path(log).read_text()[-3000:]
        try:
            with urllib.request.urlopen(health_url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{what} did not become healthy in {timeout_s:.0f} s"
        time.sleep(0.2)
