"""RemoteReranker against a real HTTP server that speaks vLLM's /score protocol.

The server is stdlib `http.server`; it scores what it receives the way `vllm serve` does without a chat
template (tokenize text_1 + text_2, classify), using the session's tiny vLLM engine. So the remote
client must produce exactly the in-process engine's scores, and answers are shuffled to check `index`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.errors import RerankerUnavailable
from app.rerank.remote import RemoteReranker

pytestmark = pytest.mark.slow  # the fake server scores with the session's vLLM engine

DOCS = ["Paris is the capital of France.", "Bananas are yellow.", "法国的首都是巴黎。", "Lyon is a city."]


@pytest.fixture
def vllm_like_server(tiny_vllm_reranker):
    engine, tokenizer = tiny_vllm_reranker, tiny_vllm_reranker.tokenizer
    lock = threading.Lock()
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._send(200, {}) if self.path == "/health" else self._send(404, {"error": "not found"})

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(request)
            if request["model"] == "slow":  # the client gives up first; the engine is never touched
                time.sleep(2)
                return
            with lock:
                ids = [tokenizer.encode(request["text_1"] + t2, add_special_tokens=False) for t2 in request["text_2"]]
            scores = engine.score_prompts(ids)
            data = [{"index": i, "object": "score", "score": s} for i, s in enumerate(scores)][::-1]
            self._send(200, {"id": "score-1", "object": "list", "model": request["model"], "data": data})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_remote_scores_equal_in_process_scores(vllm_like_server, tiny_vllm_reranker):
    url, seen = vllm_like_server
    remote = RemoteReranker(url, "tiny", timeout=10)
    remote.check()
    got = remote.score("What is the capital of France?", DOCS, "Find the answer")
    assert got == pytest.approx(tiny_vllm_reranker.score("What is the capital of France?", DOCS, "Find the answer"))
    assert seen[-1]["text_1"].endswith("<Instruct>: Find the answer\n<Query>: What is the capital of France?\n")
    assert seen[-1]["text_2"][0].startswith("<Document>: Paris")
    assert remote.score("q", []) == []
    remote.close()


def test_remote_truncates_with_a_local_tokenizer(vllm_like_server, tiny_vllm_reranker):
    url, seen = vllm_like_server
    remote = RemoteReranker(
        url, "tiny", max_doc_tokens=tiny_vllm_reranker.max_doc_tokens, tokenizer=tiny_vllm_reranker.tokenizer
    )
    long_doc = " ".join(f"Paris fact number {i}." for i in range(400))
    got = remote.score("capital of France?", [long_doc, "short"])
    assert got == pytest.approx(tiny_vllm_reranker.score("capital of France?", [long_doc, "short"]), abs=1e-6)
    assert len(seen[-1]["text_2"][0]) < len(long_doc) / 2


def test_remote_down_and_slow(vllm_like_server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = RemoteReranker(f"http://127.0.0.1:{port}", "tiny", timeout=5)
    with pytest.raises(RerankerUnavailable, match=rf"reranker server at http://127.0.0.1:{port} is not reachable"):
        down.score("q", ["d"])
    url, _ = vllm_like_server
    slow = RemoteReranker(url, "slow", timeout=0.5)
    with pytest.raises(RerankerUnavailable, match="did not answer in time"):
        slow.score("q", ["d"])
    with pytest.raises(RerankerUnavailable, match="answered 404"):
        RemoteReranker(url + "/nowhere", "tiny").check()
