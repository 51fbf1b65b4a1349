"""hypofinder's web app: ``streamlit run app.py``.

Thin on purpose: the pages (``hypofinder/ui/pages/``) call the Python API and lay out its results.
"""

import streamlit as st

st.set_page_config(page_title="hypofinder", page_icon="💡", layout="wide")

PAGES = [
    st.Page(
        "hypofinder/ui/pages/finder.py",
        title="Hypothesis finder",
        icon=":material/lightbulb:",
        url_path="finder",
        default=True,
    ),
    st.Page(
        "hypofinder/ui/pages/ontology.py",
        title="Ontology explorer",
        icon=":material/account_tree:",
        url_path="ontology",
    ),
    st.Page("hypofinder/ui/pages/defects.py", title="Defect predictor", icon=":material/grain:", url_path="defects"),
    st.Page("hypofinder/ui/pages/design.py", title="Design", icon=":material/tune:", url_path="design"),
    st.Page("hypofinder/ui/pages/library.py", title="Library", icon=":material/local_library:", url_path="library"),
]

st.navigation(PAGES).run()
