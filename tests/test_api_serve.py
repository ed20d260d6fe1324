"""A real `kb serve` (Streamlit server subprocess, tiny Qwen3 reranker in its vLLM engine) serving the
REST API from the server's start, with no browser visit; the `kb` CLI through it and without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from app.catalog import Catalog
from app.config import load_settings
from app.query_history import KEPT
from tests.conftest import free_port
from tests.fixtures_docs import make_pdf
from tests.fixtures_rerank import TINY_MAX_DOC_TOKENS
from tests.test_browser import _stop_group

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "vllm", "chromadb", "sentence_transformers", "transformers")


def wait_for(check, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, httpx.HTTPError):
            result = None
        if result:
            return result
        time.sleep(0.3)
    pytest.fail(f"{what} not within {seconds:.0f} s; server log:\n{log.read_text()[-3000:]}")


def serve(tmp: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    log = tmp / f"serve-{env['KB_API_PORT']}.log"
    with open(log, "w") as out:
        # its own process group: streamlit and its threads all stop at the end
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", env["UI_PORT"]],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return proc, log


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, tiny_reranker_dir):
    """`kb serve` with the tiny reranker; yields (API URL, environment for `kb` commands, log path)."""
    tmp = tmp_path_factory.mktemp("serve")
    api_port = str(free_port())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KB_")},
        "KB_DATA_DIR": str(tmp / "data"),
        "KB_RERANK_MODEL": str(tiny_reranker_dir),
        "KB_MAX_DOC_TOKENS": str(TINY_MAX_DOC_TOKENS),
        "KB_API_PORT": api_port,
        "UI_PORT": str(free_port()),
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    proc, log = serve(tmp, env)
    url = f"http://127.0.0.1:{api_port}"
    try:
        # No browser ever opens the app: the API and the engine start with the server.
        wait_for(lambda: httpx.get(f"{url}/api/health", timeout=2).status_code == 200, 120, "the API", log)
        wait_for(lambda: httpx.get(f"{url}/api/health", timeout=2).json()["selftest"], 300, "the self-test", log)
        yield url, env, log
    finally:
        _stop_group(proc)


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "sub").mkdir()
    (folder / "manual.pdf").write_bytes(
        make_pdf(
            [
                "Installation: unpack the archive and run the installer.",
                "Configuration: the port is set in settings.ini.",
                "Troubleshooting: if the pump overheats, clean the intake filter.",
            ]
        )
    )
    (folder / "sub" / "faq.md").write_text("# FAQ\n\nRefunds are issued within 14 days of purchase.\n")
    return folder


def kb(env: dict, *args: str, check: bool = True, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *python, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_the_api_serves_every_endpoint_with_the_apps_engine(app_server, docs):
    url, env, _log = app_server
    http = httpx.Client(base_url=url, timeout=120)
    health = http.get("/api/health").json()
    assert (health["state"], health["device"], health["model"]) == ("ready", "CPU", env["KB_RERANK_MODEL"])
    assert health["selftest"]["status"] in ("ok", "constant", "inverted", "inconsistent")

    files = [("files", ("manual.pdf", (docs / "manual.pdf").read_bytes())), ("files", ("faq.md", b"Refunds."))]
    outcomes = http.post("/api/kbs/http/documents", files=files).json()["outcomes"]
    assert [o["summary"] for o in outcomes] == ["manual.pdf: added, 3 pages, 3 chunks", "faq.md: added, 1 chunks"]
    assert {"name": "http", "documents": 2, "chunks": 4}.items() <= http.get("/api/kbs").json()["kbs"][0].items()
    names = [d["name"] for d in http.get("/api/kbs/http/documents").json()["documents"]]
    assert names == ["faq.md", "manual.pdf"]

    reply = http.post("/api/search", json={"kb": "http", "question": "pump overheats", "top": 4, "recall": 4}).json()
    hits = reply["hits"]
    assert reply["rerank_note"] == "" and len(hits) == 4 and all(h["reranked"] for h in hits)
    # /v1/rerank is the same engine and prompt: the candidates in recall order score as the search scored them
    by_recall = sorted(hits, key=lambda h: h["recall_rank"])
    body = {"query": "pump overheats", "documents": [h["text"] for h in by_recall]}
    results = http.post("/v1/rerank", json=body).json()["results"]
    scores = {r["index"]: r["relevance_score"] for r in results}
    assert [scores[i] for i in range(4)] == [h["score"] for h in by_recall]  # exactly

    assert http.delete("/api/kbs/http/documents/faq.md").json()["name"] == "faq.md"
    assert http.post("/api/search", json={"kb": "nope", "question": "x"}).status_code == 404
    assert http.get("/docs").status_code == 200


def test_the_cli_through_the_app_prints_what_it_prints_in_process(app_server, docs):
    url, env, _log = app_server
    local = {**env, "KB_API_URL": f"http://127.0.0.1:{free_port()}"}  # nothing there: in-process

    def both(*args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        via_app, here = kb(env, *args), kb(local, *args)
        assert "no running app" not in via_app.stderr
        assert f"note: no running app at {local['KB_API_URL']};" in here.stderr
        return via_app, here

    via_app = kb(env, "ingest", str(docs), "--kb", "cli")
    here = kb(local, "ingest", str(docs), "--kb", "cli-local")
    assert via_app.stdout.splitlines() == ["manual.pdf: added, 3 pages, 3 chunks", "faq.md: added, 1 chunks"]
    assert here.stdout == via_app.stdout
    assert "ingesting in-process (slower)" in here.stderr

    for args, line in ((["list"], "cli\tdocuments=2\tchunks=4\t"), (["list", "--kb", "cli"], "manual.pdf\tpages=3\t")):
        via_app, here = both(*args)
        assert via_app.stdout == here.stdout and line in via_app.stdout
    for args in (["--json"], []):
        via_app, here = both("search", "pump overheats", "--kb", "cli", "--no-rerank", *args)
        assert via_app.stdout == here.stdout and "manual.pdf" in via_app.stdout
        assert "searching in-process (slower)" in here.stderr
    assert "note: reranking switched off for this search" in via_app.stderr

    reranked = kb(env, "search", "pump overheats", "--kb", "cli", "--json", "--top", "4", "--recall", "4")
    hits = json.loads(reranked.stdout)
    assert isinstance(hits, list) and len(hits) == 4 and all(h["reranked"] for h in hits)
    assert "rerank" in kb(env, "search", "pump", "--kb", "cli").stderr  # the timings line: recall, rerank

    missing_app, missing_here = kb(env, "search", "x", "--kb", "nope", check=False), kb(
        local, "search", "x", "--kb", "nope", check=False
    )
    assert missing_app.returncode == missing_here.returncode == 2
    assert missing_app.stderr.splitlines()[-1] == missing_here.stderr.splitlines()[-1]
    assert missing_app.stderr.startswith("error: No knowledge base named 'nope'.")

    assert kb(env, "delete", "faq.md", "--kb", "cli").stdout == "deleted faq.md (1 chunks) from cli\n"
    assert kb(local, "delete", "faq.md", "--kb", "cli-local").stdout == "deleted faq.md (1 chunks) from cli-local\n"


def test_a_cli_search_through_the_app_loads_no_model_stack(app_server, docs):
    _url, env, _log = app_server
    kb(env, "ingest", str(docs / "sub"), "--kb", "light")
    proc = kb(env, "search", "refunds", "--kb", "light", python=("-X", "importtime"))
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & set(HEAVY), imported & set(HEAVY)
    assert "httpx" in imported and proc.stdout.startswith("1. ")


def test_a_port_in_use_leaves_the_app_running_without_the_api(app_server, tmp_path):
    url, env, _log = app_server
    taken = {**env, "KB_RERANK_BACKEND": "off", "KB_DATA_DIR": str(tmp_path / "data"), "UI_PORT": str(free_port())}
    taken["KB_API_PORT"] = url.rsplit(":", 1)[1]  # the first server holds it
    proc, log = serve(tmp_path, taken)
    try:
        ui = f"http://127.0.0.1:{taken['UI_PORT']}/_stcore/health"
        wait_for(lambda: urllib.request.urlopen(ui, timeout=2).status == 200, 90, "the web app", log)
        wait_for(lambda: "kb API not started" in log.read_text(), 60, "the API's note", log)
        assert proc.poll() is None
        note = [line for line in log.read_text().splitlines() if "kb API" in line]
        assert note == [
            f"kb API not started: cannot listen on 127.0.0.1:{taken['KB_API_PORT']} (the port is in use); the app "
            "runs without it. Set KB_API_PORT to a free port (or stop what uses it) and restart."
        ]
        assert "Traceback" not in log.read_text()
    finally:
        _stop_group(proc)


def test_a_stopped_server_keeps_its_last_queries_coverage(tmp_path):
    """Fewer searches than a batch of the knowledge base's query history: written when the server stops."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KB_")},
        "KB_DATA_DIR": str(tmp_path / "data"), "KB_RERANK_BACKEND": "off", "KB_API_PORT": str(free_port()),
        "UI_PORT": str(free_port()), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    proc, log = serve(tmp_path, env)
    try:
        url = f"http://127.0.0.1:{env['KB_API_PORT']}"
        wait_for(lambda: httpx.get(f"{url}/api/health", timeout=2).status_code == 200, 120, "the API", log)
        http = httpx.Client(base_url=url, timeout=120)
        files = [("files", ("faq.md", b"Refunds are issued within 14 days of purchase."))]
        assert http.post("/api/kbs/faq/documents", files=files).status_code == 200
        for question in ("refund", "how many days", "purchase"):
            assert http.post("/api/search", json={"kb": "faq", "question": question}).status_code == 200
    finally:
        _stop_group(proc)
    catalog = Catalog(load_settings(data_dir=tmp_path / "data").catalog_path)
    assert len(catalog.query_coverage(catalog.get_kb("faq"), KEPT)) == 3, log.read_text()[-3000:]


def test_serve_refuses_an_exposed_api_without_a_token(tmp_path):
    env = {**os.environ, "KB_API_HOST": "0.0.0.0"}
    proc = kb(env, "serve", "--port", str(free_port()), check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: KB_API_HOST=0.0.0.0 exposes the API beyond this machine: set KB_API_TOKEN")
    refused = kb(os.environ.copy(), "serve", "--api-address", "0.0.0.0", check=False)
    assert refused.returncode == 2 and "set KB_API_TOKEN" in refused.stderr


@pytest.mark.skipif(not (ROOT.parent / "shared" / "eval" / "cisi").exists(), reason="needs ../shared/eval/cisi")
def test_the_api_benchmark_runs(tmp_path):
    out = tmp_path / "api.json"
    args = ["--docs", "5", "--runs", "2", "--in-process-runs", "1", "--concurrent-requests", "8", "--no-direct"]
    proc = subprocess.run([sys.executable, "scripts/bench_api.py", *args, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["kb_search"]["via_app"]["runs"] == 2 and report["api_search"]["8_clients"]["runs"] == 8
    assert report["v1_rerank"]["pairs_per_s"] > 0 and "/v1/rerank, 100 docs" in proc.stdout
