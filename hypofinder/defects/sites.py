"""The site space of a host: its pristine supercell as arrays, with its symmetry as site permutations.

Configurations everywhere in hypofinder are rows of pristine-supercell site indices (the order of
``pristine_supercell``). ``site_space(host)`` turns the supercell's symmetry operations (pymatgen
``SpacegroupAnalyzer``) into site permutations and orbits; ``defect_set`` checks defect tokens against a
host and orders them for enumeration (``hypofinder.defects.placements``); ``structure_from_sites``,
``pair_stats`` and ``label_of`` turn rows back into structures, distances and labels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hypofinder.defects.graph import atomic_number, parse_token
from hypofinder.defects.hosts import Host
from hypofinder.errors import BadInputError

CODE = 128  # a defect as one integer: site * CODE + z_to (z_to < 128)


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
            raise BadInputError(
                f"{site} is not an element of {host.name} ({', '.join(host.elements)}): {tok} has no site"
            )
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


__all__ = [
    "CODE",
    "DefectSet",
    "SiteSpace",
    "defect_set",
    "label_of",
    "pair_stats",
    "site_space",
    "space_size",
    "split_tokens",
    "structure_from_sites",
]
