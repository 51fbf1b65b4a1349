"""Defect screening (inverse design): every placement of a defect set in a host, predicted and ranked.

``screen(host, "vS,vS,W_Mo", target="homo_lumo_gap", maximize=False) -> ScreenResult``.

Configurations are rows of pristine-supercell site indices (the order of ``pristine_supercell``).
The supercell's symmetry operations (pymatgen ``SpacegroupAnalyzer``) become site permutations;
one defect is pinned to a representative site of its orbit and configurations equal under an
operation are predicted once. Spaces too large to enumerate are sampled (seeded). Graphs are
built straight from site indices (``graph_from_sites``) and predicted in one ``predict_graphs``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from hypofinder.defects.graph import atomic_number, graph_from_sites, parse_token
from hypofinder.defects.hosts import Host, host_info
from hypofinder.errors import BadInputError

TARGETS = ("homo_lumo_gap", "formation_energy_per_site")
ENUM_LIMIT = 200_000  # pinned placements enumerated exhaustively up to this many, sampled beyond
MAX_CONFIGS = 50_000  # distinct configurations predicted at most (default)
MAX_LIMIT = 100
_CODE = 128  # code = site * 128 + z_to (z_to < 128)


# --------------------------------------------------------------------------- the site space of a host


@dataclass(frozen=True)
class SiteSpace:
    """The pristine supercell of one subset host as arrays, with its symmetry as site permutations."""

    host: Host
    numbers: np.ndarray  # (N,) Z of every pristine site
    xy: np.ndarray  # (N, 2) in-plane Cartesian position, Å
    height: np.ndarray  # (N,) Å above the layer centre (sign = top/bottom layer)
    dist: np.ndarray  # (N, N) minimum-image distance (periodic in-plane, open along c), Å
    perms: np.ndarray  # (G, N) site i -> perms[g, i] under operation g
    orbit: np.ndarray  # (N,) index of the representative site of i's orbit
    to_rep: np.ndarray  # (N, S) operations mapping site i onto orbit[i] (padded by repetition)

    @property
    def n_sites(self) -> int:
        return len(self.numbers)

    @property
    def lattice_a(self) -> float:
        """In-plane unit-cell length a (Å): the natural length scale for 'clustered'."""
        return float(np.linalg.norm(self.host.unit_lattice[0]))

    def sites_of(self, z: int) -> np.ndarray:
        return np.nonzero(self.numbers == z)[0]

    def reps_of(self, z: int) -> np.ndarray:
        return np.unique(self.orbit[self.numbers == z])


@lru_cache(maxsize=16)
def site_space(host: Host) -> SiteSpace:
    """Site arrays and symmetry permutations of ``pristine_supercell(host)`` (cached per host)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
    from scipy.spatial import cKDTree

    from hypofinder.defects.hosts import pristine_supercell

    s = pristine_supercell(host)
    frac = np.mod(s.frac_coords, 1.0)
    frac[frac > 1 - 1e-9] = 0.0
    cart = s.cart_coords
    numbers = np.array([x.specie.Z for x in s], dtype=np.int64)
    with warnings.catch_warnings():  # spglib's deprecation notice about its error handling
        warnings.simplefilter("ignore", DeprecationWarning)
        ops = SpacegroupAnalyzer(s, symprec=0.01).get_symmetry_operations(cartesian=False)
    tree = cKDTree(frac, boxsize=1.0)
    moved = np.concatenate([np.mod(op.operate_multi(frac), 1.0) for op in ops])
    moved[moved >= 1.0] = 0.0
    gap, idx = tree.query(moved)
    if gap.max() > 1e-3:
        raise BadInputError(f"symmetry operations of {host.subset} do not map sites onto sites")
    perms = idx.reshape(len(ops), len(s)).astype(np.int64)
    if not all(np.array_equal(numbers[p], numbers) for p in perms):
        raise BadInputError(f"symmetry operations of {host.subset} mix elements")
    orbit = perms.min(0)
    stab = [np.nonzero(perms[:, i] == orbit[i])[0] for i in range(len(s))]
    width = max(len(x) for x in stab)
    to_rep = np.stack([np.resize(x, width) for x in stab]).astype(np.int64)
    sup = host.unit_lattice[:2, :2] * np.array([[host.supercell[0]], [host.supercell[1]]])
    xy, z = cart[:, :2], cart[:, 2]
    dist = np.hypot(_min_image(xy[None, :, :] - xy[:, None, :], sup), z[None, :] - z[:, None])
    return SiteSpace(host, numbers, xy, z - host.centre_z, dist, perms, orbit, to_rep)


