"""Helpers for tests and benchmarks that are not part of the product (not installed with `app`/`ingest`).

Each module imports only what the GPU benchmark machine has (torch, transformers): no streamlit, chromadb or
pypdf, so `scripts/bench_rerank.py` and `research/` can use them there.
"""
