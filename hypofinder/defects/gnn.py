"""A MEGNet-like graph network on sparse defect graphs, batched densely by defect count.

Graphs are complete (every defect pair is an edge), so a batch of graphs with the same number
of defects is held as dense tensors: nodes (B, n, d), edges (B, n, n, d), global state (B, d).
Each block updates edges from (v_i, v_j, e_ij, u), nodes from (v, mean_j e_ij, u) and the global
state from (u, mean v, mean e), with residual connections (Chen et al. 2019, as used by Kazeev
et al. 2023). The global state starts from the subset embedding plus the change in electron
count (its parity: open- or closed-shell supercell). Heads: formation energy per site = mean of per-node contributions (the total
formation energy is their sum); HOMO-LUMO gap from pooled nodes + global state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hypofinder.defects.graph import DefectGraph

D_CENTRES = torch.linspace(0.0, 16.0, 33)
D_WIDTH = 0.5
H_CENTRES = torch.linspace(0.0, 6.0, 13)
H_WIDTH = 0.5


def rbf(x: torch.Tensor, centres: torch.Tensor, width: float) -> torch.Tensor:
    return torch.exp(-(((x.unsqueeze(-1) - centres) / width) ** 2))


@dataclass
class DenseBucket:
    """Graphs with the same defect count ``n`` as dense arrays."""

    n: int
    index: np.ndarray  # positions of these graphs in the caller's list
    types: np.ndarray  # (B, n) int, defect-type ids (-1 unknown -> mapped to 0 with a flag)
    height: np.ndarray  # (B, n) |height| Å
    dist: np.ndarray  # (B, n, n) in-plane minimum-image distance
    dz: np.ndarray  # (B, n, n) |Δz|
    subset: np.ndarray  # (B,) subset ids
    glob: np.ndarray  # (B, 2) electron-count change: parity, value / 10

    def tensors(self, sel=None):
        s = slice(None) if sel is None else sel
        return (
            torch.from_numpy(self.types[s]),
            torch.from_numpy(self.height[s]).float(),
            torch.from_numpy(self.dist[s]).float(),
            torch.from_numpy(self.dz[s]).float(),
            torch.from_numpy(self.subset[s]),
            torch.from_numpy(self.glob[s]).float(),
        )


def dense_buckets(graphs: list[DefectGraph], type_ids: dict, subset_ids: dict) -> list[DenseBucket]:
    """Group graphs by defect count into dense buckets (unknown types/subsets -> id 0)."""
    by_n: dict[int, list[int]] = {}
    for i, g in enumerate(graphs):
        by_n.setdefault(g.n_defects, []).append(i)
    out = []
    for n, idx in sorted(by_n.items()):
        B = len(idx)
        types = np.zeros((B, n), dtype=np.int64)
        height = np.zeros((B, n), dtype=np.float32)
        dist = np.zeros((B, n, n), dtype=np.float32)
        dz = np.zeros((B, n, n), dtype=np.float32)
        sub = np.zeros(B, dtype=np.int64)
        glob = np.zeros((B, 2), dtype=np.float32)
        off = ~np.eye(n, dtype=bool)
        for b, i in enumerate(idx):
            g = graphs[i]
            types[b] = [type_ids.get((int(a), int(c)), 0) for a, c in zip(g.z_from, g.z_to)]
            height[b] = np.abs(g.height)
            dist[b][off] = g.distance
            dz[b][off] = np.abs(g.dz)
            sub[b] = subset_ids.get(g.subset, 0)
            dq = int((g.z_to - g.z_from).sum())
            glob[b] = (dq % 2, dq / 10.0)
        out.append(DenseBucket(n, np.array(idx), types, height, dist, dz, sub, glob))
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

    def forward(self, v, e, u, offdiag):
        # v (B,n,d) e (B,n,n,d) u (B,d) offdiag (n,n,1)
        h = self.e_src(v)[:, :, None] + self.e_dst(v)[:, None] + self.e_e(e) + self.e_u(u)[:, None, None]
        e = e + self.e_out(h) * offdiag
        n = v.shape[1]
        denom = max(n - 1, 1)
        agg = (e * offdiag).sum(2) / denom
        v = v + self.v(torch.cat([v, agg, u[:, None].expand(-1, n, -1)], -1))
        e_mean = (e * offdiag).sum((1, 2)) / max(n * (n - 1), 1)
        u = u + self.u(torch.cat([u, v.mean(1), e_mean], -1))
        return v, e, u


class DefectGNN(nn.Module):
    """Two heads: formation energy per site (mean of node terms) and HOMO-LUMO gap."""

    def __init__(self, n_types: int, n_subsets: int, d: int = 64, blocks: int = 3, de: int | None = None):
        super().__init__()
        de = de or d
        self.type_emb = nn.Embedding(n_types, d)
        self.sub_emb = nn.Embedding(n_subsets, d)
        self.g_in = nn.Linear(2, d)
        self.h_in = nn.Linear(len(H_CENTRES), d)
        self.e_in = _MLP(len(D_CENTRES) + len(H_CENTRES), de, de)
        self.blocks = nn.ModuleList(Block(d, de) for _ in range(blocks))
        self.energy_node = nn.Sequential(nn.Linear(2 * d, d), nn.SiLU(), nn.Linear(d, 1))
        self.gap = nn.Sequential(nn.Linear(3 * d, d), nn.SiLU(), nn.Linear(d, 1))

    def forward(self, types, height, dist, dz, subset, glob):
        B, n = types.shape
        v = self.type_emb(types) + self.h_in(rbf(height, H_CENTRES, H_WIDTH))
        u = self.sub_emb(subset) + self.g_in(glob)
        e = self.e_in(torch.cat([rbf(dist, D_CENTRES, D_WIDTH), rbf(dz, H_CENTRES, H_WIDTH)], -1))
        offdiag = (1.0 - torch.eye(n)).unsqueeze(-1)
        for blk in self.blocks:
            v, e, u = blk(v, e, u, offdiag)
        node_e = self.energy_node(torch.cat([v, u[:, None].expand(-1, n, -1)], -1)).squeeze(-1)
        energy = node_e.mean(1)
        gap = self.gap(torch.cat([v.mean(1), v.max(1).values, u], -1)).squeeze(-1)
        return energy, gap


# ----------------------------------------------------------------------------- training / inference


class GNNModel:
    """A trained DefectGNN with its vocabularies and per-subset target scaling."""

    def __init__(self, net: DefectGNN, types: list[tuple[int, int]], subsets: list[str], mean, scale, config: dict):
        self.net = net.eval()
        self.types = [tuple(t) for t in types]
        self.subsets = list(subsets)
        self.mean = np.asarray(mean, dtype=np.float64)  # (S, 2)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.config = dict(config)
        self.type_ids = {t: i for i, t in enumerate(self.types)}
        self.subset_ids = {s: i for i, s in enumerate(self.subsets)}

    def predict(self, graphs: list[DefectGraph], batch_size: int = 131072) -> tuple[np.ndarray, np.ndarray]:
        """(formation_energy_per_site, homo_lumo_gap) in eV for graphs of known subsets."""
        out = np.zeros((len(graphs), 2))
        with torch.inference_mode():
            for b in dense_buckets(graphs, self.type_ids, self.subset_ids):
                bs = max(1, batch_size // max(b.n * b.n, 1))
                for k in range(0, len(b.index), bs):
                    sel = slice(k, k + bs)
                    e, g = self.net(*b.tensors(sel))
                    out[b.index[sel], 0] = e.numpy()
                    out[b.index[sel], 1] = g.numpy()
        sub = np.array([self.subset_ids.get(g.subset, 0) for g in graphs], dtype=np.int64)
        out = out * self.scale[sub] + self.mean[sub]
        return out[:, 0], out[:, 1]

    def state(self) -> dict:
        return {
            "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in self.net.state_dict().items()},
            "types": self.types,
            "subsets": self.subsets,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "config": self.config,
        }

    @classmethod
    def from_state(cls, st: dict) -> "GNNModel":
        cfg = st["config"]
        net = DefectGNN(len(st["types"]), len(st["subsets"]), d=cfg["d"], blocks=cfg["blocks"], de=cfg.get("de"))
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in st["state_dict"].items()})
        return cls(net, st["types"], st["subsets"], st["mean"], st["scale"], cfg)


def train_gnn(
    graphs: list[DefectGraph],
    energy: np.ndarray,
    gap: np.ndarray,
    epochs: int = 100,
    d: int = 64,
    blocks: int = 3,
    de: int | None = 32,
    batch_size: int = 32,
    small_batch: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    log=None,
) -> GNNModel:
    """Train one network over the given graphs (any mix of subsets; subset = global state)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    types = sorted({(int(a), int(b)) for g in graphs for a, b in zip(g.z_from, g.z_to)})
    subsets = sorted({g.subset for g in graphs})
    sid = {s: i for i, s in enumerate(subsets)}
    sub = np.array([sid[g.subset] for g in graphs])
    y = np.stack([energy, gap], 1).astype(np.float64)
    mean = np.stack([y[sub == i].mean(0) for i in range(len(subsets))])
    scale = np.stack([y[sub == i].std(0) + 1e-6 for i in range(len(subsets))])
    yn = torch.from_numpy((y - mean[sub]) / scale[sub]).float()
    buckets = dense_buckets(graphs, {t: i for i, t in enumerate(types)}, sid)
    net = DefectGNN(len(types), len(subsets), d=d, blocks=blocks, de=de)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sizes = [small_batch if b.n <= 3 else batch_size for b in buckets]  # tiny graphs: bigger batches
    plan = []
    for bi, b in enumerate(buckets):
        plan += [bi] * ((len(b.index) + sizes[bi] - 1) // sizes[bi])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, epochs * len(plan)))
    net.train()
    for ep in range(epochs):
        perms = [rng.permutation(len(b.index)) for b in buckets]
        cursor = [0] * len(buckets)
        total = 0.0
        for bi in rng.permutation(plan):
            b = buckets[bi]
            sel = perms[bi][cursor[bi] : cursor[bi] + sizes[bi]]
            cursor[bi] += sizes[bi]
            e, g = net(*b.tensors(sel))
            t = yn[b.index[sel]]
            loss = (e - t[:, 0]).abs().mean() + (g - t[:, 1]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(sel)
        if log is not None:
            log(ep, total / len(graphs))
    cfg = {"d": d, "de": de, "blocks": blocks, "epochs": epochs, "batch_size": batch_size, "small_batch": small_batch,
           "lr": lr, "seed": seed}
    return GNNModel(net, types, subsets, mean, scale, cfg)
