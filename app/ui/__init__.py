"""Helpers the Streamlit pages call: cached resources, the sidebar, result cards, highlighting."""
