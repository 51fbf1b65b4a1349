"""Placements of a defect set in a host's supercell: symmetry-distinct enumeration and seeded sampling.

One defect is pinned to a representative site of its orbit; configurations equal under a symmetry
operation of the supercell (``SiteSpace.perms``) are kept once (``canonical`` / ``distinct``). Spaces
too large to enumerate are sampled (seeded) until enough distinct placements are found.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from hypofinder.defects.sites import CODE, DefectSet, SiteSpace

ENUM_LIMIT = 200_000  # pinned placements enumerated exhaustively up to this many, sampled beyond
MAX_CONFIGS = 50_000  # distinct configurations returned at most (default)


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
        cand = np.sort(img * CODE + dset.z_to, axis=2)
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
            order = (
                np.argpartition(keys, total - 1, axis=1)[:, :total] if total < len(pool) else np.argsort(keys, axis=1)
            )
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


__all__ = [
    "ENUM_LIMIT",
    "MAX_CONFIGS",
    "canonical",
    "configurations",
    "distinct",
    "enumerate_pinned",
    "pinned_count",
    "sample_pinned",
]
