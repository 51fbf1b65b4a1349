"""A MEGNet-like graph network on sparse defect graphs, batched densely with padding.

Graphs are complete (every defect pair is an edge), so a batch is held as dense tensors padded to
its largest defect count: nodes (B, n, d), edges (B, n, n, de), global state (B, d) and a node mask;
graphs are sorted by defect count before batching, so padding stays small while one batch mixes
counts. Each block updates edges from (v_i, v_j, e_ij, u), nodes from (v, mean_j e_ij, u) and the
global state from (u, mean v, mean e), with residual connections (Chen et al. 2019, as used by
Kazeev et al. 2023). The global state starts from the subset embedding plus the change in electron
count (its parity: open- or closed-shell supercell). Heads: formation energy per site = mean of
per-node contributions (the total formation energy is their sum); every other target from pooled
nodes + global state. Targets missing for a subset (NaN) are masked out of the loss.

Defects sit on the pristine lattice, so a batch holds few distinct (distance, |dz|) pairs (hundreds
among millions of edges): the initial edge embedding (radial basis + MLP, a third of the work) is
computed once per distinct pair and gathered, which is exact.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hypofinder.defects.batch import GraphBatch, distinct, ranges
from hypofinder.defects.features import electron_change

D_CENTRES = torch.linspace(0.0, 16.0, 33)
D_WIDTH = 0.5
H_CENTRES = torch.linspace(0.0, 6.0, 13)
H_WIDTH = 0.5
ENERGY = "formation_energy_per_site"
BUDGET = 1 << 14  # padded edges (B * n * n) per inference batch: small enough to stay in cache (2^18: half the speed)


def rbf(x: torch.Tensor, centres: torch.Tensor, width: float) -> torch.Tensor:
    return torch.exp(-(((x.unsqueeze(-1) - centres) / width) ** 2))


class Padded:
    """Many graphs (a GraphBatch) as arrays from which padded dense tensors of any subset of graphs
    are cut without a Python loop over graphs."""

    def __init__(self, batch: GraphBatch, type_ids: dict, subset_ids: dict):
        self.n = batch.n_nodes.astype(np.int64)
        G = len(self.n)
        self.node_off = np.concatenate([[0], np.cumsum(self.n)]).astype(np.int64)
        self.pos = np.arange(len(batch.z_from)) - self.node_off[batch.node_graph]
        table = np.array([a * 256 + b for a, b in type_ids], dtype=np.int64)
        ids = np.array(list(type_ids.values()), dtype=np.int64)
        code = batch.z_from * 256 + batch.z_to
        if table.size:
            order = np.argsort(table)
            at = np.clip(np.searchsorted(table[order], code), 0, len(table) - 1)
            self.types = np.where(table[order][at] == code, ids[order][at], 0)
        else:
            self.types = np.zeros(len(code), dtype=np.int64)
        self.height = np.abs(batch.height).astype(np.float32)
        ecount = np.bincount(batch.edge_graph, minlength=G) if len(batch.edge_graph) else np.zeros(G, dtype=np.int64)
        self.edge_off = np.concatenate([[0], np.cumsum(ecount)]).astype(np.int64)
        self.e_i = self.pos[batch.edge_index[0]]
        self.e_j = self.pos[batch.edge_index[1]]
        # distinct (distance, |dz|) pairs as one 64-bit key each; an edge holds its pair's index
        pair = np.stack([batch.distance.astype(np.float32), np.abs(batch.dz).astype(np.float32)], 1)
        keys, self.edge_pair = distinct(np.ascontiguousarray(pair).view(np.uint64).ravel())
        self.pair_values = torch.from_numpy(keys.view(np.float32).reshape(-1, 2).copy())
        self.subset = np.array([subset_ids.get(s, 0) for s in batch.subsets], dtype=np.int64)
        dq = electron_change(batch)
        self.glob = np.stack([np.mod(dq, 2), dq / 10.0], 1).astype(np.float32)

    def tensors(self, idx: np.ndarray):
        """(types, height, mask, edge, pair_values, subset, glob) of graphs ``idx``, padded to their largest
        count; ``edge`` (B, n, n) indexes ``pair_values`` (distance, |dz|); len(pair_values): no edge."""
        idx = np.asarray(idx, dtype=np.int64)
        B, counts = len(idx), self.n[idx]
        n = max(int(counts.max()), 1) if B else 1
        nodes = ranges(self.node_off[idx], counts)
        b_node = np.repeat(np.arange(B), counts)
        ec = self.edge_off[idx + 1] - self.edge_off[idx]
        edges = ranges(self.edge_off[idx], ec)
        b_edge = np.repeat(np.arange(B), ec)
        types = np.zeros((B, n), dtype=np.int64)
        height = np.zeros((B, n), dtype=np.float32)
        mask = np.zeros((B, n), dtype=np.float32)
        p = self.pos[nodes]
        types[b_node, p], height[b_node, p], mask[b_node, p] = self.types[nodes], self.height[nodes], 1.0
        edge = np.full((B, n, n), len(self.pair_values), dtype=np.int64)
        edge[b_edge, self.e_i[edges], self.e_j[edges]] = self.edge_pair[edges]
        t = [torch.from_numpy(a) for a in (types, height, mask, edge, self.subset[idx], self.glob[idx])]
        return (*t[:4], self.pair_values, *t[4:])

    def chunks(self, budget: int = BUDGET) -> list[np.ndarray]:
        """Graph indices sorted by defect count, cut so that B * n_max^2 <= budget."""
        order = np.argsort(self.n, kind="stable")
        out, lo = [], 0
        while lo < len(order):
            n = max(int(self.n[order[lo]]), 1)
            hi = lo + max(1, budget // (n * n))
            hi = min(hi, len(order))
            n_hi = max(int(self.n[order[hi - 1]]), 1)
            if n_hi > n:  # the chunk's largest count sets its size
                hi = min(len(order), lo + max(1, budget // (n_hi * n_hi)))
            out.append(order[lo:hi])
            lo = hi
        return out


class _MLP(nn.Sequential):
    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out), nn.SiLU())


class Block(nn.Module):
    def __init__(self, d: int, de: int):
        super().__init__()
        self.e_src, self.e_dst, self.e_u = (nn.Linear(d, de) for _ in range(3))
        self.e_e = nn.Linear(de, de)
        self.e_out = nn.Sequential(nn.SiLU(), nn.Linear(de, de), nn.SiLU())
        self.v = _MLP(2 * d + de, d, d)
        self.u = _MLP(2 * d + de, d, d)

    def forward(self, v, e, u, mask, pairs, n_nodes, n_pairs):
        # v (B,n,d) e (B,n,n,de), zero where ``pairs`` is; u (B,d) mask (B,n,1) pairs (B,n,n,1) n_nodes/n_pairs (B,1)
        # Edge-sized tensors dominate the cost, so node terms are summed first and the edge linear
        # map, masking and residual are fused (addmm, addcmul): the same sums in fewer passes.
        B, n, _, de = e.shape
        node = self.e_src(v) + self.e_u(u)[:, None] + self.e_e.bias
        h = (node[:, :, None] + self.e_dst(v)[:, None]).reshape(-1, de)
        h = torch.addmm(h, e.reshape(-1, de), self.e_e.weight.t()).view(B, n, n, de)
        e = torch.addcmul(e, self.e_out(h), pairs)
        row = e.sum(2)
        agg = row / (n_nodes[:, :, None] - 1).clamp(min=1)
        v = v + self.v(torch.cat([v, agg, u[:, None].expand(-1, n, -1)], -1)) * mask
        e_mean = row.sum(1) / n_pairs.clamp(min=1)
        u = u + self.u(torch.cat([u, (v * mask).sum(1) / n_nodes, e_mean], -1))
        return v, e, u


class DefectGNN(nn.Module):
    """Heads: formation energy per site (mean of node terms) and ``n_other`` pooled targets."""

    def __init__(
        self, n_types: int, n_subsets: int, d: int = 64, blocks: int = 3, de: int | None = None, n_other: int = 1
    ):
        super().__init__()
        de = de or d
        self.type_emb = nn.Embedding(n_types, d)
        self.sub_emb = nn.Embedding(n_subsets, d)
        self.g_in = nn.Linear(2, d)
        self.h_in = nn.Linear(len(H_CENTRES), d)
        self.e_in = _MLP(len(D_CENTRES) + len(H_CENTRES), de, de)
        self.blocks = nn.ModuleList(Block(d, de) for _ in range(blocks))
        self.energy_node = nn.Sequential(nn.Linear(2 * d, d), nn.SiLU(), nn.Linear(d, 1))
        self.gap = nn.Sequential(nn.Linear(3 * d, d), nn.SiLU(), nn.Linear(d, n_other))

    def forward(self, types, height, mask, edge, pair_values, subset, glob):
        """(B, 1 + n_other): energy per site first, then the other targets (normalised units).
        ``edge`` (B, n, n) indexes the distinct (distance, |dz|) ``pair_values`` (P, 2); P: no edge."""
        n = types.shape[1]
        m = mask.unsqueeze(-1)
        pairs = (m * m.transpose(1, 2) * (1.0 - torch.eye(n))).unsqueeze(-1)
        n_nodes = mask.sum(1, keepdim=True).clamp(min=1)
        n_pairs = n_nodes * (n_nodes - 1)
        v = (self.type_emb(types) + self.h_in(rbf(height, H_CENTRES, H_WIDTH))) * m
        u = self.sub_emb(subset) + self.g_in(glob)
        d, dz = pair_values[:, 0], pair_values[:, 1]
        table = self.e_in(torch.cat([rbf(d, D_CENTRES, D_WIDTH), rbf(dz, H_CENTRES, H_WIDTH)], -1))
        e = torch.cat([table, table.new_zeros(1, table.shape[1])])[edge]
        for blk in self.blocks:
            v, e, u = blk(v, e, u, m, pairs, n_nodes, n_pairs)
        node_e = self.energy_node(torch.cat([v, u[:, None].expand(-1, n, -1)], -1)).squeeze(-1)
        energy = (node_e * mask).sum(1) / n_nodes.squeeze(1)
        vmax = v.masked_fill(m == 0, -1e4).max(1).values
        other = self.gap(torch.cat([(v * m).sum(1) / n_nodes, vmax, u], -1))
        return torch.cat([energy[:, None], other], 1)


# ----------------------------------------------------------------------------- training / inference


class GNNModel:
    """A trained DefectGNN with its vocabularies, targets and per-subset target scaling."""

    def __init__(self, net: DefectGNN, types, subsets, targets, mean, scale, known, config: dict):
        self.net = net.eval()
        self.types = [tuple(t) for t in types]
        self.subsets = list(subsets)
        self.targets = list(targets)
        self.mean = np.asarray(mean, dtype=np.float64)  # (S, T)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.known = np.asarray(known, dtype=bool)  # (S, T): trained on that subset's values
        self.config = dict(config)
        self.type_ids = {t: i for i, t in enumerate(self.types)}
        self.subset_ids = {s: i for i, s in enumerate(self.subsets)}

    def predict(self, batch: GraphBatch, budget: int = BUDGET) -> dict[str, np.ndarray]:
        """target -> values (eV, μB) for the graphs of ``batch``; NaN where a subset lacks the target."""
        pad = Padded(batch, self.type_ids, self.subset_ids)
        out = np.zeros((len(pad.n), len(self.targets)))
        with torch.inference_mode():
            for idx in pad.chunks(budget):
                out[idx] = self.net(*pad.tensors(idx)).numpy()
        sub = pad.subset
        out = out * self.scale[sub] + self.mean[sub]
        out[~self.known[sub]] = np.nan
        return {t: out[:, k] for k, t in enumerate(self.targets)}

    def state(self) -> dict:
        return {
            "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in self.net.state_dict().items()},
            "types": self.types,
            "subsets": self.subsets,
            "targets": self.targets,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "known": self.known.tolist(),
            "config": self.config,
        }

    @classmethod
    def from_state(cls, st: dict) -> GNNModel:
        cfg = st["config"]
        targets = st.get("targets") or [ENERGY, "homo_lumo_gap"]  # older files: the two first targets
        known = st.get("known") or np.ones((len(st["subsets"]), len(targets)), dtype=bool)
        net = DefectGNN(
            len(st["types"]),
            len(st["subsets"]),
            d=cfg["d"],
            blocks=cfg["blocks"],
            de=cfg.get("de"),
            n_other=len(targets) - 1,
        )
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in st["state_dict"].items()})
        return cls(net, st["types"], st["subsets"], targets, st["mean"], st["scale"], known, cfg)


def train_gnn(
    batch: GraphBatch,
    targets: dict[str, np.ndarray],
    epochs: int = 100,
    d: int = 64,
    blocks: int = 3,
    de: int | None = 32,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    log=None,
) -> GNNModel:
    """Train one network over the graphs of ``batch`` (any mix of subsets; subset = global state).
    ``targets``: name -> values aligned with the graphs, NaN where unknown; energy first."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    names = [ENERGY] + [t for t in targets if t != ENERGY]
    types = sorted({(int(a), int(b)) for a, b in zip(batch.z_from, batch.z_to)})
    subsets = sorted(set(batch.subsets))
    sid = {s: i for i, s in enumerate(subsets)}
    pad = Padded(batch, {t: i for i, t in enumerate(types)}, sid)
    sub = pad.subset
    y = np.stack([np.asarray(targets[t], dtype=np.float64) for t in names], 1)
    known = np.stack([np.isfinite(y[sub == i]).any(0) for i in range(len(subsets))])
    mean = np.zeros((len(subsets), len(names)))
    scale = np.ones((len(subsets), len(names)))
    for i in range(len(subsets)):
        rows = y[sub == i]
        for k in np.nonzero(known[i])[0]:
            v = rows[:, k][np.isfinite(rows[:, k])]
            mean[i, k], scale[i, k] = v.mean(), v.std() + 1e-6
    yn = (y - mean[sub]) / scale[sub]
    ok = torch.from_numpy(np.isfinite(yn)).float()
    yn = torch.from_numpy(np.nan_to_num(yn)).float()
    net = DefectGNN(len(types), len(subsets), d=d, blocks=blocks, de=de, n_other=len(names) - 1)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = (len(pad.n) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, epochs * steps))
    net.train()
    for ep in range(epochs):
        # similar defect counts together (little padding), random within equal counts, batches shuffled
        order = np.lexsort((rng.random(len(pad.n)), pad.n))
        batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
        total = 0.0
        for bi in rng.permutation(len(batches)):
            idx = batches[bi]
            pred = net(*pad.tensors(idx))
            w = ok[idx]
            # mean absolute error per target over the rows that have it, summed over targets
            loss = ((pred - yn[idx]).abs() * w).sum(0).div(w.sum(0).clamp(min=1)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log is not None:
            log(ep, total / len(pad.n))
    cfg = {"d": d, "de": de, "blocks": blocks, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}
    return GNNModel(net, types, subsets, names, mean, scale, known, cfg)
