"""Streamlit page script: Defect predictor."""

from hypofinder.ui.defects import page

page()