def _min_image(vec: np.ndarray, sup: np.ndarray) -> np.ndarray:
    f = vec @ np.linalg.inv(sup)
    f -= np.rint(f)
    shifts = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=float)
    cand = (f[..., None, :] + shifts) @ sup
    return np.sqrt((cand * cand).sum(-1)).min(-1)


# --------------------------------------------------------------------------- defect sets


@dataclass(frozen=True)
class DefectSet:
    """Tokens in column order (the pinned group first) with their pristine and new Z."""

    tokens: tuple[str, ...]
    z_from: np.ndarray
    z_to: np.ndarray

    @property
    def k(self) -> int:
        return len(self.tokens)

    def groups(self) -> list[tuple[int, int, int, int]]:
        """(first column, count, z_from, z_to) per run of equal tokens."""
        out, i = [], 0
        while i < self.k:
            j = i
            while j < self.k and self.tokens[j] == self.tokens[i]:
                j += 1
            out.append((i, j - i, int(self.z_from[i]), int(self.z_to[i])))
            i = j
        return out


def split_tokens(defects: list[str] | str) -> list[str]:
    """'vS,vS,W_Mo' / 'vS vS W_Mo' / ['vS', 'W_Mo'] -> a token list (not yet checked)."""
    if isinstance(defects, str):
        defects = defects.replace(",", " ").replace(";", " ").split()
    toks = [str(t).strip() for t in defects if str(t).strip()]
    if not toks:
        raise BadInputError("no defects given: e.g. 'vS,vS,W_Mo' (vS = S vacancy, W_Mo = W on a Mo site)")
    return toks


def defect_set(host: Host, defects: list[str] | str, space: SiteSpace | None = None) -> DefectSet:
    """Check tokens against ``host`` (elements, site counts); order them for enumeration."""
    toks = split_tokens(defects)
    space = space or site_space(host)
    host_z = {int(z) for z in host.unit_numbers}
    parsed = []
    for tok in toks:
        site, new = parse_token(tok)
        z_from = atomic_number(site)
        if z_from not in host_z:
            raise BadInputError(f"{site} is not an element of {host.name} ({', '.join(host.elements)}): {tok} has no site")
        z_to = 0 if new is None else atomic_number(new)
        if z_to == z_from:
            raise BadInputError(f"{tok} puts {new} on its own site: not a defect")
        parsed.append((f"v{site}" if new is None else f"{new}_{site}", z_from, z_to))
    for z in sorted({p[1] for p in parsed}):
        need = sum(1 for p in parsed if p[1] == z)
        have = len(space.sites_of(z))
        if need > have:
            sym = next(p[0] for p in parsed if p[1] == z)
            raise BadInputError(
                f"{need} defects on {sym.split('_')[-1].lstrip('v')} sites but the {host.subset} "
                f"{host.supercell[0]}x{host.supercell[1]} supercell has only {have}"
            )
    counts: dict[tuple[str, int, int], int] = {}
    for p in parsed:
        counts[p] = counts.get(p, 0) + 1
    # pin the smallest group (fewest symmetry candidates), ties: smaller sublattice, then token
    order = sorted(counts, key=lambda p: (counts[p], len(space.sites_of(p[1])), p[0]))
    cols = [p for p in order for _ in range(counts[p])]
    return DefectSet(
        tokens=tuple(p[0] for p in cols),
        z_from=np.array([p[1] for p in cols], dtype=np.int64),
        z_to=np.array([p[2] for p in cols], dtype=np.int64),
    )


