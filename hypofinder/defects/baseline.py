"""Gradient-boosting baseline on graph features (LightGBM), one model per subset and target.

Formation energy: a bond-counting model, a ridge regression of the TOTAL formation energy (per
site x defect count) on the defect counts and the broken-bond histogram (``FeatureSpec.ridge_columns``:
what each defect costs, and what each remaining atom pays for the neighbours it lost), with
LightGBM on its residual over all the features, divided back by the defect count. Every other
target (gap, levels, magnetization): LightGBM directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.features import FeatureSpec
from hypofinder.defects.hosts import Host

LGB_PARAMS = dict(
    n_estimators=400,
    learning_rate=0.05,
    num_leaves=15,
    min_child_samples=5,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.5,
    reg_lambda=1e-3,
    verbose=-1,
)
RIDGE_LAMBDA = 0.3


@dataclass
class Ridge:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, lam: float = RIDGE_LAMBDA) -> Ridge:
        X = X.astype(np.float64)
        mu, sd = X.mean(0), X.std(0) + 1e-6
        Xs = (X - mu) / sd
        w = np.linalg.solve(Xs.T @ Xs + lam * np.eye(X.shape[1]), Xs.T @ (y - y.mean()))
        return cls(mu, sd, w, float(y.mean()))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return ((X.astype(np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def to_json(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, d: dict) -> Ridge:
        return cls(np.array(d["mean"]), np.array(d["scale"]), np.array(d["coef"]), float(d["intercept"]))


# Lines of LightGBM's model text that only describe the training (gains, counts, weights) or help a
# parallel loader (tree_sizes): prediction does not read them, so they are not stored (40 % smaller).
_INFO_LINES = (
    "split_gain=",
    "leaf_weight=",
    "leaf_count=",
    "internal_value=",
    "internal_weight=",
    "internal_count=",
    "tree_sizes=",
)


def _booster_to_text(booster) -> str:
    text = booster.model_to_string()
    text = text.split("\nfeature_importances:", 1)[0] + "\n"
    return "\n".join(line for line in text.split("\n") if not line.startswith(_INFO_LINES))


def _booster_from_text(text: str):
    import lightgbm as lgb

    return lgb.Booster(model_str=text)


ENERGY = "formation_energy_per_site"


class GBMSubsetModel:
    """Features -> every target the subset was trained on (``targets``), for one subset."""

    def __init__(self, spec: FeatureSpec, ridge: Ridge, boosters: dict):
        self.spec, self.ridge, self.boosters = spec, ridge, dict(boosters)

    @property
    def targets(self) -> list[str]:
        return list(self.boosters)

    @classmethod
    def fit(cls, batch: GraphBatch, host: Host, targets: dict[str, np.ndarray], seed: int = 0, n_jobs: int = 1):
        """Graphs on ``host``; ``targets``: name -> values (NaN rows are left out of that target's fit)."""
        import lightgbm as lgb

        spec = FeatureSpec.fit(batch, host)
        X = spec.transform(batch, host)
        n = batch.n_nodes.astype(float)
        params = dict(LGB_PARAMS, random_state=seed, n_jobs=n_jobs)
        total = targets[ENERGY] * n
        bonds = X[:, spec.ridge_columns]
        ridge = Ridge.fit(bonds, total)
        boosters = {}
        for name, y in targets.items():
            y = total - ridge.predict(bonds) if name == ENERGY else np.asarray(y, dtype=float)
            ok = np.isfinite(y)
            boosters[name] = lgb.LGBMRegressor(**params).fit(X[ok], y[ok]).booster_
        return cls(spec, ridge, boosters)

    def predict(self, batch: GraphBatch, host: Host) -> dict[str, np.ndarray]:
        X = self.spec.transform(batch, host)
        n = np.maximum(batch.n_nodes.astype(float), 1.0)
        out = {name: b.predict(X) for name, b in self.boosters.items()}
        out[ENERGY] = (self.ridge.predict(X[:, self.spec.ridge_columns]) + out[ENERGY]) / n
        return out

    def to_json(self) -> dict:
        return {
            "spec": self.spec.to_json(),
            "ridge": self.ridge.to_json(),
            "boosters": {k: _booster_to_text(b) for k, b in self.boosters.items()},
        }

    @classmethod
    def from_json(cls, d: dict) -> GBMSubsetModel:
        boosters = d.get("boosters") or {ENERGY: d["energy_booster"], "homo_lumo_gap": d["gap_booster"]}  # older files
        return cls(
            FeatureSpec.from_json(d["spec"]),
            Ridge.from_json(d["ridge"]),
            {k: _booster_from_text(t) for k, t in boosters.items()},
        )
