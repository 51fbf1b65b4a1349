"""hypofinder: hypotheses from the PhySH ontology, checked against a 2D-defect property predictor."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "HypothesisFinder", "contexts_for", "DefectPredictor", "mine"]


def __getattr__(name: str):  # lazy: importing the package must stay cheap for the CLI
    if name == "HypothesisFinder":
        from hypofinder.pipeline import HypothesisFinder

        return HypothesisFinder
    if name == "contexts_for":
        from hypofinder.ontology import contexts_for

        return contexts_for
    if name == "DefectPredictor":
        from hypofinder.defects.predictor import DefectPredictor

        return DefectPredictor
    if name == "mine":
        from hypofinder.mining import mine

        return mine
    raise AttributeError(name)