def space_size(space: SiteSpace, dset: DefectSet) -> int:
    """Number of placements of the defect set in the supercell (before symmetry)."""
    total = 1
    for z in sorted(set(dset.z_from.tolist())):
        n = len(space.sites_of(z))
        for _, c, zf, _ in dset.groups():
            if zf == z:
                total *= math.comb(n, c)
                n -= c
    return total


# --------------------------------------------------------------------------- enumeration


def canonical(space: SiteSpace, dset: DefectSet, sites: np.ndarray, chunk: int = 20_000) -> np.ndarray:
    """Symmetry-canonical code rows (M, k): equal rows <=> equivalent configurations.

    Candidates are the images that move one defect of the pinned group onto its orbit's
    representative; that set is the same for every equivalent configuration, so its
    lexicographic minimum is a canonical form.
    """
    sites = np.asarray(sites, dtype=np.int64).reshape(-1, dset.k)
    c0 = dset.groups()[0][1]
    out = np.empty_like(sites)
    for lo in range(0, len(sites), chunk):
        s = sites[lo : lo + chunk]
        ops = space.to_rep[s[:, :c0]].reshape(len(s), -1)  # (m, C)
        img = space.perms[ops[:, :, None], s[:, None, :]]  # (m, C, k)
        cand = np.sort(img * _CODE + dset.z_to, axis=2)
        keep = np.ones(cand.shape[:2], dtype=bool)
        for c in range(dset.k):
            v = np.where(keep, cand[:, :, c], np.iinfo(np.int64).max)
            keep &= cand[:, :, c] == v.min(1)[:, None]
        out[lo : lo + chunk] = cand[np.arange(len(s)), keep.argmax(1)]
    return out


def distinct(space: SiteSpace, dset: DefectSet, sites: np.ndarray) -> np.ndarray:
    """Indices of the first configuration of every symmetry class, in input order."""
    if len(sites) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(canonical(space, dset, sites), axis=0, return_index=True)
    return np.sort(first)


def _avail(space: SiteSpace, z: int, anchor: int, radius: float | None) -> np.ndarray:
    s = space.sites_of(z)
    s = s[s != anchor]
    if radius is not None:
        s = s[space.dist[anchor, s] <= radius + 1e-6]
    return s


def enumerate_pinned(space: SiteSpace, dset: DefectSet, radius: float | None = None) -> np.ndarray:
    """Every placement with the first defect on an orbit representative (rows of k sites)."""
    groups = dset.groups()
    rows_all = []
    for rep in space.reps_of(groups[0][2]):
        blocks = []
        for gi, (_, c, zf, _) in enumerate(groups):
            c = c - 1 if gi == 0 else c
            if c == 0:
                continue
            pool = _avail(space, zf, rep, radius)
            if len(pool) < c:
                blocks = None
                break
            blocks.append(np.array(list(combinations(pool.tolist(), c)), dtype=np.int64).reshape(-1, c))
        if blocks is None:
            continue
        rows = np.full((1, 1), rep, dtype=np.int64)
        for b in blocks:
            rows = np.hstack([np.repeat(rows, len(b), axis=0), np.tile(b, (len(rows), 1))])
        rows_all.append(rows)
    if not rows_all:
        return np.zeros((0, dset.k), dtype=np.int64)
    rows = np.concatenate(rows_all)
    srt = np.sort(rows, axis=1)
    ok = (np.diff(srt, axis=1) != 0).all(1) if dset.k > 1 else np.ones(len(rows), dtype=bool)
    return rows[ok]


def pinned_count(space: SiteSpace, dset: DefectSet, radius: float | None = None) -> int:
    """Upper bound of ``len(enumerate_pinned(...))`` without building it."""
    groups = dset.groups()
    total = 0
    for rep in space.reps_of(groups[0][2]):
        n = 1
        for gi, (_, c, zf, _) in enumerate(groups):
            n *= math.comb(len(_avail(space, zf, rep, radius)), c - 1 if gi == 0 else c)
        total += n
    return total


