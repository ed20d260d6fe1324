"""The app with a reranker: the failure banner when it cannot load, and real reranking on the tiny
random Qwen3 reranker in vLLM (one engine for this module, shared through the app's resource cache)."""

from __future__ import annotations

import time

import pytest

from app.rerank.service import EngineState
from tests.fixtures_rerank import TINY_MAX_DOC_TOKENS
from tests.test_app_pages import MAIN, click, manual_pdf, seed, shown


def start(page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(MAIN, default_timeout=300).run()
    if page:
        at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def settled(service, seconds: float = 300) -> None:
    """Wait until the reranker has loaded or failed (the page never waits for it)."""
    deadline = time.monotonic() + seconds
    while service.state in (EngineState.NOT_LOADED, EngineState.LOADING):
        assert time.monotonic() < deadline, f"the reranker is still {service.state} ({service.loading_note()})"
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("/nonexistent/qwen3-reranker", "reranker model directory /nonexistent/qwen3-reranker does not exist"),
        # The embedded default: no GPU here, so Qwen3-Reranker-0.6B, which is not cached on this machine.
        ("", "model Qwen/Qwen3-Reranker-0.6B is not available offline"),
    ],
)
def test_an_unloadable_reranker_gives_results_under_a_banner_with_the_reason(monkeypatch, model, reason):
    monkeypatch.setenv("KB_RERANK_BACKEND", "vllm")
    monkeypatch.setenv("KB_RERANK_MODEL", model)
    seed("manuals", {"manual.pdf": manual_pdf()})
    at = start()
    from app.ui import resources

    settled(resources.runtime().reranker, 60)  # it fails within seconds, without hanging on a download
    at.text_input(key="query").input("pump overheats")
    click(at, "Search")
    assert not at.exception, at.exception
    banner = shown(at.warning[0].value)
    assert banner.startswith("Results are in recall order: reranking is off: ") and reason in banner
    cards = [h.value for h in at.html if "<b>#" in h.value]
    assert cards and "recall #1" in cards[0]

    at.switch_page("../pages/status.py").run()
    assert "Engine: **failed**" in "\n".join(m.value for m in at.markdown)
    assert reason in shown(at.error[0].value)
    click(at, "Retry loading")
    assert not at.exception, at.exception


@pytest.mark.slow
def test_search_reranks_with_the_tiny_model_and_status_reports_the_engine(monkeypatch, tiny_reranker_dir):
    from app.ui import resources

    monkeypatch.setenv("KB_RERANK_BACKEND", "vllm")
    monkeypatch.setenv("KB_RERANK_MODEL", str(tiny_reranker_dir))
    monkeypatch.setenv("KB_MAX_DOC_TOKENS", str(TINY_MAX_DOC_TOKENS))
    # BM25 has run in this process before the engine starts (bm25s imports numba/llvmlite), as in the app.
    seed("manuals", {"manual.pdf": manual_pdf(), "notes.md": b"# Notes\n\nRefunds are issued within 14 days.\n"})
    service = resources.runtime().reranker
    assert service.state is EngineState.NOT_LOADED
    at = start()  # the first visit to Search starts loading the engine in the background
    assert service.state in (EngineState.LOADING, EngineState.READY)
    at.text_input(key="query").input("pump overheats")
    at.toggle(key="compare").set_value(True)
    click(at, "Search")  # answers at once, in recall order, while the engine starts
    assert not at.exception, at.exception
    if service.state != EngineState.READY:
        early = at.session_state["search_answer"].result
        assert early.waiting_for_reranker and early.hits and not early.reranked
        assert shown(at.warning[0].value).startswith("Results are in recall order: the reranker is still loading (")
        assert any(i.value.startswith("The reranker is starting (") for i in at.info)
    settled(service)
    assert service.stage == "warming up"  # the last stage vLLM's log announced (app.rerank.stages)
    at.run()  # the next rerun finds the engine ready and reranks the answer on screen
    assert not at.exception, at.exception
    assert not at.warning, [w.value for w in at.warning]
    view = at.session_state["search_answer"]
    assert view.result.reranked and all(h.reranked for h in view.result.hits)
    assert not any(h.reranked for h in view.result.recall_hits)
    left, right = at.main.columns[-2], at.main.columns[-1]
    reranked_cards = [h.value for h in left.get("html") if "<b>#" in h.value]
    recall_cards = [h.value for h in right.get("html") if "<b>#" in h.value]
    first = view.result.hits[0]
    assert f"{first.candidate.recall_rank} → 1" in reranked_cards[0]
    assert "rerank score" in reranked_cards[0] and "recall #1" in recall_cards[0]
    scores = [h.score for h in view.result.hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)

    at.switch_page("../pages/status.py").run()
    text = shown("\n".join(m.value for m in at.markdown))
    assert "Backend vllm" in text and str(tiny_reranker_dir) in text
    assert "device **CPU**" in text and "Engine: **ready** in " in text
    click(at, "Run self-test")
    assert not at.exception, at.exception
    verdict = shown((at.success or at.error)[0].value)
    assert verdict.split(":")[0] in {"ok", "constant", "inverted", "inconsistent"}
    table = at.dataframe[0].value
    assert len(table) == 3 and set(table.columns) == {"query", "relevant", "irrelevant"}


def test_an_inverted_reranker_puts_a_red_banner_on_the_search_page(monkeypatch, inverted_reranker_dir):
    from app.service import health
    from app.ui import resources

    monkeypatch.setenv("KB_RERANK_BACKEND", "vllm")
    monkeypatch.setenv("KB_RERANK_MODEL", str(inverted_reranker_dir))
    monkeypatch.setenv("KB_MAX_DOC_TOKENS", str(TINY_MAX_DOC_TOKENS))
    seed("manuals", {"manual.pdf": manual_pdf()})
    at = start()  # the first visit starts the engine; the page, once it is ready, starts its self-test
    rt = resources.runtime()
    settled(rt.reranker)
    deadline = time.monotonic() + 120
    while health.engine_health(rt).verdict is None:
        assert time.monotonic() < deadline, "the self-test did not finish"
        time.sleep(0.2)
    at.run()
    assert not at.exception, at.exception
    (banner,) = [shown(e.value) for e in at.error]
    assert banner.startswith("The reranker failed its self-test") and "inverted" in banner
    assert health.engine_health(rt).as_json()["selftest"]["status"] == "inverted"  # what /api/health says
