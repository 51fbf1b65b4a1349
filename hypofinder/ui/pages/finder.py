"""Streamlit page script: Hypothesis finder."""

from hypofinder.ui.finder import page

page()
