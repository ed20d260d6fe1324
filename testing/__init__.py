"""Helpers for tests and benchmarks that are not part of the product (not installed with `app`/`ingest`).

The reranker helpers import only what the GPU benchmark machine has (torch, transformers): no streamlit,
chromadb or pypdf, so `scripts/bench_rerank.py` and `research/` can use them there. `documents` (generated
documents with ground truth) and `text_metrics` (CER) are for the parsing tests and `scripts/bench_parsing.py`
and need the dev extras (fpdf2).
"""
