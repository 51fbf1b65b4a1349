"""A ``ValidationRequest`` -> concrete defect configurations in the host's training supercell.

Pairs are enumerated (symmetry-distinct, via ``hypofinder.defects.placements``); larger sets are
sampled around a pinned defect at growing radii (clustered -> dispersed). Constraints of the
request (distances, arrangement, same layer) filter them; a spread over the claimed variable
is kept. Everything is seeded: the same request always gives the same configurations.
Distances are minimum-image distances between the defect sites (Å, 3D; the supercell is periodic in-plane).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hypofinder.defects.hosts import Host, canonical_host, host_info
from hypofinder.defects.placements import configurations as distinct_configurations
from hypofinder.defects.placements import distinct, pinned_count, sample_pinned
from hypofinder.defects.sites import (
    DefectSet,
    SiteSpace,
    defect_set,
    pair_stats,
    site_space,
    structure_from_sites,
)
from hypofinder.errors import BadInputError
from hypofinder.models import ValidationRequest

MAX_CONFIGS = 20  # configurations predicted per request (pair_distance / none)
PER_COUNT = 3  # configurations per defect count (defect_count)
COUNT_RANGE = 6  # a single token under defect_count is tried 1..6 times
CLUSTER_NN = 1.5  # clustered: every defect has another within 1.5 a (a = in-plane lattice constant)
DISPERSED_NN = 2.0  # dispersed: no two defects closer than 2 a
PAIR_ENUM_LIMIT = 20_000  # pinned placements enumerated exhaustively, sampled beyond
SAMPLES_PER_RADIUS = 300
LAYER_TOL = 0.1  # Å: sites further than this from the mid-plane belong to the top or bottom layer
SEED = 0


@dataclass
class Configuration:
    """One concrete defect configuration of a request."""

    host: Host  # the subset host (its supercell, its model)
    tokens: tuple[str, ...]
    sites: np.ndarray  # pristine-supercell site indices, aligned with tokens
    z_to: np.ndarray
    variable_value: float | None
    label: str

    @cached_property
    def structure(self):
        """The defective supercell as a pymatgen Structure."""
        return structure_from_sites(self.host, self.sites, self.z_to)


def check_request(req: ValidationRequest) -> None:
    """Contradictions visible without a host: one clear BadInputError."""
    lo, hi = req.min_distance, req.max_distance
    if lo is not None and hi is not None and lo > hi:
        raise BadInputError(f"min_distance {lo:g} Å > max_distance {hi:g} Å: no arrangement satisfies both")
    if req.claimed_min is not None and req.claimed_max is not None and req.claimed_min > req.claimed_max:
        raise BadInputError(f"claimed range {req.claimed_min:g}-{req.claimed_max:g} eV is empty (min > max)")
    if req.variable == "pair_distance" and len(req.defects) < 2:
        raise BadInputError(
            f"a pair-distance claim needs at least two defects, got {len(req.defects)} ({', '.join(req.defects)})"
        )


def build(req: ValidationRequest, max_configs: int = MAX_CONFIGS, seed: int = SEED) -> list[Configuration]:
    """The configurations that test ``req`` (BadInputError with the reason when none can)."""
    name = canonical_host(req.host)
    defect_set(host_info(name, n_defects=len(req.defects)), list(req.defects))  # tokens, elements, site counts
    check_request(req)
    if req.variable == "defect_count":
        toks = list(req.defects)
        counts = range(1, COUNT_RANGE + 1) if len(toks) == 1 else range(1, len(toks) + 1)
        largest = toks * counts[-1] if len(toks) == 1 else toks
        defect_set(host_info(name, n_defects=len(largest)), largest)  # the full set must fit before any is built
        out: list[Configuration] = []
        for n in counts:
            sub = toks * n if len(toks) == 1 else toks[:n]
            out += _pick(req, name, sub, PER_COUNT, seed, value=float(n))
        return out
    return _pick(req, name, list(req.defects), max_configs, seed)


def _pick(req: ValidationRequest, name: str, toks: list[str], keep: int, seed: int, value: float | None = None):
    host = host_info(name, n_defects=len(toks))
    space = site_space(host)
    dset = defect_set(host, toks, space)
    a = space.lattice_a
    _check_arrangement(req, dset, space, a)
    rows = _candidates(space, dset, req, seed)
    rows = rows[_satisfies(space, dset, rows, req, a)]
    if len(rows) == 0:
        raise BadInputError(
            f"no configuration of {', '.join(dset.tokens)} in the {host.subset} "
            f"{host.supercell[0]}x{host.supercell[1]} supercell satisfies {_constraints(req)}"
            f"{_possible(space, dset)}"
        )
    dmin, dmean, _ = pair_stats(space, rows)
    order = np.lexsort((np.arange(len(rows)), np.nan_to_num(dmean, nan=0.0)))
    rows, dmin, dmean = rows[order], dmin[order], dmean[order]
    idx = np.unique(np.rint(np.linspace(0, len(rows) - 1, min(keep, len(rows)))).astype(int))
    out = []
    for i in idx:
        x = value if value is not None else (None if np.isnan(dmean[i]) else round(float(dmean[i]), 3))
        out.append(
            Configuration(
                host, dset.tokens, rows[i].copy(), dset.z_to.copy(), x, _label(space, dset, rows[i], dmean[i], value)
            )
        )
    _unique_labels(out)
    return out


def _candidates(space: SiteSpace, dset: DefectSet, req: ValidationRequest, seed: int) -> np.ndarray:
    """Symmetry-distinct placements: all of them when few, else samples from tight to loose."""
    if pinned_count(space, dset) <= PAIR_ENUM_LIMIT:
        return distinct_configurations(space, dset, max_configs=10**9, seed=seed, enum_limit=PAIR_ENUM_LIMIT)[0]
    rng = np.random.default_rng(seed)
    a = space.lattice_a
    radii = [CLUSTER_NN * a, 2.5 * a, 4.0 * a, None]
    parts = [p for p in (sample_pinned(space, dset, SAMPLES_PER_RADIUS, rng, r) for r in radii) if len(p)]
    rows = np.concatenate(parts) if parts else np.zeros((0, dset.k), dtype=np.int64)
    return rows[distinct(space, dset, rows)]


def _layers(space: SiteSpace, rows: np.ndarray) -> np.ndarray:
    """(M, k) -1 bottom / 0 mid-plane / +1 top for every defect."""
    h = space.height[rows]
    return np.where(h > LAYER_TOL, 1, np.where(h < -LAYER_TOL, -1, 0))


def _nearest(space: SiteSpace, rows: np.ndarray) -> np.ndarray:
    d = space.dist[rows[:, :, None], rows[:, None, :]]
    k = rows.shape[1]
    d[:, np.arange(k), np.arange(k)] = np.inf
    return d.min(2)


def _satisfies(space: SiteSpace, dset: DefectSet, rows: np.ndarray, req: ValidationRequest, a: float) -> np.ndarray:
    ok = np.ones(len(rows), dtype=bool)
    if dset.k >= 2 and len(rows):
        dmin, _, dmax = pair_stats(space, rows)
        if req.min_distance is not None:
            ok &= dmin >= req.min_distance - 1e-6
        if req.max_distance is not None:
            ok &= dmax <= req.max_distance + 1e-6
        if req.arrangement == "clustered":
            ok &= _nearest(space, rows).max(1) <= CLUSTER_NN * a + 1e-6
        elif req.arrangement == "dispersed":
            ok &= dmin >= DISPERSED_NN * a - 1e-6
    if req.same_layer is not None and len(rows):
        lay = _layers(space, rows)
        sided = np.where(lay != 0, lay, 0)
        top, bottom = (sided > 0).any(1), (sided < 0).any(1)
        ok &= ~(top & bottom) if req.same_layer else (top & bottom)
    return ok


def _check_arrangement(req: ValidationRequest, dset: DefectSet, space: SiteSpace, a: float) -> None:
    lo, hi = req.min_distance, req.max_distance
    if dset.k >= 2 and req.arrangement == "clustered" and lo is not None and lo > CLUSTER_NN * a:
        raise BadInputError(
            f"'clustered' (every defect within {CLUSTER_NN * a:.1f} Å of another in "
            f"{space.host.name}) contradicts min_distance {lo:g} Å"
        )
    if dset.k >= 2 and req.arrangement == "dispersed" and hi is not None and hi < DISPERSED_NN * a:
        raise BadInputError(
            f"'dispersed' (no two defects closer than {DISPERSED_NN * a:.1f} Å in "
            f"{space.host.name}) contradicts max_distance {hi:g} Å"
        )
    if req.same_layer is False:
        sided = np.abs(space.height[np.isin(space.numbers, dset.z_from)]) > LAYER_TOL
        if not sided.any():
            raise BadInputError(
                f"every {'/'.join(sorted(set(t.split('_')[-1].lstrip('v') for t in dset.tokens)))} "
                f"site of {space.host.name} lies in one plane: defects cannot sit in different layers"
            )
        if dset.k < 2:
            raise BadInputError("same_layer=False needs at least two defects")


def _constraints(req: ValidationRequest) -> str:
    parts = []
    if req.min_distance is not None:
        parts.append(f"min_distance {req.min_distance:g} Å")
    if req.max_distance is not None:
        parts.append(f"max_distance {req.max_distance:g} Å")
    if req.arrangement != "any":
        parts.append(f"arrangement '{req.arrangement}'")
    if req.same_layer is not None:
        parts.append("same layer" if req.same_layer else "different layers")
    return ", ".join(parts) or "the request"


def _possible(space: SiteSpace, dset: DefectSet) -> str:
    if dset.k != 2:
        return ""
    rows, _, _ = distinct_configurations(space, dset, max_configs=10**9, enum_limit=PAIR_ENUM_LIMIT)
    d = pair_stats(space, rows)[0]
    return f" (possible pair distances {np.nanmin(d):.2f}-{np.nanmax(d):.2f} Å)"


def _label(space: SiteSpace, dset: DefectSet, row: np.ndarray, dmean: float, count: float | None) -> str:
    toks = list(dset.tokens)
    names = "+".join(f"{t}×{toks.count(t)}" if toks.count(t) > 1 else t for t in dict.fromkeys(toks))
    if dset.k == 1:
        return f"{names}" if count is None else f"n=1: {names}"
    lay = _layers(space, row[None])[0]
    sided = lay[lay != 0]
    layer = ""
    if sided.size == dset.k:
        layer = ", same layer" if np.all(sided == sided[0]) else ", both layers"
    dist = f"d={dmean:.2f} Å" if dset.k == 2 else f"mean d={dmean:.2f} Å"
    head = "+".join(toks) if dset.k == 2 else names
    return f"{head} {dist}{layer}" if count is None else f"n={int(count)}: {names}, {dist}{layer}"


def _unique_labels(configs: list[Configuration]) -> None:
    seen: dict[str, int] = {}
    for c in configs:
        n = seen.get(c.label, 0) + 1
        seen[c.label] = n
        if n > 1:
            c.label = f"{c.label} #{n}"


__all__ = ["Configuration", "build", "check_request"]
