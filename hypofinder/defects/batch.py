"""Many defect graphs as one set of concatenated arrays (nodes, edges, graph index)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hypofinder.defects.graph import DefectGraph


@dataclass
class GraphBatch:
    """Concatenated graphs: node arrays (N,), edge arrays (E,), ``node_graph`` / ``edge_graph``
    map nodes/edges to their graph; ``edge_index`` indexes the concatenated nodes."""

    subsets: list[str]
    hosts: list[str]
    n_nodes: np.ndarray  # (G,)
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
    def from_graphs(cls, graphs: list[DefectGraph]) -> "GraphBatch":
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
            z_from=cat("z_from", np.int64),
            z_to=cat("z_to", np.int64),
            height=cat("height", np.float64),
            node_graph=np.repeat(np.arange(len(graphs)), n),
            edge_index=ei.astype(np.int64),
            distance=cat("distance", np.float64),
            dz=cat("dz", np.float64),
            edge_graph=np.repeat(np.arange(len(graphs)), ne),
        )

    def select(self, idx: np.ndarray) -> "GraphBatch":
        """The sub-batch of graphs ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        node_off = np.concatenate([[0], np.cumsum(self.n_nodes)])
        edge_counts = np.bincount(self.edge_graph, minlength=self.n_graphs)
        edge_off = np.concatenate([[0], np.cumsum(edge_counts)])
        nodes = np.concatenate([np.arange(node_off[i], node_off[i + 1]) for i in idx]) if len(idx) else np.zeros(0, int)
        edges = np.concatenate([np.arange(edge_off[i], edge_off[i + 1]) for i in idx]) if len(idx) else np.zeros(0, int)
        remap = np.full(len(self.z_from), -1, dtype=np.int64)
        remap[nodes] = np.arange(len(nodes))
        n_new = self.n_nodes[idx]
        e_new = edge_counts[idx]
        return GraphBatch(
            subsets=[self.subsets[i] for i in idx],
            hosts=[self.hosts[i] for i in idx],
            n_nodes=n_new,
            z_from=self.z_from[nodes],
            z_to=self.z_to[nodes],
            height=self.height[nodes],
            node_graph=np.repeat(np.arange(len(idx)), n_new),
            edge_index=remap[self.edge_index[:, edges]],
            distance=self.distance[edges],
            dz=self.dz[edges],
            edge_graph=np.repeat(np.arange(len(idx)), e_new),
        )
