"""The real bundled embedder, loaded once per test session, and runtimes that share it."""

from __future__ import annotations

import pytest

from app.config import load_settings
from app.runtime import Runtime


@pytest.fixture(scope="session")
def embedder():
    from app.embed import Embedder

    return Embedder(load_settings(env={}).embed_model)


@pytest.fixture
def make_runtime(embedder):
    """Build a Runtime on the test's data dir (KB_* from the environment, plus overrides),
    sharing the session's embedder so each test does not load the model again."""

    def make(**overrides) -> Runtime:
        return Runtime(load_settings(**overrides), embedder=embedder)

    return make


@pytest.fixture
def runtime(make_runtime) -> Runtime:
    return make_runtime(rerank_backend="off")
