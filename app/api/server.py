"""The API served by uvicorn in a daemon thread of the app's process, so it shares the app's Runtime.

The port is bound here, before uvicorn starts: a port in use is one clear line on stderr and the app goes
on without the API, instead of uvicorn's exit in a background thread.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time

from app.runtime import Runtime

STARTUP_WAIT_S = 10.0


class ApiServer:
    def __init__(self, server, thread: threading.Thread, url: str):
        self._server = server
        self.thread = thread
        self.url = url

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self.thread.join(timeout)


def start(rt: Runtime, signed_in: bool = False) -> ApiServer | None:
    """Serve the API on KB_API_HOST:KB_API_PORT; returns None (after saying why) if it cannot listen.
    `signed_in`: sign-in is configured, so the API takes personal tokens only (app/api/deps.py)."""
    import uvicorn

    from app.api.app import create_app

    host, port = rt.settings.api_host, rt.settings.api_port
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else str(exc)
        print(
            f"kb API not started: cannot listen on {host}:{port} ({why}); the app runs without it. "
            "Set KB_API_PORT to a free port (or stop what uses it) and restart.",
            file=sys.stderr,
            flush=True,
        )
        return None
    # log_config=None: leave the process's logging (Streamlit's) as it is; uvicorn's own errors still show.
    config = uvicorn.Config(
        create_app(rt, signed_in=signed_in), log_config=None, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kb-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_WAIT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    print(f"  kb API: {url}  (OpenAPI docs at {url}/docs)", file=sys.stderr, flush=True)
    return ApiServer(server, thread, url)
