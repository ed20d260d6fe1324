"""Result cards: rank, rerank score, the move from recall order, file, page and section, highlighted text.

The card body is built by `card_html` from escaped text only (see `app.ui.highlight`), so nothing a
document contains is ever interpreted as HTML. "Show page" (PDFs) and "Show in its section" (other formats)
are expanders that call the service only once opened (`app.service.pages`).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import streamlit as st

from app.errors import KBError
from app.models import Hit, SearchResult
from app.service import pages
from app.service.queries import GRADES
from app.service.search import SearchAnswer
from app.ui import resources
from app.ui.highlight import highlight_html
from app.ui.text import literal

# Called with the hit and the grade the user clicked on its card (see `render_hits`).
Labeler = Callable[[Hit, int], None]

_CARD_STYLE = "white-space: pre-wrap; line-height: 1.5; margin-top: 0.4rem;"
_META_STYLE = "color: #555; font-size: 0.9rem;"


def move_label(hit: Hit) -> str:
    """'14 → 1' for a reranked hit (recall position → final position), 'recall #3' otherwise."""
    if not hit.reranked:
        return f"recall #{hit.candidate.recall_rank}"
    return f"{hit.candidate.recall_rank} → {hit.rank}"


def score_label(hit: Hit) -> str:
    return f"rerank score {hit.score:.4f}" if hit.reranked else f"recall score {hit.score:.4f}"


def weights_label(hit: Hit) -> str:
    """'weights dense 0.62 · bm25 0.15 · feedback 0.23': what hybrid recall gave each list for this query."""
    weights = hit.candidate.fusion_weights
    return "weights " + " · ".join(f"{name} {w:.2f}" for name, w in weights) if weights else ""


def card_html(hit: Hit, query: str) -> str:
    """The card's header and highlighted text as safe HTML (every piece of document data escaped)."""
    chunk = hit.chunk
    where = f" · {html.escape(chunk.page_label)}" if chunk.page_label else ""
    if chunk.section:
        where += f' · <span title="section">{html.escape(chunk.section)}</span>'
    weights = weights_label(hit)
    if weights:
        weights = f' · <span title="fusion weight of each recall list for this query">{html.escape(weights)}</span>'
    header = (
        f'<div style="{_META_STYLE}"><b>#{hit.rank}</b> · {html.escape(score_label(hit))} · '
        f'<span title="position before reranking → after">{html.escape(move_label(hit))}</span>{weights}</div>'
        f"<div><b>{html.escape(chunk.doc_name)}</b>{where}</div>"
    )
    return f'{header}<div style="{_CARD_STYLE}">{highlight_html(chunk.text, query)}</div>'


# Rerank scores closer together than this say nothing about which passage is better.
FLAT_SPREAD = 0.01


def flat_scores(result: SearchResult) -> bool:
    """Reranked, several hits, and every score within FLAT_SPREAD of the others."""
    scores = [h.score for h in result.hits]
    return result.reranked and len(scores) > 1 and max(scores) - min(scores) < FLAT_SPREAD


def timing_label(result: SearchResult) -> str:
    """'recall 24 ms · rerank 310 ms' (rerank only when it ran)."""
    parts = [f"{stage.removesuffix('_s')} {seconds * 1000:.0f} ms" for stage, seconds in result.timings.items()]
    return " · ".join(parts)


def render_hits(
    answer: SearchAnswer, hits: list[Hit], key: str, rerank_note: str = "", labeler: Labeler | None = None
) -> None:
    """The banner saying why results are not reranked (when `rerank_note` says so), then one card per
    hit, each with a label control when `labeler` is given. `key` keeps widget keys unique per column."""
    if rerank_note:
        st.warning(f"Results are in recall order: {literal(rerank_note)}.")
    if not hits:
        st.info("No results: the knowledge base is empty or nothing matched.")
    for hit in hits:
        render_hit(answer, hit, key, labeler)


def render_hit(answer: SearchAnswer, hit: Hit, key: str, labeler: Labeler | None = None) -> None:
    """One card; everything it shows was read by the search (`app.service.search`), none of it here."""
    chunk = hit.chunk
    with st.container(border=True):
        st.html(card_html(hit, answer.query))
        if labeler is not None:
            widget = f"label-{key}-{chunk.chunk_id}"
            st.segmented_control(
                "Label", list(GRADES), format_func=lambda g: f"{g} {GRADES[g]}", key=widget,
                label_visibility="collapsed", on_change=lambda: _labelled(widget, hit, labeler),
            )
        around = answer.neighbours.get(chunk.chunk_id)
        if around is not None:
            with st.expander("Neighbouring text"):
                st.html(_neighbour_html(around.before, "start of the document", "previous"))
                st.html(_neighbour_html(around.after, "end of the document", "next"))
        path = answer.originals.get(chunk.doc_id)
        if path is not None:
            _render_place(answer.kb, hit, key, is_pdf=path.suffix.lower() == ".pdf")
            st.download_button(
                f"Download {literal(chunk.doc_name)}",
                data=path.read_bytes,  # read only when clicked
                file_name=chunk.doc_name,
                key=f"download-{key}-{chunk.chunk_id}",
            )


def _render_place(kb: str, hit: Hit, key: str, *, is_pdf: bool) -> None:
    """The passage where it sits: its PDF page drawn with the passage marked, or its section's text."""
    chunk = hit.chunk
    label = f"Show page {chunk.page}" if is_pdf and chunk.page is not None else "Show in its section"
    box = st.expander(label, key=f"place-{key}-{chunk.chunk_id}", on_change="rerun")
    if not box.open:
        return
    with box:
        try:
            if is_pdf and chunk.page is not None:
                view = _page_image(kb, chunk.doc_id, chunk.page, chunk.char_start, chunk.char_end, chunk.text)
                if not view.found:
                    st.caption("The passage could not be located on the page; the whole page is shown.")
                st.image(view.png, width="stretch")
            else:
                st.html(_context_html(pages.passage_context(resources.runtime(), kb, chunk)))
        except KBError as exc:
            st.info(literal(str(exc)))


@st.cache_data(max_entries=64, show_spinner="Drawing the page…")
def _page_image(kb: str, doc_id: str, page: int, start: int, end: int, text: str) -> pages.PageImage:
    # A document's id is the hash of its bytes: the same arguments always draw the same image.
    return pages.page_image(resources.runtime(), kb, doc_id, page, start, end, text=text)


def _context_html(context: pages.PassageContext) -> str:
    section = f'<div style="{_META_STYLE}">{html.escape(context.section)}</div>' if context.section else ""
    before = ("… " if context.cut_before else "") + html.escape(context.before)
    after = html.escape(context.after) + (" …" if context.cut_after else "")
    passage = f'<mark style="background: #fff3b0;">{html.escape(context.passage)}</mark>'
    return f'{section}<div style="{_CARD_STYLE}">{before}{passage}{after}</div>'


def _neighbour_html(chunk, missing: str, which: str) -> str:
    if chunk is None:
        return f'<div style="{_META_STYLE}">({missing})</div>'
    where = f", {html.escape(chunk.page_label)}" if chunk.page_label else ""
    return (
        f'<div style="{_META_STYLE}">{which} chunk{where}</div>'
        f'<div style="{_CARD_STYLE}">{html.escape(chunk.text)}</div>'
    )


def _labelled(widget: str, hit: Hit, labeler: Labeler) -> None:
    grade = st.session_state.get(widget)
    if grade is not None:
        labeler(hit, grade)