def sample_pinned(
    space: SiteSpace, dset: DefectSet, n: int, rng: np.random.Generator, radius: float | None = None
) -> np.ndarray:
    """``n`` random placements (first defect on a representative, weighted by orbit size)."""
    groups = dset.groups()
    reps = space.reps_of(groups[0][2])
    weight = np.array([(space.orbit == r).sum() for r in reps], dtype=float)
    which = rng.choice(len(reps), size=n, p=weight / weight.sum())
    out = []
    for ri, rep in enumerate(reps):
        m = int((which == ri).sum())
        if m == 0:
            continue
        block: dict[int, np.ndarray] = {}
        for z in dict.fromkeys(g[2] for g in groups):  # each sublattice once, disjoint sites
            need = [(gi, c - 1 if gi == 0 else c) for gi, (_, c, zf, _) in enumerate(groups) if zf == z]
            pool = _avail(space, z, rep, radius)
            total = sum(c for _, c in need)
            if len(pool) < total:
                break
            keys = rng.random((m, len(pool)))
            order = np.argpartition(keys, total - 1, axis=1)[:, :total] if total < len(pool) else np.argsort(keys, axis=1)
            pick = pool[order]
            pos = 0
            for gi, c in need:
                block[gi], pos = pick[:, pos : pos + c], pos + c
        else:
            cols = [np.full((m, 1), rep, dtype=np.int64)] + [block[gi] for gi in range(len(groups))]
            out.append(np.hstack(cols))
    return np.concatenate(out) if out else np.zeros((0, dset.k), dtype=np.int64)


def configurations(
    space: SiteSpace,
    dset: DefectSet,
    *,
    max_configs: int = MAX_CONFIGS,
    seed: int = 0,
    radius: float | None = None,
    enum_limit: int = ENUM_LIMIT,
) -> tuple[np.ndarray, bool, int]:
    """(symmetry-distinct placements as rows of k sites, exhaustive?, placements generated)."""
    rng = np.random.default_rng(seed)
    exhaustive = pinned_count(space, dset, radius) <= enum_limit
    if exhaustive:
        rows = enumerate_pinned(space, dset, radius)
        n_generated = len(rows)
        rows = rows[distinct(space, dset, rows)]
    else:
        rows, n_generated = _sample_distinct(space, dset, max_configs, rng, radius, enum_limit)
    if len(rows) > max_configs:
        rows = rows[np.sort(rng.choice(len(rows), size=max_configs, replace=False))]
        exhaustive = False
    for first, c, _, _ in dset.groups():  # equal tokens are interchangeable: sites ascending
        rows[:, first : first + c] = np.sort(rows[:, first : first + c], axis=1)
    return rows, exhaustive, n_generated


def _sample_distinct(space, dset, want: int, rng, radius, budget: int) -> tuple[np.ndarray, int]:
    """Sample in rounds until ``want`` distinct placements, the ``budget`` of draws, or no progress."""
    rows = np.zeros((0, dset.k), dtype=np.int64)
    canon = rows.copy()
    drawn = 0
    while drawn < budget and len(rows) < want:
        n = min(budget - drawn, max(int(1.2 * (want - len(rows))) + 100, 1000))
        new = sample_pinned(space, dset, n, rng, radius)
        drawn += n
        if len(new) == 0:
            break
        all_rows, all_canon = np.concatenate([rows, new]), np.concatenate([canon, canonical(space, dset, new)])
        _, first = np.unique(all_canon, axis=0, return_index=True)
        first.sort()
        gained = len(first) - len(rows)
        rows, canon = all_rows[first], all_canon[first]
        if gained < 0.01 * n:
            break
    return rows, drawn


# --------------------------------------------------------------------------- structures and labels


def structure_from_sites(host: Host, sites, z_to):
    """The defective supercell (pymatgen Structure) for defects on pristine-supercell sites."""
    from pymatgen.core import Element

    s = _pristine(host).copy()
    vac = []
    for site, z in zip(np.asarray(sites).tolist(), np.asarray(z_to).tolist()):
        if z == 0:
            vac.append(int(site))
        else:
            s.replace(int(site), Element.from_Z(int(z)))
    if vac:
        s.remove_sites(vac)
    return s


