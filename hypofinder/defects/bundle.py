"""The shipped model set on disk: hosts.json, metadata.json, gbm.json.gz, gnn.pt.

Predictions are the weighted mean of the members that cover a subset (LightGBM baseline and,
when present, the graph network). The reported ``<target>_std`` is an uncertainty (1σ) calibrated
at training time on out-of-fold errors (``metadata['calibration'][subset][target]``: the blend
weight, an error floor and a scale; see ``hypofinder.defects.calibrate``). ``metadata.json`` also
holds the training domain of every subset (defect types, defect counts, pair distances), the data
fingerprints, versions and the training time.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hypofinder.defects.baseline import GBMSubsetModel
from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.graph import DefectGraph
from hypofinder.defects.hosts import Host
from hypofinder.errors import DataNotFoundError
from hypofinder.models import PropertyPrediction

TARGETS = PropertyPrediction.targets()

FILES = ("hosts.json", "metadata.json", "gbm.json.gz", "gnn.pt")


def domain_of(graphs: list[DefectGraph]) -> dict:
    """The training range of one subset: defect types, defect counts, pair distances (Å)."""
    n = [g.n_defects for g in graphs]
    d = np.concatenate([g.distance for g in graphs]) if graphs else np.zeros(0)
    return {
        "types": sorted({(int(a), int(b)) for g in graphs for a, b in zip(g.z_from, g.z_to)}),
        "n_min": int(min(n)),
        "n_max": int(max(n)),
        "distance_min": float(d.min()) if d.size else 0.0,
        "distance_max": float(d.max()) if d.size else 0.0,
    }


def out_of_domain(graph: DefectGraph, dom: dict | None) -> list[str]:
    """Reasons why ``graph`` is outside the training domain (empty list = in domain)."""
    if dom is None:
        return [f"no training data for {graph.subset}"]
    why = []
    seen = {tuple(t) for t in dom["types"]}
    new = sorted({tok for tok, a, b in zip(graph.tokens, graph.z_from, graph.z_to) if (int(a), int(b)) not in seen})
    if new:
        why.append(f"defect types not seen in training: {', '.join(new)}")
    if not dom["n_min"] <= graph.n_defects <= dom["n_max"]:
        why.append(f"{graph.n_defects} defects outside the trained {dom['n_min']}-{dom['n_max']}")
    if graph.distance.size:
        lo, hi = float(graph.distance.min()), float(graph.distance.max())
        if lo < dom["distance_min"] - 1e-3 or hi > dom["distance_max"] + 1e-3:
            why.append(
                f"pair distances {lo:.2f}-{hi:.2f} Å outside the trained {dom['distance_min']:.2f}-{dom['distance_max']:.2f} Å"
            )
    return why


def in_domain_mask(graphs: list[DefectGraph] | GraphBatch, domains: dict) -> np.ndarray:
    """Vectorised ``not out_of_domain(g)`` for many graphs."""
    batch = graphs if isinstance(graphs, GraphBatch) else GraphBatch.from_graphs(graphs)
    out = np.zeros(batch.n_graphs, dtype=bool)
    if not batch.n_graphs:
        return out
    subs = np.array(batch.subsets)
    code = batch.z_from * 256 + batch.z_to
    big = np.inf
    dmin = np.full(batch.n_graphs, big)
    dmax = np.full(batch.n_graphs, -big)
    if batch.distance.size:
        np.minimum.at(dmin, batch.edge_graph, batch.distance)
        np.maximum.at(dmax, batch.edge_graph, batch.distance)
    for sub in np.unique(subs):
        dom = domains.get(sub)
        if dom is None:
            continue
        idx = np.nonzero(subs == sub)[0]
        seen = np.array([a * 256 + b for a, b in dom["types"]], dtype=np.int64)
        node_bad = ~np.isin(code, seen)
        bad = np.zeros(batch.n_graphs, dtype=bool)
        np.logical_or.at(bad, batch.node_graph, node_bad)
        n = batch.n_nodes
        ok = ~bad & (n >= dom["n_min"]) & (n <= dom["n_max"])
        ok &= (dmin >= dom["distance_min"] - 1e-3) | (dmin == big)
        ok &= (dmax <= dom["distance_max"] + 1e-3) | (dmax == -big)
        out[idx] = ok[idx]
    return out


@dataclass
class ModelBundle:
    hosts: dict[str, Host]
    metadata: dict
    gbm: dict[str, GBMSubsetModel]
    gnn: list = field(default_factory=list)  # GNNModel per group of subsets
    path: Path | None = None
    _cache: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ io
    def save(self, out: Path) -> None:
        """Write every file to a temp name first, then move into place (nothing half-written)."""
        import torch

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        blobs: dict[str, bytes] = {
            "hosts.json": json.dumps({k: h.to_json() for k, h in self.hosts.items()}, indent=1).encode(),
            "metadata.json": json.dumps(self.metadata, indent=1, default=_jsonable).encode(),
            "gbm.json.gz": gzip.compress(json.dumps({k: m.to_json() for k, m in self.gbm.items()}).encode(), mtime=0),
        }
        tmp_files = []
        for name, data in blobs.items():
            tmp = out / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp_files.append((tmp, out / name))
        if self.gnn:
            tmp = out / ".gnn.pt.tmp"
            torch.save([m.state() for m in self.gnn], tmp)
            tmp_files.append((tmp, out / "gnn.pt"))
        elif (out / "gnn.pt").exists():
            (out / "gnn.pt").unlink()
        for tmp, final in tmp_files:
            tmp.replace(final)

    @classmethod
    def load(cls, path: Path) -> ModelBundle:
        from hypofinder.defects.gnn import GNNModel

        path = Path(path)
        missing = [n for n in FILES[:3] if not (path / n).exists()]
        if missing:
            raise DataNotFoundError(
                f"defect-predictor weights not found in {path} (missing {', '.join(missing)}): run 'hypofinder defects train'"
            )
        hosts = {k: Host.from_json(v) for k, v in json.loads((path / "hosts.json").read_text()).items()}
        meta = json.loads((path / "metadata.json").read_text())
        gbm = {
            k: GBMSubsetModel.from_json(v)
            for k, v in json.loads(gzip.decompress((path / "gbm.json.gz").read_bytes())).items()
        }
        gnn = []
        if (path / "gnn.pt").exists():
            import torch

            gnn = [GNNModel.from_state(st) for st in torch.load(path / "gnn.pt", weights_only=True)]
        return cls(hosts=hosts, metadata=meta, gbm=gbm, gnn=gnn, path=path)

    # ------------------------------------------------------------------ inference
    def members(self, graphs: list[DefectGraph] | GraphBatch, use_gnn: bool = True) -> dict[str, np.ndarray]:
        """target -> (M, G) member predictions (row 0 LightGBM, row 1 graph network when used);
        NaN where a member lacks the subset or the target."""
        batch = graphs if isinstance(graphs, GraphBatch) else GraphBatch.from_graphs(graphs)
        G = batch.n_graphs
        rows = 2 if (self.gnn and use_gnn) else 1
        out = {t: np.full((rows, G), np.nan) for t in TARGETS}
        subs = np.array(batch.subsets)
        for sub in np.unique(subs):
            if sub in self.gbm:
                idx = np.nonzero(subs == sub)[0]
                for t, v in self.gbm[sub].predict(_part(batch, idx), self.hosts[sub]).items():
                    out[t][0, idx] = v
        if rows > 1:
            done = np.zeros(G, dtype=bool)
            for model in self.gnn:
                known = np.isin(subs, model.subsets) & ~done
                if known.any():
                    idx = np.nonzero(known)[0]
                    for t, v in model.predict(_part(batch, idx)).items():
                        out[t][1, idx] = v
                    done |= known
        return out

    def predict(self, graphs: list[DefectGraph] | GraphBatch, use_gnn: bool = True) -> dict[str, np.ndarray]:
        """Blended mean and calibrated uncertainty of every target; NaN for unknown subsets/targets.

        Per subset and target (``metadata['calibration']``): the graph network's ``blend`` weight
        (the rest LightGBM; a graph missing one member gets the other alone) and
        ``<target>_std`` = scale * sqrt(weighted member spread² + floor²)."""
        batch = graphs if isinstance(graphs, GraphBatch) else GraphBatch.from_graphs(graphs)
        cal = self.calibration()
        names, sub = np.unique(np.array(batch.subsets), return_inverse=True)
        out = {}
        for name, m in self.members(batch, use_gnn=use_gnn).items():
            table = np.array(
                [
                    [
                        cal.get(s, {}).get(name, {}).get(k, d)
                        for k, d in (("blend", 0.5), ("floor", 0.0), ("scale", 1.0))
                    ]
                    for s in names
                ]
            )
            w_net, floor, scale = table.reshape(len(names), 3)[sub.ravel()].T
            mean, spread = blend(m, w_net)
            out[name] = mean
            out[name + "_std"] = np.where(np.isnan(mean), np.nan, scale * np.sqrt(spread**2 + floor**2))
        return out

    def calibration(self) -> dict:
        """subset -> target -> {blend, floor, scale}; older metadata (``blend`` + ``typical_error``) read as such."""
        if "calibration" in self.metadata:
            return self.metadata["calibration"]
        if "_cal" not in self._cache:
            blend_w, typical = self.metadata.get("blend", {}), self.metadata.get("typical_error", {})
            self._cache["_cal"] = {
                s: {
                    t: {"blend": blend_w.get(s, {}).get(t, 0.5), "floor": v, "scale": 1.0}
                    for t, v in typical.get(s, {}).items()
                }
                for s in set(blend_w) | set(typical)
            }
        return self._cache["_cal"]

    def targets_of(self, subset: str) -> list[str]:
        """The targets the shipped models predict for ``subset``."""
        model = self.gbm.get(subset)
        return [t for t in TARGETS if model is not None and t in model.targets]


def _part(batch: GraphBatch, idx: np.ndarray) -> GraphBatch:
    """The graphs ``idx`` (sorted) of ``batch``: the batch itself when that is all of it."""
    return batch if len(idx) == batch.n_graphs else batch.select(idx)


def blend(m: np.ndarray, w_net) -> tuple[np.ndarray, np.ndarray]:
    """(weighted mean, weighted population std) of member rows ``m`` (M, G); graph-network weight
    ``w_net`` (scalar or (G,)) on row 1; a missing (NaN) member gives its weight to the other."""
    if m.shape[0] == 1:
        return m[0].copy(), np.zeros(m.shape[1])
    w_net = np.broadcast_to(np.asarray(w_net, dtype=float), m.shape[1:])
    w = np.stack([1.0 - w_net, w_net])
    w = np.where(np.isnan(m), 0.0, w)
    tot = w.sum(0)
    safe = np.where(tot > 0, tot, 1.0)
    mean = np.where(tot > 0, (w * np.nan_to_num(m)).sum(0) / safe, np.nan)
    var = (w * (np.nan_to_num(m) - np.nan_to_num(mean)) ** 2).sum(0) / safe
    return mean, np.sqrt(var)


def _jsonable(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(type(o).__name__)
