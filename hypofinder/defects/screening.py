"""Defect screening (inverse design): every placement of a defect set in a host, predicted and ranked.

``screen(host, "vS,vS,W_Mo", target="homo_lumo_gap", maximize=False) -> ScreenResult``.

The placements come from ``hypofinder.defects.placements`` (symmetry-distinct, enumerated or sampled
on the site space of ``hypofinder.defects.sites``); their graphs are built as one array batch straight
from site indices (``GraphBatch.from_sites``) and predicted in one ``predict_graphs`` call; the best
are exported as structures.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import BaseModel, Field

from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.hosts import host_info
from hypofinder.defects.placements import MAX_CONFIGS, configurations
from hypofinder.defects.sites import (
    defect_set,
    label_of,
    pair_stats,
    site_space,
    space_size,
    split_tokens,
    structure_from_sites,
)
from hypofinder.errors import BadInputError
from hypofinder.models import PropertyPrediction

TARGETS = PropertyPrediction.targets()
MAX_LIMIT = 100


# --------------------------------------------------------------------------- screening


class ScreenedConfiguration(PropertyPrediction):
    """One ranked configuration: its sites and distances beside the predicted properties."""

    rank: int
    label: str = Field(description="token@site, sites of pristine_supercell(host)")
    sites: list[int]
    defects: list[str]
    min_distance: float | None = Field(default=None, description="Å, smallest pair distance (minimum image)")
    mean_distance: float | None = Field(default=None, description="Å, mean pair distance (minimum image)")
    cif: str | None = None
    cif_path: str | None = None


class ScreenTiming(BaseModel):
    """Seconds per stage; shares are of ``total_s``."""

    generate_s: float = Field(description="enumerate/sample placements + symmetry reduction")
    graphs_s: float = Field(description="defect graphs from site indices")
    predict_s: float = Field(description="predict_graphs on every distinct configuration")
    export_s: float = Field(description="pymatgen structures + CIF text of the best")
    total_s: float


class ScreenResult(BaseModel):
    host: str
    subset: str
    supercell: list[int]
    defects: list[str]
    target: str
    maximize: bool
    n_space: float = Field(description="placements of the defects in the supercell, before symmetry")
    n_generated: int = Field(description="pinned placements enumerated or sampled")
    n_distinct: int = Field(description="symmetry-distinct configurations predicted")
    exhaustive: bool
    symmetry_ops: int
    n_in_domain: int
    timing: ScreenTiming
    configs_per_s: float = Field(description="distinct configurations predicted per second (graphs -> numbers)")
    overall_per_s: float = Field(description="distinct configurations per second, all stages")
    best: list[ScreenedConfiguration]


def screen(
    host: str,
    defects: list[str] | str,
    target: str = "homo_lumo_gap",
    maximize: bool = False,
    limit: int = 10,
    max_configs: int = MAX_CONFIGS,
    seed: int = 0,
    density: str | None = None,
    with_cif: bool = True,
    predictor=None,
) -> ScreenResult:
    """Rank every symmetry-distinct placement of ``defects`` in ``host`` by predicted ``target``."""
    from hypofinder.defects.predictor import DefectPredictor

    if target not in TARGETS:
        raise BadInputError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise BadInputError(f"limit must be 1-{MAX_LIMIT}, got {limit}")
    if int(max_configs) < 1:
        raise BadInputError(f"max_configs must be at least 1, got {max_configs}")
    toks = split_tokens(defects)
    h = host_info(host, density=density, n_defects=len(toks))
    predictor = predictor or DefectPredictor.load()  # loaded (once per process) outside the timings
    predictor.require(h.subset, target)
    t0 = time.perf_counter()
    space = site_space(h)
    dset = defect_set(h, toks, space)
    rows, exhaustive, n_generated = configurations(space, dset, max_configs=int(max_configs), seed=seed)
    t1 = time.perf_counter()
    graphs = GraphBatch.from_sites(h, h.supercell, rows, dset.z_to)
    t2 = time.perf_counter()
    pred = predictor.predict_graphs(graphs)
    t3 = time.perf_counter()
    y = np.asarray(pred[target], dtype=float)
    key = np.where(np.isnan(y), np.inf, -y if maximize else y)
    top = np.argsort(key, kind="stable")[: int(limit)]
    dmin, dmean, _ = pair_stats(space, rows)
    best = []
    for rank, i in enumerate(top, 1):
        cif = str(structure_from_sites(h, rows[i], dset.z_to).to(fmt="cif")) if with_cif else None
        best.append(
            ScreenedConfiguration(
                rank=rank,
                label=label_of(space, dset, rows[i]),
                sites=[int(x) for x in rows[i]],
                defects=list(dset.tokens),
                **PropertyPrediction.fields_from(pred, i),
                min_distance=None if np.isnan(dmin[i]) else round(float(dmin[i]), 4),
                mean_distance=None if np.isnan(dmean[i]) else round(float(dmean[i]), 4),
                cif=cif,
            )
        )
    t4 = time.perf_counter()
    n = len(rows)
    timing = ScreenTiming(generate_s=t1 - t0, graphs_s=t2 - t1, predict_s=t3 - t2, export_s=t4 - t3, total_s=t4 - t0)
    return ScreenResult(
        host=h.name,
        subset=h.subset,
        supercell=list(h.supercell),
        defects=list(dset.tokens),
        target=target,
        maximize=bool(maximize),
        n_space=float(space_size(space, dset)),
        n_generated=int(n_generated),
        n_distinct=n,
        exhaustive=bool(exhaustive),
        symmetry_ops=len(space.perms),
        n_in_domain=int(np.sum(pred["in_domain"])),
        timing=timing,
        configs_per_s=n / max(t3 - t2, 1e-9),
        overall_per_s=n / max(t4 - t0, 1e-9),
        best=best,
    )


__all__ = ["ScreenResult", "ScreenTiming", "ScreenedConfiguration", "screen"]
