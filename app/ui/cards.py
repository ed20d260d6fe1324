"""Result cards: rank, rerank score, the move from recall order, file and page, highlighted text.

The card body is built by `card_html` from escaped text only (see `app.ui.highlight`), so nothing a
document contains is ever interpreted as HTML.
"""

from __future__ import annotations

import html

import streamlit as st

from app.models import Hit, SearchResult
from app.runtime import Runtime
from app.ui import library
from app.ui.highlight import highlight_html

_CARD_STYLE = "white-space: pre-wrap; line-height: 1.5; margin-top: 0.4rem;"
_META_STYLE = "color: #555; font-size: 0.9rem;"


def move_label(hit: Hit) -> str:
    """'14 → 1' for a reranked hit (recall position → final position), 'recall #3' otherwise."""
    if not hit.reranked:
        return f"recall #{hit.candidate.recall_rank}"
    return f"{hit.candidate.recall_rank} → {hit.rank}"


def score_label(hit: Hit) -> str:
    return f"rerank score {hit.score:.4f}" if hit.reranked else f"recall score {hit.score:.4f}"


def card_html(hit: Hit, query: str) -> str:
    """The card's header and highlighted text as safe HTML (every piece of document data escaped)."""
    chunk = hit.chunk
    where = f" · {html.escape(chunk.page_label)}" if chunk.page_label else ""
    header = (
        f'<div style="{_META_STYLE}"><b>#{hit.rank}</b> · {html.escape(score_label(hit))} · '
        f'<span title="position before reranking → after">{html.escape(move_label(hit))}</span></div>'
        f"<div><b>{html.escape(chunk.doc_name)}</b>{where}</div>"
    )
    return f'{header}<div style="{_CARD_STYLE}">{highlight_html(chunk.text, query)}</div>'


def render_result(
    rt: Runtime, kb_name: str, result: SearchResult, query: str, key: str, banner: bool = True
) -> None:
    """The banner saying why results are not reranked (unless `banner` is False: the recall-order
    column is unreranked on purpose), then one card per hit. `key` keeps widget keys unique per column."""
    if banner and result.rerank_note:
        st.warning(f"Results are in recall order: {result.rerank_note}.")
    if not result.hits:
        st.info("No results: the knowledge base is empty or nothing matched.")
    for hit in result.hits:
        render_hit(rt, kb_name, hit, query, key)


def render_hit(rt: Runtime, kb_name: str, hit: Hit, query: str, key: str) -> None:
    chunk = hit.chunk
    with st.container(border=True):
        st.html(card_html(hit, query))
        with st.expander("Neighbouring text"):
            before, after = library.neighbours(rt, kb_name, chunk)
            st.html(_neighbour_html(before, "start of the document", "previous"))
            st.html(_neighbour_html(after, "end of the document", "next"))
        path = library.download_path(rt, kb_name, chunk.doc_id)
        if path is not None:
            st.download_button(
                f"Download {chunk.doc_name}",
                data=path.read_bytes,  # read only when clicked
                file_name=chunk.doc_name,
                key=f"download-{key}-{chunk.chunk_id}",
            )


def _neighbour_html(chunk, missing: str, which: str) -> str:
    if chunk is None:
        return f'<div style="{_META_STYLE}">({missing})</div>'
    where = f", {html.escape(chunk.page_label)}" if chunk.page_label else ""
    return (
        f'<div style="{_META_STYLE}">{which} chunk{where}</div>'
        f'<div style="{_CARD_STYLE}">{html.escape(chunk.text)}</div>'
    )
