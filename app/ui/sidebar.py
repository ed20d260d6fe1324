"""The sidebar on every page: knowledge base picker, the reranker instruction with presets, K and N.

Everything chosen here is per user and lives in `st.session_state` under the keys below, so every
page reads the same choice. A page that wants another knowledge base selected (after creating or
renaming one) calls `select_kb(name)`: the picker widget has already been drawn in this run, so the
request is applied on the next run, before the widget exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app.config import DEFAULT_INSTRUCTION
from app.errors import KBError
from app.instructions import find_preset, matching_preset
from app.rerank.service import EngineState
from app.runtime import Runtime
from app.service import kbs, presets
from app.ui import nav, search_state
from app.ui.text import literal, plain

KB, NEXT_KB, INSTRUCTION_KB = "kb", "kb_requested", "instruction_kb"
INSTRUCTION, PRESET, PRESET_NAME, PRESET_MESSAGE = "instruction", "preset", "preset_name", "preset_message"
RECALL_K, TOP_N = "recall_k", "top_n"
EDITED = "(edited)"


@dataclass(frozen=True)
class SearchOptions:
    kb: str | None
    instruction: str
    recall_k: int
    top_n: int


def select_kb(name: str | None) -> None:
    """Make `name` the chosen knowledge base from the next run on (call `st.rerun()` after)."""
    st.session_state[NEXT_KB] = name


def selected_kb() -> str | None:
    return st.session_state.get(KB)


def search_options() -> SearchOptions:
    s = st.session_state
    return SearchOptions(s.get(KB), s.get(INSTRUCTION, DEFAULT_INSTRUCTION), s[RECALL_K], s[TOP_N])


@dataclass(frozen=True)
class _Keys:
    """The session-state keys `search_state.restore` fills from the URL."""

    kb: str = KB
    instruction: str = INSTRUCTION
    instruction_kb: str = INSTRUCTION_KB
    top_n: str = TOP_N


def render_sidebar(rt: Runtime) -> None:
    search_state.restore(rt, _Keys())
    with st.sidebar:
        kb = _kb_picker(rt)
        st.divider()
        _instruction_editor(rt, kb)
        st.divider()
        _numbers(rt)
        _reranker_line(rt)
        _recent_searches()


def _recent_searches() -> None:
    past = search_state.history()
    if not past:
        return
    choice = st.selectbox("Recent searches", past, index=None, format_func=lambda p: plain(p.label),
                          placeholder=f"{len(past)} in this session", key="recent_search")
    if choice is not None:
        st.session_state.pop("recent_search")
        search_state.ask_again(choice)
        st.switch_page(nav.page("search"))


def _kb_picker(rt: Runtime) -> str | None:
    names = kbs.names(rt)
    state = st.session_state
    if NEXT_KB in state:
        state[KB] = state.pop(NEXT_KB)
    if state.get(KB) not in names:
        state[KB] = names[0] if names else None
    if not names:
        st.caption("No knowledge base yet: create one on the Upload or Knowledge bases page.")
        return None
    return st.selectbox("Knowledge base", names, key=KB, format_func=plain)


def _instruction_editor(rt: Runtime, kb: str | None) -> None:
    state = st.session_state
    choices = presets.available(rt, kb)
    # first load, another KB, or the box's state dropped by Streamlit on a page change: start from the default
    if state.get(INSTRUCTION_KB, "") != kb or INSTRUCTION not in state:
        state[INSTRUCTION] = presets.default_instruction(rt, kb)[1]
        state[INSTRUCTION_KB] = kb
    # Keep the picker truthful: it shows the preset whose text is in the box, or "(edited)".
    current = matching_preset(choices, state[INSTRUCTION]) or EDITED
    state[PRESET] = current
    options = [p.name for p in choices] + ([EDITED] if current == EDITED else [])
    st.selectbox("Instruction preset", options, key=PRESET, on_change=_apply_preset, args=(choices,), format_func=plain)
    st.text_area(
        "Reranker instruction",
        key=INSTRUCTION,
        height=110,
        help="One sentence telling the reranker what counts as relevant in this domain.",
    )
    if kb is None:
        return
    st.text_input("Save as preset named", key=PRESET_NAME, placeholder="e.g. HR handbook")
    saved = find_preset(choices, current)
    left, right = st.columns(2)
    left.button("Save preset", on_click=_save_preset, args=(rt, kb), width="stretch")
    if saved is not None and not saved.builtin:
        right.button("Delete preset", on_click=_delete_preset, args=(rt, kb, saved.name),
                     width="stretch")
    if state.get(PRESET_MESSAGE):
        st.caption(literal(state.pop(PRESET_MESSAGE)))


def _apply_preset(choices) -> None:
    preset = find_preset(choices, st.session_state[PRESET])
    if preset is not None:
        st.session_state[INSTRUCTION] = preset.instruction


def _save_preset(rt: Runtime, kb: str) -> None:
    state = st.session_state
    name = state.get(PRESET_NAME, "").strip()
    try:
        presets.save(rt, kb, name, state[INSTRUCTION])
    except KBError as exc:
        state[PRESET_MESSAGE] = f"Not saved: {exc}"
        return
    state[PRESET_MESSAGE] = f"Saved preset {name!r} for {kb}."
    state[PRESET_NAME] = ""


def _delete_preset(rt: Runtime, kb: str, name: str) -> None:
    try:
        presets.delete(rt, kb, name)
    except KBError as exc:  # a viewer: presets need the editor role
        st.session_state[PRESET_MESSAGE] = f"Not deleted: {exc}"
        return
    st.session_state[PRESET_MESSAGE] = f"Deleted preset {name!r}."


def _numbers(rt: Runtime) -> None:
    s = rt.settings
    st.session_state.setdefault(RECALL_K, s.recall_k)
    st.session_state.setdefault(TOP_N, s.top_n)
    left, right = st.columns(2)
    left.number_input("Recall K", min_value=1, max_value=1000, step=10, key=RECALL_K,
                      help="Candidates recalled and then reranked.")
    right.number_input("Top N", min_value=1, max_value=100, key=TOP_N, help="Results shown.")


def _reranker_line(rt: Runtime) -> None:
    service = rt.reranker
    if service.state == EngineState.OFF:
        st.caption("Reranker off (KB_RERANK_BACKEND=off)")
        return
    state = "failed (see Status)" if service.state == EngineState.FAILED else service.state
    st.caption(literal(f"Reranker ({rt.settings.rerank_backend}): {state}"))


__all__ = ["SearchOptions", "render_sidebar", "search_options", "select_kb", "selected_kb"]
