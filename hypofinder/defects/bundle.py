"""The shipped model set on disk: hosts.json, metadata.json, gbm.json.gz, gnn.pt.

Predictions are the mean of the members that cover a subset (LightGBM baseline and, when
present, the graph network); the reported ``*_std`` is the spread (population std) of the
members. ``metadata.json`` holds the training domain of every subset (defect types, defect
counts, pair distances), the data fingerprints, versions and the training time.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hypofinder.errors import DataNotFoundError
from hypofinder.defects.baseline import GBMSubsetModel
from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.graph import DefectGraph
from hypofinder.defects.hosts import Host

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


def in_domain_mask(graphs: list[DefectGraph], domains: dict) -> np.ndarray:
    """Vectorised ``not out_of_domain(g)`` for many graphs."""
    out = np.zeros(len(graphs), dtype=bool)
    if not graphs:
        return out
    batch = GraphBatch.from_graphs(graphs)
    subs = np.array(batch.subsets)
    code = batch.z_from * 256 + batch.z_to
    big = np.inf
    dmin = np.full(len(graphs), big)
    dmax = np.full(len(graphs), -big)
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
        bad = np.zeros(len(graphs), dtype=bool)
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
    def load(cls, path: Path) -> "ModelBundle":
        from hypofinder.defects.gnn import GNNModel

        path = Path(path)
        missing = [n for n in FILES[:3] if not (path / n).exists()]
        if missing:
            raise DataNotFoundError(
                f"defect-predictor weights not found in {path} (missing {', '.join(missing)}): run 'hypofinder defects train'"
            )
        hosts = {k: Host.from_json(v) for k, v in json.loads((path / "hosts.json").read_text()).items()}
        meta = json.loads((path / "metadata.json").read_text())
        gbm = {k: GBMSubsetModel.from_json(v) for k, v in json.loads(gzip.decompress((path / "gbm.json.gz").read_bytes())).items()}
        gnn = []
        if (path / "gnn.pt").exists():
            import torch

            gnn = [GNNModel.from_state(st) for st in torch.load(path / "gnn.pt", weights_only=True)]
        return cls(hosts=hosts, metadata=meta, gbm=gbm, gnn=gnn, path=path)

    # ------------------------------------------------------------------ inference
    def members(self, graphs: list[DefectGraph], use_gnn: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(M, G) member predictions for energy and gap; NaN where a member lacks the subset."""
        G = len(graphs)
        rows_e, rows_g = [], []
        e = np.full(G, np.nan)
        g = np.full(G, np.nan)
        subs = np.array([gr.subset for gr in graphs])
        for sub in np.unique(subs):
            idx = np.nonzero(subs == sub)[0]
            if sub in self.gbm:
                pe, pg = self.gbm[sub].predict(GraphBatch.from_graphs([graphs[i] for i in idx]))
                e[idx], g[idx] = pe, pg
        rows_e.append(e)
        rows_g.append(g)
        if self.gnn and use_gnn:
            e2 = np.full(G, np.nan)
            g2 = np.full(G, np.nan)
            for model in self.gnn:
                known = np.array([gr.subset in model.subset_ids for gr in graphs], dtype=bool) & np.isnan(e2)
                if known.any():
                    idx = np.nonzero(known)[0]
                    pe, pg = model.predict([graphs[i] for i in idx])
                    e2[idx], g2[idx] = pe, pg
            rows_e.append(e2)
            rows_g.append(g2)
        return np.stack(rows_e), np.stack(rows_g)

    def predict(self, graphs: list[DefectGraph], use_gnn: bool = True) -> dict[str, np.ndarray]:
        """Blended mean and uncertainty for both targets (eV); NaN for unknown subsets.

        Weights: ``metadata['blend'][subset][target]`` for the graph network (default 0.5), the
        rest for LightGBM; a graph missing one member gets the other alone. ``*_std`` =
        sqrt(weighted member spread² + ``metadata['typical_error']``²) (the subset's held-out MAE)."""
        me, mg = self.members(graphs, use_gnn=use_gnn)
        blend = self.metadata.get("blend", {})
        typical = self.metadata.get("typical_error", {})
        out = {}
        for name, m in (("formation_energy_per_site", me), ("homo_lumo_gap", mg)):
            floor = np.array([typical.get(g.subset, {}).get(name, 0.0) for g in graphs])
            w_net = np.array([blend.get(g.subset, {}).get(name, 0.5) for g in graphs]) if m.shape[0] > 1 else None
            if w_net is None:
                out[name], out[name + "_std"] = m[0].copy(), np.where(np.isnan(m[0]), np.nan, floor)
                continue
            w = np.stack([1.0 - w_net, w_net])
            w = np.where(np.isnan(m), 0.0, w)
            tot = w.sum(0)
            safe = np.where(tot > 0, tot, 1.0)
            mean = np.where(tot > 0, (w * np.nan_to_num(m)).sum(0) / safe, np.nan)
            var = (w * (np.nan_to_num(m) - mean) ** 2).sum(0) / safe
            out[name] = mean
            out[name + "_std"] = np.where(tot > 0, np.sqrt(var + floor**2), np.nan)
        return out


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
