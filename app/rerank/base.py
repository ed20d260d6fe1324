"""The one interface every reranker backend implements (in-process vLLM, remote vLLM server)."""

from __future__ import annotations

from typing import Protocol


class Reranker(Protocol):
    def score(self, query: str, documents: list[str], instruction: str | None = None) -> list[float]:
        """P("yes") in [0, 1] for each document, in the documents' order.

        Args:
            query: the user's query.
            documents: candidate passages; long ones are truncated to the configured token budget.
            instruction: task instruction; None uses `app.config.DEFAULT_INSTRUCTION`.
        """
        ...

    def close(self) -> None:
        """Release the engine or connection; `score` must not be called afterwards."""
        ...
