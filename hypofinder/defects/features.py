"""Fixed-length features of defect graphs for the gradient-boosting baseline.

Per graph: subset one-hot, defect count, counts per defect type and per (type, |height|),
soft histograms of pair distances per (type pair, |Δz|) key, nearest-defect distances per
type, and the broken-bond histogram (``coordination``): how many of the host's remaining atoms
of each element have lost how many first-shell neighbours to vacancies and to substitutions.
The vocabulary (``FeatureSpec``) is learnt from the training graphs and saved as JSON.

The defect counts and the broken-bond histogram (``FeatureSpec.ridge_columns``) are the inputs of
a bond-counting model of the total formation energy (``hypofinder.defects.baseline``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from scipy import sparse

from hypofinder.defects.batch import GraphBatch, distinct, site_tables
from hypofinder.defects.hosts import Host

FEATURE_VERSION = 3  # bump when the feature layout changes (old weights then refuse to load)
CENTRES = np.arange(1.0, 16.01, 0.75)  # Å
WIDTH = 0.5  # Å
FAR = 30.0  # Å, "no other defect of this kind"
SHELL = 1.15  # first-neighbour shell: pairs closer than SHELL x the host's shortest interatomic distance
LOST = 7  # broken-bond histogram bins: 0 .. 6 (or more) neighbours lost


def _hkey(h: np.ndarray) -> np.ndarray:
    return np.rint(np.abs(h) * 10).astype(np.int64)  # |height| in 0.1 Å


def _node_code(k) -> np.ndarray:
    return (np.asarray(k[0]) + 1) * 100000 + np.asarray(k[1])


def _pair_code(k) -> np.ndarray:
    return ((np.asarray(k[0]) + 1) * 1000 + (np.asarray(k[1]) + 1)) * 100000 + np.asarray(k[2])


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index of each code in ``table`` (unsorted, unique), -1 where absent."""
    codes = np.asarray(codes, dtype=np.int64)
    if table.size == 0:
        return np.full(codes.shape, -1, dtype=np.int64)
    order = np.argsort(table)
    st = table[order]
    pos = np.clip(np.searchsorted(st, codes), 0, len(st) - 1)
    return np.where(st[pos] == codes, order[pos], -1)


