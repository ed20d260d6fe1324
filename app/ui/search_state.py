"""A search that survives a reload and can be shared: its settings live in the URL (`st.query_params`), and
each session keeps its last searches.

URL keys: `kb`, `q` (the question), `mode` (recall mode), `top` (top N), and `preset` (a preset's name) or
`instruction` (typed text). The first run of a session reads them (`restore`); every search writes them
(`remember`), so a reload or a shared link runs the same search again.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app.config import RECALL_MODES
from app.instructions import matching_preset
from app.runtime import Runtime
from app.service import kbs, presets

RESTORED, PENDING, HISTORY = "url_restored", "search_pending", "search_history"
HISTORY_SIZE = 20


@dataclass(frozen=True)
class PastSearch:
    kb: str
    query: str
    mode: str

    @property
    def label(self) -> str:
        return f"{self.query}  ({self.kb}, {self.mode})"


def restore(rt: Runtime, keys) -> None:
    """Once per session, before the sidebar's widgets exist: apply the URL's settings to `keys` (the
    sidebar's session-state keys) and leave the question for the Search page (`pending`)."""
    state = st.session_state
    if state.get(RESTORED):
        return
    state[RESTORED] = True
    params = st.query_params
    kb = params.get("kb")
    if kb not in kbs.names(rt):
        return
    state[keys.kb] = kb
    top = params.get("top", "")
    if top.isdecimal() and 1 <= int(top) <= 100:
        state[keys.top_n] = int(top)
    text = params.get("instruction")
    if text is None and "preset" in params:
        text = next((p.instruction for p in presets.available(rt, kb) if p.name == params["preset"]), None)
    if text:
        state[keys.instruction] = text
        state[keys.instruction_kb] = kb  # the URL's instruction, not the KB's default
    if params.get("q"):
        mode = params.get("mode")
        state[PENDING] = PastSearch(kb, params["q"], mode if mode in RECALL_MODES else rt.settings.recall_mode)


def pending() -> PastSearch | None:
    """A search the URL or the history asked for, to run now (taken: asked once)."""
    return st.session_state.pop(PENDING, None)


def ask_again(search: PastSearch) -> None:
    st.session_state[PENDING] = search


def remember(rt: Runtime, kb: str, query: str, mode: str, instruction: str, top_n: int) -> None:
    """Write the search into the URL and the session's history (newest first, no repeats)."""
    preset = matching_preset(presets.available(rt, kb), instruction)
    params = {"kb": kb, "q": query, "mode": mode, "top": str(top_n)}
    params.update({"preset": preset} if preset else {"instruction": instruction})
    st.query_params.from_dict(params)
    done = PastSearch(kb, query.strip(), mode)
    history = [h for h in st.session_state.get(HISTORY, []) if h != done]
    st.session_state[HISTORY] = [done, *history][:HISTORY_SIZE]


def history() -> list[PastSearch]:
    return st.session_state.get(HISTORY, [])
