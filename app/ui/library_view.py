"""The Library's document details (what parsing learnt) and its chunk preview: whole chunks, readable,
each with its page and section path. Everything a document contains is escaped before display."""

from __future__ import annotations

import html

import streamlit as st

from app.models import Chunk
from app.ui.text import plain
from ingest.details import DocumentDetails

CHUNKS_PER_PAGE = 20
_META_STYLE = "color: #555; font-size: 0.85rem;"
_TEXT_STYLE = "white-space: pre-wrap; line-height: 1.45; margin: 0.2rem 0 0.8rem 0;"


def detail_rows(details: DocumentDetails) -> list[tuple[str, str]]:
    """(what, value) pairs worth showing; empty facts are left out."""
    rows = []
    if details.encoding:
        rows.append(("Encoding", details.encoding))
    if details.ocr_pages:
        count = len(details.ocr_pages)
        listed = ", ".join(map(str, details.ocr_pages))
        rows.append(("Read by OCR", f"{count} page{'s' if count > 1 else ''}: {listed}"))
    for header in details.headers:
        rows.append(("Running header", header))
    for footer in details.footers:
        rows.append(("Running footer", footer))
    if details.tables:
        rows.append(("Tables", f"{details.tables} (one line per row)"))
    if details.sections:
        rows.append(("Sections", f"{len(details.sections)}"))
    for warning in details.warnings:
        rows.append(("Note", warning))
    return rows


def render_details(details: DocumentDetails | None) -> None:
    if details is None:
        st.caption("No parse details (stored before they were recorded; re-ingest to get them).")
        return
    rows = detail_rows(details)
    if not rows:
        st.caption("Nothing special found while parsing (no running headers, tables, OCR or legacy encoding).")
        return
    body = "".join(
        f"<tr><td style='padding-right: 1rem; {_META_STYLE}'>{html.escape(what)}</td><td>{_text(value)}</td></tr>"
        for what, value in rows
    )
    st.html(f"<table>{body}</table>")
    if details.sections:
        with st.expander("Section paths"):
            st.html("<br>".join(_text(path) for path in details.sections))


def chunk_html(chunk: Chunk) -> str:
    meta = [f"#{chunk.position}"]
    if chunk.page_label:
        meta.append(chunk.page_label)
    if chunk.section:
        meta.append(chunk.section)
    return (
        f'<div style="{_META_STYLE}">{_text(" · ".join(meta))}</div>'
        f'<div style="{_TEXT_STYLE}">{html.escape(chunk.text)}</div>'
    )


def _text(value: str) -> str:
    """A name, heading or header line as HTML text: control characters and runs of spaces kept visible
    (`app.ui.text.plain`), then escaped."""
    return html.escape(plain(value))


def render_chunks(chunks: list[Chunk], key: str) -> None:
    """Whole chunks, CHUNKS_PER_PAGE at a time."""
    if not chunks:
        st.caption("No chunks.")
        return
    pages = max(1, -(-len(chunks) // CHUNKS_PER_PAGE))
    page = 1
    if pages > 1:
        page = st.number_input(
            f"Page of chunks (1-{pages})", min_value=1, max_value=pages, value=1, step=1, key=f"chunks-page-{key}"
        )
    first = (page - 1) * CHUNKS_PER_PAGE
    shown = chunks[first : first + CHUNKS_PER_PAGE]
    st.caption(f"Chunks {first + 1}-{first + len(shown)} of {len(chunks)}")
    st.html("".join(chunk_html(c) for c in shown))
