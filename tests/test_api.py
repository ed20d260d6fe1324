"""The REST API in this process (FastAPI's TestClient) on real components: real catalog, Chroma, BM25 and
embedder; reranking off here (the engine's tests are test_api_rerank.py, a real `kb serve` test_api_serve.py).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.api_client import running_app
from app.config import is_loopback, load_settings
from app.errors import ConfigError
from tests.conftest import free_port

PUMP = b"Troubleshooting: if the pump overheats, clean the intake filter with warm water."
FAQ = b"# FAQ\n\nRefunds are issued within 14 days of purchase."


@pytest.fixture
def api(make_runtime):
    """A client for the API on a fresh data dir; api(**settings) for other settings."""

    def make(**overrides) -> TestClient:
        return TestClient(create_app(make_runtime(rerank_backend="off", **overrides)))

    return make


def upload(client: TestClient, kb: str, files: dict[str, bytes], **kwargs):
    return client.post(f"/api/kbs/{kb}/documents", files=[("files", (n, d)) for n, d in files.items()], **kwargs)


def test_every_endpoint_on_a_knowledge_base(api):
    client = api()
    assert client.get("/api/kbs").json() == {"kbs": []}

    reply = upload(client, "manuals", {"pump.txt": PUMP, "faq.md": FAQ, "scan.pdf": b"%PDF-1.7 not really"})
    assert reply.status_code == 200
    outcomes = reply.json()["outcomes"]
    assert [o["summary"] for o in outcomes[:2]] == ["pump.txt: added, 1 chunks", "faq.md: added, 1 chunks"]
    assert outcomes[2]["status"] == "failed" and outcomes[2]["summary"].startswith("scan.pdf: failed: ")
    assert set(outcomes[0]) == {"summary", "name", "status", "doc_id", "pages", "chunks", "message", "ocr_pages"}
    again = upload(client, "manuals", {"pump.txt": PUMP}).json()["outcomes"]
    assert again[0]["summary"] == "pump.txt: unchanged, 1 chunks"

    [summary] = client.get("/api/kbs").json()["kbs"]
    assert (summary["name"], summary["documents"], summary["chunks"]) == ("manuals", 2, 2)
    docs = client.get("/api/kbs/manuals/documents").json()
    assert docs["kb"] == "manuals" and [d["name"] for d in docs["documents"]] == ["faq.md", "pump.txt"]

    reply = client.post("/api/search", json={"kb": "manuals", "question": "pump overheats", "top": 1}).json()
    assert set(reply) == {"hits", "rerank_note", "timings"}
    [hit] = reply["hits"]
    assert (hit["doc"], hit["rank"], hit["recall_rank"], hit["reranked"]) == ("pump.txt", 1, 1, False)
    assert reply["rerank_note"] == "reranking is off (KB_RERANK_BACKEND=off)" and "recall_s" in reply["timings"]
    bm25 = client.post("/api/search", json={"kb": "manuals", "question": "refunds", "recall_mode": "bm25"}).json()
    assert bm25["hits"][0]["doc"] == "faq.md" and bm25["hits"][0]["dense_rank"] is None

    deleted = client.delete("/api/kbs/manuals/documents/faq.md")
    assert deleted.status_code == 200 and (deleted.json()["name"], deleted.json()["chunks"]) == ("faq.md", 1)
    assert [d["name"] for d in client.get("/api/kbs/manuals/documents").json()["documents"]] == ["pump.txt"]

    health = client.get("/api/health").json()
    assert (health["state"], health["ok"], health["selftest"]) == ("off", False, None)


def test_the_search_reply_is_what_kb_search_json_prints(api, runtime):
    """The same hit objects as the service's Hit.as_json (which `kb search --json` prints)."""
    from app.service import search

    client = TestClient(create_app(runtime))
    upload(client, "m", {"pump.txt": PUMP, "faq.md": FAQ})
    reply = client.post("/api/search", json={"kb": "m", "question": "pump", "no_rerank": True}).json()
    direct = search.run(runtime, "m", "pump", rerank=False, context=False).result
    assert reply["hits"] == [h.as_json() for h in direct.hits]
    assert reply["rerank_note"] == direct.rerank_note == "reranking switched off for this search"


