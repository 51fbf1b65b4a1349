"""Train the shipped model set (seeded, reproducible) on a 2DMD folder and write it to disk."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hypofinder.defects.baseline import GBMSubsetModel
from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.bundle import TARGETS, ModelBundle, domain_of
from hypofinder.defects.calibrate import COVERAGE_2SIGMA
from hypofinder.defects.data import Subset, load_dataset
from hypofinder.models import PropertyPrediction

# The graph networks: one per density group (the subset is the global state), epochs per group.
# 0 = no network for that group: on the low-density subsets LightGBM alone is already below the
# paper's Sparse (MEGNet) MAE and the network (30-60 epochs, all the CPU budget allows) is not.
GNN_EPOCHS = {"high": 100, "low": 0}
GNN_DIM = 64
GNN_BLOCKS = 3
# Out-of-fold predictions for the blend weights and the uncertainty calibration (hypofinder.defects.calibrate):
# the recipe is fitted FOLDS more times on (FOLDS-1)/FOLDS of the data.
FOLDS = 3


def default_groups(names) -> list[list[str]]:
    """Subsets grouped by density prefix: [[high_*], [low_*]]."""
    groups: dict[str, list[str]] = {}
    for n in sorted(names):
        groups.setdefault(n.split("_", 1)[0], []).append(n)
    return list(groups.values())


def threads() -> int:
    """Torch threads for training: HYPOFINDER_TRAIN_THREADS, default 1 (the 2 cores are shared;
    oversubscribed OpenMP threads were several times slower than one thread here)."""
    return max(1, int(os.environ.get("HYPOFINDER_TRAIN_THREADS", "1")))


def _versions() -> dict:
    import lightgbm
    import pymatgen.core
    import torch

    from hypofinder import __version__

    return {
        "hypofinder": __version__,
        "torch": torch.__version__,
        "lightgbm": lightgbm.__version__,
        "numpy": np.__version__,
        "pymatgen": getattr(pymatgen.core, "__version__", "?"),
    }


def _fit_members(
    subsets: dict[str, Subset],
    sel: dict[str, np.ndarray],
    seed: int,
    gnn_epochs: int | None,
    gnn_groups: list[list[str]] | None,
    log,
) -> ModelBundle:
    """LightGBM per subset + the graph network(s) on the rows ``sel`` of every subset (no calibration)."""
    import torch

    from hypofinder.defects.gnn import train_gnn

    torch.set_num_threads(threads())
    hosts, gbm, domain = {}, {}, {}
    for name, s in subsets.items():
        t0 = time.perf_counter()
        graphs = [s.graphs[i] for i in sel[name]]
        gbm[name] = GBMSubsetModel.fit(
            GraphBatch.from_graphs(graphs), s.host, {t: v[sel[name]] for t, v in s.targets.items()}, seed=seed
        )
        hosts[name] = s.host
        domain[name] = domain_of(graphs)
        log(f"  lightgbm {name}: {len(graphs)} structures, {len(s.targets)} targets, {time.perf_counter() - t0:.1f}s")
    nets = []
    for group in (gnn_groups or default_groups(subsets)) if gnn_epochs != 0 else []:
        epochs = gnn_epochs or GNN_EPOCHS.get(group[0].split("_", 1)[0], max(GNN_EPOCHS.values()))
        if epochs <= 0:
            continue
        t0 = time.perf_counter()
        graphs = [subsets[n].graphs[i] for n in group for i in sel[n]]
        y = {t: np.concatenate([_column(subsets[n], t)[sel[n]] for n in group]) for t in TARGETS}
        y = {t: v for t, v in y.items() if np.isfinite(v).any()}
        nets.append(
            train_gnn(GraphBatch.from_graphs(graphs), y, epochs=epochs, d=GNN_DIM, blocks=GNN_BLOCKS, seed=seed)
        )
        log(
            f"  graph network {'+'.join(group)}: {len(graphs)} structures, {epochs} epochs, {time.perf_counter() - t0:.1f}s"
        )
    return ModelBundle(hosts=hosts, metadata={"domain": domain}, gbm=gbm, gnn=nets)


def _column(s: Subset, target: str) -> np.ndarray:
    return s.targets.get(target, np.full(len(s), np.nan))


def fit_bundle(
    subsets: dict[str, Subset],
    seed: int = 0,
    gnn_epochs: int | None = None,
    gnn_groups: list[list[str]] | None = None,
    log=print,
    indices: dict[str, np.ndarray] | None = None,
    folds: int = FOLDS,
) -> ModelBundle:
    """Fit LightGBM per subset and the graph network(s) on ``subsets`` (optionally only ``indices``),
    then blend weights and uncertainty scales from ``folds``-fold out-of-fold predictions (0 or 1: none).

    ``gnn_epochs``: epochs for every network (None = ``GNN_EPOCHS`` per density group, 0 = no
    graph network). ``gnn_groups`` partitions subsets into networks (default: by density).
    """
    from hypofinder.defects.calibrate import calibrate

    sel = {k: (np.asarray(indices[k]) if indices is not None else np.arange(len(s))) for k, s in subsets.items()}
    folds = folds if folds >= 2 else 0
    rng = np.random.default_rng(seed + 7919)
    part = {k: rng.permutation(len(v)) % max(folds, 1) for k, v in sel.items()}
    job = (subsets, sel, part, seed, gnn_epochs, gnn_groups, folds)
    n_workers = min(workers(), folds + 1)
    if n_workers > 1:  # the fits are independent: one process each (fork: the data are shared, not copied)
        import multiprocessing

        global _JOB
        _JOB = job
        with multiprocessing.get_context("fork").Pool(n_workers) as pool:
            results = pool.map(_fit_job, range(-1, folds))
        _JOB = None
    else:
        results = [_fit_job(f, job, log) for f in range(-1, folds)]
    bundle = results[0]
    log(
        f"  fitted: {len(bundle.gbm)} LightGBM subsets, {len(bundle.gnn)} graph network(s)"
        + (f", {folds} out-of-fold fits" if folds else "")
    )
    if folds:
        rows = {k: len(v) for k, v in sel.items()}
        offset = dict(zip(rows, np.cumsum([0] + list(rows.values()))[:-1]))
        members = {t: np.full((1 + bool(bundle.gnn), sum(rows.values())), np.nan) for t in TARGETS}
        for f, fold_members in enumerate(results[1:]):
            where = np.concatenate([offset[k] + np.nonzero(part[k] == f)[0] for k in subsets])
            for t, m in fold_members.items():
                members[t][:, where] = m[: members[t].shape[0]]
        truth = {t: np.concatenate([_column(subsets[k], t)[sel[k]] for k in rows]) for t in TARGETS}
        names = np.concatenate([[k] * n for k, n in rows.items()])
        bundle.metadata["calibration"] = calibrate(members, truth, names)
    return bundle


_JOB = None


def _fit_job(fold: int, job=None, log=lambda *_: None):
    """fold -1: the shipped fit on all rows (a ModelBundle); fold f: fit without part f and return
    the member predictions (target -> (M, G)) on part f."""
    subsets, sel, part, seed, gnn_epochs, gnn_groups, folds = job or _JOB
    if fold < 0:
        return _fit_members(subsets, sel, seed, gnn_epochs, gnn_groups, log)
    t0 = time.perf_counter()
    model = _fit_members(
        subsets, {k: v[part[k] != fold] for k, v in sel.items()}, seed, gnn_epochs, gnn_groups, lambda *_: None
    )
    graphs = [subsets[k].graphs[sel[k][j]] for k in subsets for j in np.nonzero(part[k] == fold)[0]]
    out = model.members(graphs)
    log(f"  out-of-fold {fold + 1}/{folds}: {time.perf_counter() - t0:.1f}s")
    return out


def workers() -> int:
    """Processes for the independent fits (shipped + out-of-fold): HYPOFINDER_TRAIN_WORKERS, default 1."""
    return max(1, int(os.environ.get("HYPOFINDER_TRAIN_WORKERS", "1")))


def train(data_dir: Path, out: Path, seed: int = 0, gnn_epochs: int | None = None, log=print) -> dict:
    """Load ``data_dir`` (2DMD layout), fit everything, write weights + metadata.json to ``out``."""
    t_start = time.perf_counter()
    subsets = load_dataset(data_dir)
    t_load = time.perf_counter() - t_start
    log(f"loaded {sum(len(s) for s in subsets.values())} structures from {len(subsets)} subsets in {t_load:.1f}s")
    np.random.seed(seed)
    bundle = fit_bundle(subsets, seed=seed, gnn_epochs=gnn_epochs, log=log)
    seconds = time.perf_counter() - t_start
    bundle.metadata.update(
        {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": seed,
            "targets": {
                t: {
                    "unit": PropertyPrediction.unit(t),
                    "columns": PropertyPrediction.columns(t),
                    "subsets": [k for k in bundle.gbm if t in bundle.gbm[k].targets],
                }
                for t in TARGETS
            },
            "members": ["lightgbm"] + (["graph_network"] if bundle.gnn else []),
            "uncertainty": "1 sigma = scale * sqrt(spread^2 + floor^2) per subset and target ('calibration'): spread = "
            "weighted population std of the members (graph-network weight 'blend'), floor = out-of-fold MAE, scale "
            f"fitted so that {COVERAGE_2SIGMA:.0%} of the {FOLDS}-fold out-of-fold errors lie within 2 sigma",
            "hosts": {k: {"host": h.name, "supercell": list(h.supercell)} for k, h in bundle.hosts.items()},
            "data": {
                k: {"n": len(s), "fingerprint_sha256": s.fingerprint, "folder": str(Path(data_dir) / k)}
                for k, s in subsets.items()
            },
            "gnn": {
                "epochs": gnn_epochs if gnn_epochs is not None else GNN_EPOCHS,
                "dim": GNN_DIM,
                "blocks": GNN_BLOCKS,
                "networks": [m.subsets for m in bundle.gnn],
            },
            "versions": _versions(),
            "train_seconds": round(seconds, 1),
            "threads": threads(),
        }
    )
    bundle.save(out)
    log(f"trained in {seconds:.1f}s -> {out}")
    return bundle.metadata
