"""Which stage a starting vLLM engine is in, read from its own log lines, for the Search page's banner.

vLLM says what it does as it starts ("Starting to load model", "torch.compile took", "Graph capturing
finished", ...). vLLM (re)configures its logger from a dict each time it sets logging up, replacing any
handler added by hand; so `install()` hands it a logging config of our own (`VLLM_LOGGING_CONFIG_PATH`)
before vLLM is first imported: vLLM's terminal handler as before, at `VLLM_LOGGING_LEVEL`, plus a handler
that reads INFO lines and tells the listener `watching()` set which stage began. What reaches the
terminal does not change.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STARTING = "starting vLLM (imports, configuration)"
# (text in a vLLM log line, the stage that begins with it), in the order they appear
_MARKS = (
    ("Starting to load model", "loading weights"),
    ("Model loading took", "compiling (torch.compile)"),
    ("Loading weights took", "preparing the engine"),
    ("torch.compile took", "profiling memory"),
    ("Available KV cache memory", "capturing CUDA graphs"),
    ("init engine", "warming up"),
)
_listener: Callable[[str], None] | None = None
_lock = threading.Lock()


def stage_of(message: str) -> str | None:
    """The stage a vLLM log line starts, if it starts one."""
    return next((stage for mark, stage in _MARKS if mark in message), None)


# vLLM warnings that do not apply to this project, kept off the terminal: the project formats the official
# Qwen3-Reranker prompt itself, the engine runs in-process and without CUDA graphs on purpose
# (vllm_engine.py), scoring draws no random numbers, and tuning hints for vLLM's developers are no faults.
_IRRELEVANT = (
    "without a --chat-template",
    "torch.set_num_threads",
    "is not found in LD_PRELOAD",
    "Failed to create oneDNN linear",
    "The global random seed is set to",
    "Skipping CUDA graph capture",
    "Triton kernel JIT compilation during inference",
)


class IrrelevantWarnings(logging.Filter):
    """Named in the logging config: drops the _IRRELEVANT lines from the terminal handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _IRRELEVANT)


class StageHandler(logging.Handler):
    """Named in the logging config `install()` writes; vLLM's dictConfig builds it."""

    def emit(self, record: logging.LogRecord) -> None:
        listener = _listener
        stage = stage_of(record.getMessage()) if listener is not None else None
        if stage is not None:
            listener(stage)


def install() -> None:
    """Point vLLM at our logging config (once per process, before vLLM is imported; an existing
    VLLM_LOGGING_CONFIG_PATH or VLLM_CONFIGURE_LOGGING=0 is left alone)."""
    with _lock:
        if "VLLM_LOGGING_CONFIG_PATH" in os.environ or os.environ.get("VLLM_CONFIGURE_LOGGING") == "0":
            return
        level = os.environ.get("VLLM_LOGGING_LEVEL", "INFO").upper()
        stream = os.environ.get("VLLM_LOGGING_STREAM", "ext://sys.stdout")
        config = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"vllm": {"format": "%(levelname)s %(asctime)s [%(filename)s:%(lineno)d] %(message)s",
                                    "datefmt": "%m-%d %H:%M:%S"}},
            "filters": {"irrelevant": {"()": f"{__name__}.IrrelevantWarnings"}},
            "handlers": {
                "vllm": {"class": "logging.StreamHandler", "formatter": "vllm", "level": level, "stream": stream,
                         "filters": ["irrelevant"]},
                "kb_stages": {"()": f"{__name__}.StageHandler", "level": "INFO"},
            },
            "loggers": {"vllm": {"handlers": ["vllm", "kb_stages"], "level": "INFO", "propagate": False}},
        }
        fd, path = tempfile.mkstemp(prefix="kb-vllm-logging-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        os.environ["VLLM_LOGGING_CONFIG_PATH"] = path


@contextmanager
def watching(on_stage: Callable[[str], None]) -> Iterator[None]:
    """Call `on_stage(stage)` as the vLLM engine started inside this block reaches each stage."""
    global _listener
    install()
    on_stage(STARTING)
    _listener = on_stage
    try:
        yield
    finally:
        _listener = None
