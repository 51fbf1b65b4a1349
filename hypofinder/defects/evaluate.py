"""Evaluate the shipped models on any folder with the 2DMD layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hypofinder.defects.data import load_subset, subset_dirs
from hypofinder.defects.predictor import DefectPredictor
from hypofinder.errors import BadInputError

TARGETS = ("formation_energy_per_site", "homo_lumo_gap")


def mae_mev(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - true)) * 1000.0)


def evaluate_dir(data_dir: Path | str, weights: Path | None = None, warn=None) -> dict:
    """``{"subsets": {name: {"n": int, target: {"mae_mev": float}}}}`` for every known subset."""
    folders = subset_dirs(Path(data_dir))  # DataNotFoundError: one line
    predictor = DefectPredictor.load(weights)
    report: dict = {"subsets": {}}
    for folder in folders:
        sub = load_subset(folder)
        if sub.name not in predictor.bundle.gbm:
            if warn:
                warn(f"skipped {sub.name}: no trained model for it")
            continue
        out = predictor.predict_graphs(sub.graphs)
        report["subsets"][sub.name] = {
            "n": len(sub),
            **{t: {"mae_mev": round(mae_mev(out[t], sub.targets[t]), 3)} for t in TARGETS},
        }
    if not report["subsets"]:
        raise BadInputError(
            f"no subset in {data_dir} matches a trained model ({', '.join(sorted(predictor.bundle.gbm))})"
        )
    return report
