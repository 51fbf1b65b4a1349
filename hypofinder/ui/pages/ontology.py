"""Streamlit page script: Ontology explorer."""

from hypofinder.ui.ontology import page

page()