@dataclass
class FeatureSpec:
    subsets: list[str] = field(default_factory=list)
    types: list[tuple[int, int]] = field(default_factory=list)  # (z_from, z_to)
    node_keys: list[tuple[int, int]] = field(default_factory=list)  # (type, |h| bucket)
    pair_keys: list[tuple[int, int, int]] = field(default_factory=list)  # (type_i <= type_j, |dz| bucket)
    elements: list[int] = field(default_factory=list)  # the host's Z, sorted (the broken-bond histogram's rows)

    @classmethod
    def fit(cls, batch: GraphBatch, host: Host) -> FeatureSpec:
        spec = cls(subsets=sorted(set(batch.subsets)), elements=sorted({int(z) for z in host.unit_numbers}))
        spec.types = sorted({(int(a), int(b)) for a, b in zip(batch.z_from, batch.z_to)})
        t = spec._type_ids(batch)
        spec.node_keys = sorted({(int(a), int(b)) for a, b in zip(t, _hkey(batch.height))})
        spec.pair_keys = sorted({tuple(int(x) for x in k) for k in spec._pair_raw(batch, t).T})
        return spec

    def to_json(self) -> dict:
        return {**asdict(self), "version": FEATURE_VERSION}

    @classmethod
    def from_json(cls, d: dict) -> FeatureSpec:
        if d.get("version") != FEATURE_VERSION:
            from hypofinder.errors import DataNotFoundError

            raise DataNotFoundError(
                f"weights use feature layout {d.get('version')} but this code uses {FEATURE_VERSION}: "
                "run 'hypofinder defects train'"
            )
        return cls(
            subsets=list(d["subsets"]),
            types=[tuple(x) for x in d["types"]],
            node_keys=[tuple(x) for x in d["node_keys"]],
            pair_keys=[tuple(x) for x in d["pair_keys"]],
            elements=list(d["elements"]),
        )

    def _type_ids(self, batch: GraphBatch) -> np.ndarray:
        codes = np.array([a * 256 + b for a, b in self.types], dtype=np.int64)
        return _lookup(codes, batch.z_from * 256 + batch.z_to)

    def _pair_raw(self, batch: GraphBatch, t: np.ndarray) -> np.ndarray:
        src, dst = batch.edge_index
        keep = src < dst
        ti, tj = t[src[keep]], t[dst[keep]]
        lo, hi = np.minimum(ti, tj), np.maximum(ti, tj)
        return np.stack([lo, hi, _hkey(batch.dz[keep])])

    @property
    def names(self) -> list[str]:
        out = [f"subset={s}" for s in self.subsets] + ["n_defects"]
        out += [f"count{t}" for t in self.types] + [f"frac{t}" for t in self.types]
        out += [f"node{k}" for k in self.node_keys]
        out += [f"pair{k}@{c:.2f}" for k in self.pair_keys for c in CENTRES]
        out += [f"nearest{t}" for t in self.types] + ["min_distance", "mean_nearest"]
        out += ["delta_electrons", "odd_electrons"]
        return out + [
            f"{z}{'*' if sub else ''}:lost{v}v{s}"
            for z in self.elements
            for sub in (0, 1)
            for v in range(LOST)
            for s in range(LOST)
        ]

    @property
    def ridge_columns(self) -> np.ndarray:
        """Defect counts and the broken-bond histogram (the last columns, indexed from the end): the
        bond-counting model's inputs."""
        counts = len(self.subsets) + 1 + np.arange(len(self.types))
        return np.concatenate([counts, np.arange(-len(self.elements) * 2 * LOST * LOST, 0)])

    def transform(self, batch: GraphBatch, host: Host) -> np.ndarray:
        """(G, F) float32 feature matrix of graphs on ``host``."""
        G = batch.n_graphs
        T, S = len(self.types), len(self.subsets)
        sidx = {s: i for i, s in enumerate(self.subsets)}
        one = np.zeros((G, S))
        for g, s in enumerate(batch.subsets):
            if s in sidx:
                one[g, sidx[s]] = 1.0
        n = batch.n_nodes.astype(float)
        t = self._type_ids(batch)
        ok = t >= 0
        counts = _sum_by(batch.node_graph[ok] * T + t[ok], (G, T))
        frac = counts / np.maximum(n, 1)[:, None]
        nid = _lookup(
            _node_code(np.array(self.node_keys, dtype=np.int64).reshape(-1, 2).T), _node_code((t, _hkey(batch.height)))
        )
        K, m = len(self.node_keys), nid >= 0
        nodes = _sum_by(batch.node_graph[m] * K + nid[m], (G, K))
        # pair histograms: the Gaussian weights of each distinct distance, summed per (graph, pair key)
        src, dst = batch.edge_index
        keep = src < dst
        raw = self._pair_raw(batch, t)
        pid = _lookup(_pair_code(np.array(self.pair_keys, dtype=np.int64).reshape(-1, 3).T), _pair_code(raw))
        P, m = len(self.pair_keys), pid >= 0
        d, inv = distinct(batch.distance[keep][m])
        w = np.exp(-(((d[:, None] - CENTRES[None]) / WIDTH) ** 2))
        rows = batch.edge_graph[keep][m] * P + pid[m]
        hist = sparse.csr_matrix((np.ones(len(rows)), (rows, inv)), shape=(G * P, len(d))) @ w
        # nearest other defect per node -> per type minimum
        near = np.full(len(t), FAR)
        if len(batch.distance):
            np.minimum.at(near, src, batch.distance)
        nearest = np.full((G, T), FAR)
        np.minimum.at(nearest, (batch.node_graph[ok], t[ok]), near[ok])
        mind = np.full(G, FAR)
        np.minimum.at(mind, batch.node_graph, near)
        meann = np.bincount(batch.node_graph, weights=near, minlength=G) / np.maximum(n, 1)
        dq = electron_change(batch)
        return np.concatenate(
            [
                one,
                n[:, None],
                counts,
                frac,
                nodes,
                np.asarray(hist).reshape(G, -1),
                nearest,
                mind[:, None],
                meann[:, None],
                dq[:, None],
                np.mod(dq, 2)[:, None],
                coordination(batch, host, self.elements),
            ],
            axis=1,
        ).astype(np.float32)


