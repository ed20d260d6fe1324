"""The Streamlit entry point (`kb serve`): page config, navigation over pages/, the shared sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `streamlit run app/main.py` puts app/ on sys.path, not the project root that holds the packages.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.errors import KBError  # noqa: E402
from app.service import access  # noqa: E402
from app.ui import nav, resources, sidebar, signin  # noqa: E402

# A file of our own: an emoji or icon name would make the browser fetch the favicon from a CDN.
FAVICON = ROOT / "app" / "ui" / "favicon.png"
st.set_page_config(page_title="Knowledge-base search", page_icon=str(FAVICON), layout="wide")
signin.gate()  # with sign-in configured, a visitor who is not signed in sees only the sign-in page
try:
    rt = resources.runtime()
    navigation = st.navigation(nav.pages(admin=access.is_admin(rt), signed_in=rt.user is not None))
    sidebar.render_sidebar(rt)
except KBError as exc:  # a bad KB_* setting: say which and how to fix it, instead of a traceback
    st.error(str(exc))
    st.stop()
navigation.run()
