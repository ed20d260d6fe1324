"""The REST API: FastAPI routes over the service layer, served from the app's own process.

`app.create_app(rt)` builds the FastAPI app on a `Runtime`; `server.start(rt)` serves it with uvicorn in
a daemon thread (`kb serve` does this once, from the Streamlit server's start: see app/serve.py). One
router module per resource (health, kbs, documents, search, rerank), each with its request and response
models; auth is one dependency (`deps.py`), and errors become 4xx in one place (`errors.py`).
"""