def coordination(batch: GraphBatch, host: Host, elements: list[int]) -> np.ndarray:
    """(G, len(elements) * 2 * LOST²) broken-bond histogram: per graph, the number of remaining host
    atoms of each element, pristine or substituted, that lost v first-shell neighbours to vacancies and
    s to substitutions (v, s capped at LOST - 1). Only the defects' neighbours leave bin (0, 0)."""
    G, E, B = batch.n_graphs, len(elements), LOST * LOST
    cells, weights = [], []

    def add(g, rank, sub, cell, weight):  # histogram[g, rank, sub, cell] += weight
        cells.append(((g * E + rank) * 2 + sub) * B + cell)
        weights.append(np.broadcast_to(np.asarray(weight, dtype=float), np.shape(cells[-1])))

    for size in {tuple(s) for s in batch.supercell.tolist()}:
        nb, z = first_shell(host, size)
        N, rank = len(z), np.searchsorted(elements, z)  # the host's elements are ``elements``
        graphs = np.all(batch.supercell == size, axis=1)
        nodes = np.nonzero(graphs[batch.node_graph])[0]
        g, site, vac = batch.node_graph[nodes], batch.site[nodes], batch.z_to[nodes] == 0
        # bin (0, 0): every pristine atom, less the defect sites, plus the substituted ones
        per = np.bincount(rank, minlength=E).astype(float)
        gs = np.nonzero(graphs)[0]
        add(np.repeat(gs, E), np.tile(np.arange(E), len(gs)), 0, 0, np.tile(per, len(gs)))
        add(g, rank[site], 0, 0, -1.0)
        add(g, rank[site], 1, 0, ~vac)
        # the defects' first-shell neighbours: how many of their neighbours are vacancies / substitutions
        pairs = nb[site]  # (n, K), -1 = padding
        keep = pairs >= 0
        keys, inv = distinct((g[:, None] * N + pairs)[keep])
        from_vac = np.broadcast_to(vac[:, None], pairs.shape)[keep]
        lost_v = np.minimum(np.bincount(inv, weights=from_vac, minlength=len(keys)), LOST - 1).astype(np.int64)
        lost_s = np.minimum(np.bincount(inv, weights=~from_vac, minlength=len(keys)), LOST - 1).astype(np.int64)
        defect = g * N + site
        alive = ~np.isin(keys, defect[vac])
        kg, kr, ks = keys[alive] // N, rank[keys[alive] % N], np.isin(keys[alive], defect[~vac]).astype(np.int64)
        add(kg, kr, ks, 0, -1.0)  # moved out of bin (0, 0)
        add(kg, kr, ks, (lost_v * LOST + lost_s)[alive], 1.0)
    if not cells:
        return np.zeros((G, E * 2 * B))
    return np.bincount(np.concatenate(cells), np.concatenate(weights), minlength=G * E * 2 * B).reshape(G, -1)


@lru_cache(maxsize=32)
def first_shell(host: Host, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours (N, K) padded with -1, Z (N,)) of the pristine ``size`` supercell's sites: the
    sites closer than SHELL x the shortest interatomic distance (3D, minimum image in plane)."""
    h, inplane = site_tables(host, size)
    N = len(h)
    d = np.sqrt(inplane**2 + (h[None] - h[:, None]) ** 2)
    np.fill_diagonal(d, np.inf)
    near = d < SHELL * d.min()
    K = max(int(near.sum(1).max()), 1)
    nb = np.full((N, K), -1, dtype=np.int64)
    i, j = np.nonzero(near)
    nb[i, np.arange(len(i)) - np.searchsorted(i, i)] = j  # j's place among i's neighbours
    return nb, host.unit_numbers[np.arange(N) % len(host.unit_numbers)].astype(np.int64)


def electron_change(batch: GraphBatch) -> np.ndarray:
    """Sum over defects of Z(new) - Z(original) per graph: its parity is the parity of the change in
    valence-electron count, i.e. whether the supercell becomes open-shell (odd)."""
    return np.bincount(batch.node_graph, weights=(batch.z_to - batch.z_from).astype(float), minlength=batch.n_graphs)


def _sum_by(cell: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Counts of flat cell indices ``cell`` (row * columns + column) as a ``shape`` array."""
    return np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape).astype(float)
