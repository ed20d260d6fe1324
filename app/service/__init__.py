"""The one layer every front end calls: the Streamlit pages, the CLI and the REST API.

Each module is one resource: `kbs` (knowledge bases), `documents` (ingest, list, delete, re-ingest),
`search` (a question answered with what a result card shows), `presets` (saved instructions). The
functions take the process's `Runtime` first and return dataclasses; domain errors are `KBError`s whose
message is meant for the user. No front end opens the catalog, the vector store or the BM25 index itself.
"""
