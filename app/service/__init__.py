"""The one layer every front end calls: the Streamlit pages, the CLI and the REST API.

Each module is one resource: `kbs` (knowledge bases), `documents` (ingest, list, delete, re-ingest),
`search` (a question answered with what a result card shows), `presets` (saved instructions), `access`
(who may do what, and the audit log of what was done), `tokens` (personal API tokens). The
functions take the process's `Runtime` first and return dataclasses; domain errors are `KBError`s whose
message is meant for the user. `rt.user` is who acts (None in single-user mode): each function checks
the role it needs and audits what it changes (`access`). No front end opens the catalog, the vector store
or the BM25 index itself.
"""
