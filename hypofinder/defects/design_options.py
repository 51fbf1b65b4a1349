"""Defaults and limits of inverse design, in one place for the library, the CLI and the app (no heavy imports)."""

from __future__ import annotations

METHODS = ("auto", "exhaustive", "ga", "nsga2", "random")
DEFAULT_BUDGET = 2000  # predictor calls (distinct configurations)
MAX_BUDGET = 1_000_000
DEFAULT_TOLERANCE = 0.05  # in the target's unit
DEFAULT_COUNTS = "1-6"  # defects per configuration
DEFAULT_LIMIT = 10  # best candidates returned
MAX_LIMIT = 100
WARM_START = 64  # labelled 2DMD structures nearest the goal that open the GA's first population (0: none)

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_COUNTS",
    "DEFAULT_LIMIT",
    "DEFAULT_TOLERANCE",
    "MAX_BUDGET",
    "MAX_LIMIT",
    "METHODS",
    "WARM_START",
]