def test_an_uploaded_path_keeps_only_its_file_name(api):
    client = api()
    outcomes = upload(client, "k", {"../../etc/x.txt": PUMP, "C:\\docs\\y.md": FAQ}).json()["outcomes"]
    assert [o["name"] for o in outcomes] == ["x.txt", "y.md"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("post", "/api/search", {"kb": "m"}, 422, "missing field 'question'"),
        ("post", "/api/search", None, 422, "the request has no JSON body"),
        ("post", "/api/search", {"kb": "m", "question": "x", "top_n": 3}, 422, "unknown field 'top_n' (misspelt?)"),
        ("post", "/api/search", {"kb": "m", "question": "x", "top": 0}, 422, "top: Input should be greater than 0"),
        ("post", "/api/search", {"kb": "m", "question": "x", "recall_mode": "fuzzy"}, 422, "recall_mode: Input"),
        ("post", "/api/search", {"kb": "nope", "question": "x"}, 404, "No knowledge base named 'nope'. `kb list`"),
        ("post", "/api/search", {"kb": "m", "question": "  "}, 400, "Type a question to search for."),
        ("get", "/api/kbs/nope/documents", None, 404, "No knowledge base named 'nope'"),
        ("delete", "/api/kbs/m/documents/none.pdf", None, 404, "No document 'none.pdf' in knowledge base 'm'."),
        ("post", "/v1/rerank", {"documents": ["a"]}, 422, "missing field 'query'"),
        ("post", "/v1/rerank", {"query": "q", "documents": []}, 400, "documents is empty: send at least one"),
        ("post", "/v1/rerank", {"query": "q", "documents": [{"txt": "a"}]}, 422, "documents[0]"),
        ("post", "/v1/rerank", {"query": "q", "documents": ["a"]}, 503, "reranking is off (KB_RERANK_BACKEND=off)"),
    ],
)
def test_bad_requests_get_a_message_that_names_the_fix(api, method, path, body, status, detail):
    client = api()
    upload(client, "m", {"pump.txt": PUMP})
    reply = client.request(method.upper(), path, json=body)
    assert reply.status_code == status, reply.text
    assert detail in reply.json()["detail"]
    assert "Traceback" not in reply.text


def test_an_upload_without_files_names_the_field(api):
    reply = api().post("/api/kbs/m/documents", data={"file": "x"})
    assert reply.status_code == 422 and "missing field 'files'" in reply.json()["detail"]


def test_a_body_over_the_limit_gets_413_before_it_is_read(api):
    client = api(api_max_body_mb=1)
    reply = upload(client, "m", {"big.txt": b"x" * (2 * 2**20)})
    assert reply.status_code == 413
    assert "limit of 1 MB (KB_API_MAX_BODY_MB)" in reply.json()["detail"]
    # nothing was ingested: the knowledge base was never created
    assert client.get("/api/kbs").json() == {"kbs": []}

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"y" * 2**16 * 2

    reply = client.post("/v1/rerank", content=chunks(), headers={"content-type": "application/json"})
    assert reply.status_code == 413 and "KB_API_MAX_BODY_MB" in reply.json()["detail"]


def test_a_batch_over_the_upload_limits_gets_413_and_nothing_is_ingested(api):
    client = api(max_batch_files=1)
    reply = upload(client, "m", {"a.txt": PUMP, "b.md": FAQ})
    assert reply.status_code == 413
    assert reply.json()["detail"].startswith("2 files is more than the 1 one batch may add (KB_MAX_BATCH_FILES)")
    assert client.get("/api/kbs").json() == {"kbs": []}
    [outcome] = upload(api(max_file_mb=1), "m", {"big.txt": b"word " * 2**18}).json()["outcomes"]
    assert outcome["summary"].startswith("big.txt: failed: ") and "KB_MAX_FILE_MB" in outcome["summary"]


