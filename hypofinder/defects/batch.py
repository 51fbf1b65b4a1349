"""Many defect graphs as one set of concatenated arrays (nodes, edges, graph index)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from hypofinder.defects.graph import DefectGraph, inplane_distance, site_positions
from hypofinder.defects.hosts import Host


@dataclass
class GraphBatch:
    """Concatenated graphs: node arrays (N,), edge arrays (E,), ``node_graph`` / ``edge_graph``
    map nodes/edges to their graph; ``edge_index`` indexes the concatenated nodes; ``site`` is a
    node's index in its graph's pristine supercell, ``supercell`` (G, 2) that supercell's size."""

    subsets: list[str]
    hosts: list[str]
    n_nodes: np.ndarray  # (G,)
    supercell: np.ndarray  # (G, 2)
    site: np.ndarray
    z_from: np.ndarray
    z_to: np.ndarray
    height: np.ndarray
    node_graph: np.ndarray
    edge_index: np.ndarray  # (2, E)
    distance: np.ndarray
    dz: np.ndarray
    edge_graph: np.ndarray

    @property
    def n_graphs(self) -> int:
        return len(self.n_nodes)

    @classmethod
    def from_graphs(cls, graphs: list[DefectGraph]) -> GraphBatch:
        n = np.array([g.n_defects for g in graphs], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(n)[:-1]]) if len(n) else np.zeros(0, dtype=np.int64)
        ne = np.array([g.edge_index.shape[1] for g in graphs], dtype=np.int64)

        def cat(attr, dtype):
            parts = [getattr(g, attr) for g in graphs]
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        ei = (
            np.concatenate([g.edge_index + o for g, o in zip(graphs, offsets)], axis=1)
            if graphs
            else np.zeros((2, 0), dtype=np.int64)
        )
        return cls(
            subsets=[g.subset for g in graphs],
            hosts=[g.host for g in graphs],
            n_nodes=n,
            supercell=np.array([g.extra["supercell"] for g in graphs], dtype=np.int64).reshape(-1, 2),
            site=cat("site", np.int64),
            z_from=cat("z_from", np.int64),
            z_to=cat("z_to", np.int64),
            height=cat("height", np.float64),
            node_graph=np.repeat(np.arange(len(graphs)), n),
            edge_index=ei.astype(np.int64),
            distance=cat("distance", np.float64),
            dz=cat("dz", np.float64),
            edge_graph=np.repeat(np.arange(len(graphs)), ne),
        )

    @classmethod
    def from_sites(cls, host: Host, size: tuple[int, int], rows: np.ndarray, z_to: np.ndarray) -> GraphBatch:
        """The graphs of many configurations with the same defect set, built as arrays (no per-graph
        objects): ``rows`` (M, k) pristine-supercell sites, ``z_to`` (k,) the new Z per column.
        Equal to ``from_graphs([graph_from_sites(host, size, r, z_to) for r in rows])``."""
        rows = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
        M, k = rows.shape
        order = np.argsort(rows, axis=1, kind="stable")
        sites = np.take_along_axis(rows, order, 1)
        z_new = np.asarray(z_to, dtype=np.int64)[order]
        height, dist = site_tables(host, tuple(size))
        src, dst = np.nonzero(~np.eye(k, dtype=bool))
        off = (np.arange(M) * k)[:, None]
        s_src, s_dst = sites[:, src], sites[:, dst]
        h = height[sites]
        return cls(
            subsets=[host.subset] * M,
            hosts=[host.name] * M,
            n_nodes=np.full(M, k, dtype=np.int64),
            supercell=np.tile(np.asarray(size, dtype=np.int64), (M, 1)),
            site=sites.ravel(),
            z_from=host.unit_numbers[sites % len(host.unit_numbers)].ravel().astype(np.int64),
            z_to=z_new.ravel(),
            height=h.ravel(),
            node_graph=np.repeat(np.arange(M), k),
            edge_index=np.stack([(off + src).ravel(), (off + dst).ravel()]).astype(np.int64),
            distance=dist[s_src, s_dst].ravel(),
            dz=(h[:, dst] - h[:, src]).ravel(),
            edge_graph=np.repeat(np.arange(M), len(src)),
        )

    def select(self, idx: np.ndarray) -> GraphBatch:
        """The sub-batch of graphs ``idx`` (in that order), without a Python loop over graphs."""
        idx = np.asarray(idx, dtype=np.int64)
        G = self.n_graphs
        node_off = np.concatenate([[0], np.cumsum(self.n_nodes)]).astype(np.int64)
        edge_counts = np.bincount(self.edge_graph, minlength=G).astype(np.int64)
        edge_off = np.concatenate([[0], np.cumsum(edge_counts)]).astype(np.int64)
        n_new, e_new = self.n_nodes[idx], edge_counts[idx]
        nodes = ranges(node_off[idx], n_new)
        edges = ranges(edge_off[idx], e_new)
        new_off = np.concatenate([[0], np.cumsum(n_new)[:-1]]).astype(np.int64) if len(idx) else np.zeros(0, np.int64)
        e_graph = np.repeat(np.arange(len(idx)), e_new)
        # edge endpoints: local position in the old graph + the graph's new offset
        shift = (new_off - node_off[idx])[e_graph] if len(edges) else np.zeros(0, np.int64)
        return GraphBatch(
            subsets=[self.subsets[i] for i in idx],
            hosts=[self.hosts[i] for i in idx],
            n_nodes=n_new,
            supercell=self.supercell[idx],
            site=self.site[nodes],
            z_from=self.z_from[nodes],
            z_to=self.z_to[nodes],
            height=self.height[nodes],
            node_graph=np.repeat(np.arange(len(idx)), n_new),
            edge_index=self.edge_index[:, edges] + shift,
            distance=self.distance[edges],
            dz=self.dz[edges],
            edge_graph=e_graph,
        )


def distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values in order of first appearance, index of each value among them): a hash
    table (pandas.factorize), not a sort. Defects sit on a lattice, so distances repeat a lot."""
    codes, uniques = pd.factorize(np.asarray(values))
    return np.asarray(uniques), codes.astype(np.int64)


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + c)`` for every (s, c), vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - first, counts) + np.arange(total)


@lru_cache(maxsize=16)
def site_tables(host: Host, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(height (N,), in-plane minimum-image distance (N, N)) of every pristine-supercell site."""
    xy, height = site_positions(host, size)
    n1, n2 = size
    sup = host.unit_lattice[:2, :2] * np.array([[n1], [n2]])
    N = len(xy)
    d = inplane_distance((xy[None, :, :] - xy[:, None, :]).reshape(-1, 2), sup).reshape(N, N)
    return height, d
