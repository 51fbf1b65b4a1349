"""Streamlit page script: Library (bring your own papers)."""

from hypofinder.ui.library import page

page()