def test_kb_ingest_through_the_app_skips_links_out_of_a_folder(api, tmp_path):
    """The CLI's client walks folders as `kb ingest` does in-process: a link that leaves the folder is skipped
    with a reason (unless follow_symlinks), and a folder with nothing to ingest is refused."""
    from app.api_client import ApiClient
    from app.errors import NothingToIngest

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"Outside the folder.")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pump.txt").write_bytes(PUMP)
    (folder / "secret.txt").symlink_to(outside / "secret.txt")
    client = ApiClient("http://testserver")
    client._http = api()  # the app in this process, over its ASGI transport
    settings = load_settings()
    lines = [o["summary"] for o in client.ingest_paths("m", [folder], settings)]
    assert lines[0] == "pump.txt: added, 1 chunks"
    assert lines[1].startswith("secret.txt: skipped: a link to ") and "--follow-symlinks" in lines[1]
    followed = [o["summary"] for o in client.ingest_paths("m", [folder], settings, follow_symlinks=True)]
    assert followed == ["pump.txt: unchanged, 1 chunks", "secret.txt: added, 1 chunks"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NothingToIngest, match="nothing to ingest in .*empty: no files of a supported type"):
        list(client.ingest_paths("m", [empty], settings))


def test_a_configured_token_is_required_on_every_route(api):
    client = api(api_token="s3cret")
    for path in ("/api/health", "/api/kbs"):
        missing = client.get(path)
        assert missing.status_code == 401 and "Authorization: Bearer" in missing.json()["detail"]
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "Wrong bearer token" in wrong.json()["detail"]
        assert client.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    refused = client.post("/api/search", json={"kb": "m", "question": "x"})
    assert refused.status_code == 401
    assert upload(client, "m", {"a.txt": PUMP}).status_code == 401


def test_the_openapi_page_documents_the_routes_and_their_errors(api):
    client = api()
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/health", "/api/kbs", "/api/kbs/{kb}/documents", "/api/kbs/{kb}/documents/{doc}", "/api/search",
        "/v1/rerank",
    }
    search = spec["paths"]["/api/search"]["post"]
    assert {"200", "400", "401", "404", "413", "422"} <= set(search["responses"])
    assert spec["components"]["securitySchemes"]["KB_API_TOKEN"]["scheme"] == "bearer"
    assert "instruction" in spec["components"]["schemas"]["RerankRequest"]["properties"]


def test_the_api_beyond_loopback_needs_a_token():
    with pytest.raises(ConfigError, match="KB_API_HOST=0.0.0.0 exposes the API beyond this machine: set KB_API_TOKEN"):
        load_settings(env={"KB_API_HOST": "0.0.0.0"})
    assert load_settings(env={"KB_API_HOST": "0.0.0.0", "KB_API_TOKEN": "t"}).api_token == "t"
    hosts = ("127.0.0.1", "127.0.0.2", "::1", "localhost", "0.0.0.0", "10.1.2.3", "example")
    assert [is_loopback(h) for h in hosts] == [True, True, True, True, False, False, False]
    assert load_settings(env={"KB_API_PORT": "9000"}).api_base_url == "http://127.0.0.1:9000"
    assert load_settings(env={"KB_API_URL": "http://h:1/"}).api_base_url == "http://h:1"
    with pytest.raises(ConfigError, match="KB_API_PORT must be a TCP port"):
        load_settings(env={"KB_API_PORT": "70000"})


def test_without_a_running_app_the_cli_says_so_and_works_here(capsys):
    settings = load_settings(api_port=free_port())
    assert running_app(settings, "searching") is None
    note = f"note: no running app at {settings.api_base_url}; searching in-process (slower)\n"
    assert capsys.readouterr().err == note