@lru_cache(maxsize=16)
def _pristine(host: Host):
    from hypofinder.defects.hosts import pristine_supercell

    return pristine_supercell(host)


def pair_stats(space: SiteSpace, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per configuration: (min, mean, max) pair distance (Å, minimum image); NaN for single defects."""
    sites = np.asarray(sites, dtype=np.int64)
    k = sites.shape[1]
    if k < 2:
        nan = np.full(len(sites), np.nan)
        return nan, nan, nan
    i, j = np.triu_indices(k, 1)
    d = space.dist[sites[:, i], sites[:, j]]
    return d.min(1), d.mean(1), d.max(1)


def label_of(space: SiteSpace, dset: DefectSet, row) -> str:
    """'vS@17+vS@20+W_Mo@0': tokens with their pristine-supercell sites."""
    return "+".join(f"{t}@{int(s)}" for t, s in zip(dset.tokens, row))


# --------------------------------------------------------------------------- screening


class ScreenedConfiguration(BaseModel):
    rank: int
    label: str = Field(description="token@site, sites of pristine_supercell(host)")
    sites: list[int]
    defects: list[str]
    formation_energy_per_site: float
    formation_energy_per_site_std: float
    homo_lumo_gap: float
    homo_lumo_gap_std: float
    in_domain: bool
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
        raise BadInputError(f"unknown target {target!r}: use {' or '.join(TARGETS)}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise BadInputError(f"limit must be 1-{MAX_LIMIT}, got {limit}")
    if int(max_configs) < 1:
        raise BadInputError(f"max_configs must be at least 1, got {max_configs}")
    toks = split_tokens(defects)
    h = host_info(host, density=density, n_defects=len(toks))
    predictor = predictor or DefectPredictor.load()  # loaded (once per process) outside the timings
    t0 = time.perf_counter()
    space = site_space(h)
    dset = defect_set(h, toks, space)
    rows, exhaustive, n_generated = configurations(space, dset, max_configs=int(max_configs), seed=seed)
    t1 = time.perf_counter()
    graphs = [graph_from_sites(h, h.supercell, r, dset.z_to) for r in rows]
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
        best.append(ScreenedConfiguration(
            rank=rank, label=label_of(space, dset, rows[i]), sites=[int(x) for x in rows[i]], defects=list(dset.tokens),
            formation_energy_per_site=float(pred["formation_energy_per_site"][i]),
            formation_energy_per_site_std=float(pred["formation_energy_per_site_std"][i]),
            homo_lumo_gap=float(pred["homo_lumo_gap"][i]), homo_lumo_gap_std=float(pred["homo_lumo_gap_std"][i]),
            in_domain=bool(pred["in_domain"][i]),
            min_distance=None if np.isnan(dmin[i]) else round(float(dmin[i]), 4),
            mean_distance=None if np.isnan(dmean[i]) else round(float(dmean[i]), 4), cif=cif,
        ))
    t4 = time.perf_counter()
    n = len(rows)
    timing = ScreenTiming(generate_s=t1 - t0, graphs_s=t2 - t1, predict_s=t3 - t2, export_s=t4 - t3, total_s=t4 - t0)
    return ScreenResult(
        host=h.name, subset=h.subset, supercell=list(h.supercell), defects=list(dset.tokens), target=target,
        maximize=bool(maximize), n_space=float(space_size(space, dset)), n_generated=int(n_generated), n_distinct=n,
        exhaustive=bool(exhaustive), symmetry_ops=len(space.perms), n_in_domain=int(np.sum(pred["in_domain"])),
        timing=timing, configs_per_s=n / max(t3 - t2, 1e-9), overall_per_s=n / max(t4 - t0, 1e-9), best=best,
    )


__all__ = [
    "DefectSet", "ScreenResult", "ScreenTiming", "ScreenedConfiguration", "SiteSpace", "canonical", "configurations",
    "defect_set", "distinct", "label_of", "pair_stats", "screen", "site_space", "space_size", "split_tokens",
    "structure_from_sites",
]
