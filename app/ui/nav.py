"""The app's pages, in menu order; pages link to each other through `page(name)`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGE_DIR = Path(__file__).resolve().parents[2] / "pages"
_PAGES = (
    # Material icons ship with Streamlit's frontend; emoji need a system emoji font.
    ("search", "Search", ":material/search:"),
    ("upload", "Upload", ":material/upload_file:"),
    ("library", "Library", ":material/library_books:"),
    ("evaluate", "Evaluate", ":material/analytics:"),
    ("knowledge_bases", "Knowledge bases", ":material/folder_open:"),
    ("status", "Status", ":material/monitor_heart:"),
    ("account", "Account", ":material/key:"),  # signed-in users: their roles and API tokens
    ("admin", "Admin", ":material/admin_panel_settings:"),  # admins: roles and the audit log
)


def page(name: str) -> st.Page:
    """The page `pages/<name>.py` (the first one is the default page)."""
    for index, (file, title, icon) in enumerate(_PAGES):
        if file == name:
            return st.Page(PAGE_DIR / f"{file}.py", title=title, icon=icon, default=index == 0)
    raise KeyError(name)


def pages(*, admin: bool = True, signed_in: bool = False) -> list[st.Page]:
    """The menu: Account only for signed-in users, Admin only for admins (everyone in single-user mode)."""
    hidden = {"account"} if not signed_in else set()
    hidden |= {"admin"} if not admin else set()
    return [page(name) for name, _, _ in _PAGES if name not in hidden]


def require_kb(kb: str | None, note: str = "There is no knowledge base yet.") -> str:
    """`kb`, or, when there is none, a note with a link to Upload and the end of this page's run."""
    if kb is None:
        st.info(note)
        st.page_link(page("upload"), label="Upload documents", icon=":material/upload_file:")
        st.stop()
    return kb
