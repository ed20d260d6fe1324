"""The CLI's way to a running app: a small httpx client for the REST API (app/api/).

`running_app(settings, doing)` probes `KB_API_URL` and gives a client when the app answers, or prints
one note on stderr and gives None (the caller then works in-process). Importing this module stays
light (no torch, vLLM, Chroma or sentence-transformers), so a CLI search through the app starts fast.

Example:
    >>> client = running_app(load_settings(), "searching")
    >>> client.search("manuals", "pump overheats", top=2)["hits"][0]["doc"]
    'manual.pdf'
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from app.config import Settings
from app.errors import KBError

# Nothing listening on loopback is refused at once; an app that accepted the connection is given longer
# to answer the probe (it may be busy embedding or reranking for someone else).
PROBE_TIMEOUT = httpx.Timeout(3.0, connect=0.3)
# A search waits for an engine that is still loading; an upload for its files to be embedded.
WORK_TIMEOUT = httpx.Timeout(900.0, connect=3.0)
# Files per upload request (as `kb ingest` groups them in-process), and bytes, below the body limit.
UPLOAD_FILES = 64
UPLOAD_BYTES = 64 * 2**20


class ApiError(KBError):
    """The running app refused a request (the message is its `detail`), or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status, None when no answer came


class ApiClient:
    def __init__(self, url: str, token: str = "", max_upload_bytes: int = UPLOAD_BYTES):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.max_upload_bytes = max_upload_bytes
        self._http = httpx.Client(base_url=url, headers=headers, timeout=WORK_TIMEOUT)

    def health(self, timeout: httpx.Timeout | None = None) -> dict:
        return self._call("GET", "/api/health", timeout=timeout or PROBE_TIMEOUT)

    def kbs(self) -> list[dict]:
        return self._call("GET", "/api/kbs")["kbs"]

    def documents(self, kb: str) -> list[dict]:
        return self._call("GET", f"/api/kbs/{_seg(kb)}/documents")["documents"]

    def search(self, kb: str, question: str, **params) -> dict:
        """`{"hits", "rerank_note", "timings"}`; params as `POST /api/search` takes them (top, recall, ...)."""
        body = {"kb": kb, "question": question, **{k: v for k, v in params.items() if v is not None}}
        return self._call("POST", "/api/search", json=body)

    def upload(self, kb: str, files: list[tuple[str, bytes]]) -> list[dict]:
        """One outcome (with its `summary` line) per file, in order."""
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return self._call("POST", f"/api/kbs/{_seg(kb)}/documents", files=parts)["outcomes"]

    def ingest_paths(self, kb: str, paths: Iterable[Path], settings: Settings, follow_symlinks: bool = False
                     ) -> Iterator[dict]:
        """Files and folders as `kb ingest` takes them (links out of a folder skipped unless `follow_symlinks`,
        the batch limits checked before anything is read, files read in bounded size: `settings`), uploaded
        in groups; one outcome per file, in order."""
        from app.errors import IngestError
        from ingest.limits import read_file
        from ingest.pipeline import failed, nothing_to_ingest, plan_paths, skipped

        paths = list(paths)
        found = plan_paths(settings, paths, follow_symlinks)
        if all(f.skipped for f in found):
            yield from (_outcome(skipped(f)) for f in found)
            raise nothing_to_ingest(paths)
        max_bytes = settings.max_file_mb * 2**20
        group: list[tuple[str, bytes]] = []
        size = 0
        for entry in found:
            if entry.skipped:
                yield from self._upload_group(kb, group)  # the files before it keep their place in the output
                group, size = [], 0
                yield _outcome(skipped(entry))
                continue
            try:
                data = read_file(entry.path, max_bytes)
            except IngestError as exc:
                yield from self._upload_group(kb, group)
                group, size = [], 0
                yield _outcome(failed(entry.path.name, str(exc)))
                continue
            if group and (len(group) >= UPLOAD_FILES or size + len(data) > self.max_upload_bytes):
                yield from self._upload_group(kb, group)
                group, size = [], 0
            group.append((entry.path.name, data))
            size += len(data)
        yield from self._upload_group(kb, group)

    def delete(self, kb: str, doc: str) -> dict:
        return self._call("DELETE", f"/api/kbs/{_seg(kb)}/documents/{_seg(doc)}")

    def rerank(self, query: str, documents: list[str], **params) -> dict:
        return self._call("POST", "/v1/rerank", json={"query": query, "documents": documents, **params})

    def _upload_group(self, kb: str, group: list[tuple[str, bytes]]) -> Iterator[dict]:
        if not group:
            return
        try:
            yield from self.upload(kb, group)
        except ApiError as exc:
            if exc.status != 413:
                raise
            if len(group) > 1:  # the app's limit is lower than ours: one file a request
                for one in group:
                    yield from self._upload_group(kb, [one])
                return
            from ingest.pipeline import failed

            yield _outcome(failed(group[0][0], str(exc)))

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(f"the app at {self.url} did not answer in time ({exc})") from None
        except httpx.HTTPError as exc:
            raise ApiError(f"lost the app at {self.url}: {exc}") from None
        if response.is_success:
            return response.json()
        raise ApiError(_detail(response), response.status_code)


def running_app(settings: Settings, doing: str) -> ApiClient | None:
    """A client for the app at KB_API_URL if it answers; else None after a one-line note on stderr
    ('note: no running app at URL; searching in-process (slower)'). Raises ApiError if it refuses the token."""
    client = ApiClient(settings.api_base_url, settings.api_token, settings.api_max_body_mb * 2**20)
    try:
        client.health()
    except ApiError as exc:
        if exc.status == 401:
            raise ApiError(f"the app at {client.url} refused the token: {exc} Set KB_API_TOKEN.") from None
        print(f"note: no running app at {client.url}; {doing} in-process (slower)", file=sys.stderr)
        return None
    return client


def _outcome(outcome) -> dict:
    return {"summary": outcome.summary(), **outcome.as_json()}


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return detail if isinstance(detail, str) else f"HTTP {response.status_code} from the app: {response.text[:300]}"


def _seg(text: str) -> str:
    return quote(text, safe="")
