"""Streamlit page script: Design."""

from hypofinder.ui.design import page

page()
