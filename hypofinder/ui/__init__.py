"""The Streamlit app's UI code (``streamlit run app.py``): pages, result views, cached resources.

Nothing here holds pipeline logic: pages call ``HypothesisFinder``, ``hypofinder.ontology`` and
``hypofinder.defects`` and lay out what they return. Page scripts live in ``pages/``.
"""

SEED_QUESTION = (
    "How can I model a material properties like magnetic resistivity and electronic bands that depend on "
    "material atomic structure as well as higher-level mesoscopic configuration like phase domains and its "
    "walls in a unified holistic way. Such computational model should be able to generalize descriptions "
    "between different scales and help to reason about exhibited properties."
)
