"""The search space of inverse design: compositions (multisets of a host's 2DMD species, a defect-count range)
and their arrangements, with a cache that predicts every symmetry-distinct configuration once.

- ``host_species`` / ``parse_species`` / ``parse_counts`` / ``target_range``: the checked inputs (one clear
  ``BadInputError`` line each);
- ``DesignSpace``: the host subset per defect count (``host_info``, as ``defects screen`` picks it), the
  compositions, and ``decode``: a vector in [0, 1)^D (count, then per defect slot: species, in-plane
  position, height) -> a configuration, the nearest free site of the species' sublattice to the encoded point
  (so nearby vectors are nearby configurations: what an optimizer needs);
- ``Evaluator``: configurations -> predictions, keyed by their symmetry-canonical form
  (``hypofinder.defects.placements.canonical``), so a configuration equal to one already predicted costs no
  predictor call; ``calls`` counts the calls spent.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np

from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.graph import atomic_number, parse_token
from hypofinder.defects.hosts import Host, candidates, host_info
from hypofinder.defects.sites import DefectSet, SiteSpace, defect_set, site_space
from hypofinder.errors import BadInputError
from hypofinder.models import PropertyPrediction

MAX_COUNT = 24  # defects per configuration at most (the largest count in 2DMD, high-density MoS2/WSe2)


# --------------------------------------------------------------------------- checked inputs


def _symbol(z: int) -> str:
    from pymatgen.core.periodic_table import Element

    return Element.from_Z(int(z)).symbol


def host_species(host: str, predictor) -> tuple[str, ...]:
    """The host's 2DMD defect species (the defect types of its training domain), vacancies first."""
    types: set[tuple[int, int]] = set()
    for h in candidates(host):
        dom = predictor.metadata.get("domain", {}).get(h.subset)
        types |= {(int(a), int(b)) for a, b in (dom or {}).get("types", [])}
    if not types:
        raise BadInputError(f"no trained defect species for {host}")
    toks = [f"v{_symbol(a)}" if b == 0 else f"{_symbol(b)}_{_symbol(a)}" for a, b in types]
    return tuple(sorted(toks, key=lambda t: (not t.startswith("v"), t)))


def parse_species(host: str, species: str | list[str] | None, predictor) -> tuple[str, ...]:
    """The species to design with (default: all of the host's); an unknown one is one clear line."""
    known = host_species(host, predictor)
    if species is None or (isinstance(species, str) and not species.strip()):
        return known
    toks = species.replace(",", " ").split() if isinstance(species, str) else [str(s).strip() for s in species]
    out: list[str] = []
    for tok in toks:
        site, new = parse_token(tok)  # a malformed token: one line
        norm = f"v{site}" if new is None else f"{new}_{site}"
        if norm not in known:
            raise BadInputError(f"{tok} is not a 2DMD defect species of {host}: use {', '.join(known)}")
        if norm not in out:
            out.append(norm)
    return tuple(out)


def parse_counts(counts: str | int | tuple[int, int]) -> tuple[int, int]:
    """'1-6' / '3' / (1, 6) -> (lo, hi), 1 <= lo <= hi <= MAX_COUNT."""
    if isinstance(counts, (tuple, list)):
        lo, hi = int(counts[0]), int(counts[-1])
    else:
        text = str(counts).strip()
        parts = text.split("-") if "-" in text else [text, text]
        try:
            lo, hi = (int(p) for p in parts)
        except ValueError:
            raise BadInputError(f"bad defect count range {text!r}: use e.g. 1-6 or 3") from None
    if not 1 <= lo <= hi <= MAX_COUNT:
        raise BadInputError(f"impossible defect count range {lo}-{hi}: need 1 <= low <= high <= {MAX_COUNT}")
    return lo, hi


@lru_cache(maxsize=32)
def _dft_values(folder: str, target: str) -> tuple[float, float] | None:
    from hypofinder.defects.data import target_values

    path = Path(folder) / "targets.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    v = target_values(rows, reader.fieldnames or []).get(target)
    if v is None or not np.isfinite(v).any():
        return None
    return float(np.nanmin(v)), float(np.nanmax(v))


def target_range(host: str, target: str) -> tuple[float, float] | None:
    """(min, max) of the DFT values of ``target`` over the host's 2DMD subsets in the data folder (the range
    the predictor was trained on); None when the data folder is not there."""
    from hypofinder.settings import settings

    spans = [_dft_values(str(settings().dmd_dir / h.subset), target) for h in candidates(host)]
    spans = [s for s in spans if s is not None]
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


# --------------------------------------------------------------------------- the space and its encoding


@dataclass(frozen=True)
class Config:
    """One configuration: its subset host, defect set (column order) and sites (a row of ``dset.k``)."""

    host: Host
    dset: DefectSet
    row: tuple[int, ...]


@dataclass
class DesignSpace:
    """The host subset per defect count and the compositions of ``species`` with lo..hi defects."""

    host: str
    species: tuple[str, ...]
    counts: tuple[int, int]
    density: str | None = None
    hosts: dict[int, Host] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lo, hi = self.counts
        self.hosts = {k: host_info(self.host, density=self.density, n_defects=k) for k in range(lo, hi + 1)}
        parsed = [parse_token(t) for t in self.species]
        self.z_from = np.array([atomic_number(s) for s, _ in parsed], dtype=np.int64)
        self.z_to = np.array([0 if n is None else atomic_number(n) for _, n in parsed], dtype=np.int64)
        for k, h in self.hosts.items():  # the species' sublattices must hold k defects
            sp = site_space(h)
            room = sum(len(sp.sites_of(int(z))) for z in set(self.z_from.tolist()))
            if room < k:
                raise BadInputError(
                    f"impossible defect count range {lo}-{hi}: {h.subset} has only {room} sites for "
                    f"{', '.join(self.species)}"
                )

    @property
    def dim(self) -> int:
        return 1 + 4 * self.counts[1]

    def compositions(self):
        """Every multiset of species with lo..hi defects, as (count, sorted tokens)."""
        lo, hi = self.counts
        for k in range(lo, hi + 1):
            for combo in combinations_with_replacement(self.species, k):
                yield k, tuple(combo)

    def config(self, k: int, tokens: list[str], sites: list[int]) -> Config | None:
        """The configuration of ``tokens`` on ``sites`` in the count-``k`` host, sites in column order."""
        h = self.hosts[k]
        dset = _dset(h, tuple(sorted(tokens)))
        if dset is None:
            return None
        by_tok: dict[str, list[int]] = {}
        for t, s in zip(tokens, sites):
            by_tok.setdefault(t, []).append(int(s))
        row = [s for first, c, _, _ in dset.groups() for s in sorted(by_tok[dset.tokens[first]])]
        return Config(h, dset, tuple(row))

    def decode(self, X: np.ndarray) -> list[Config | None]:
        """Vectors in [0, 1)^dim -> configurations (None where a sublattice is full)."""
        X = np.clip(np.asarray(X, dtype=float).reshape(-1, self.dim), 0.0, 1.0 - 1e-12)
        lo, hi = self.counts
        ks = lo + np.floor(X[:, 0] * (hi - lo + 1)).astype(int)
        out: list[Config | None] = [None] * len(X)
        for k in np.unique(ks):
            idx = np.nonzero(ks == k)[0]
            out_k = self._decode_k(int(k), X[idx])
            for i, c in zip(idx, out_k):
                out[i] = c
        return out

    def _decode_k(self, k: int, X: np.ndarray) -> list[Config | None]:
        h = self.hosts[k]
        sp, frac, hrange = _geometry(h)
        m = len(X)
        taken = np.zeros((m, sp.n_sites), dtype=bool)
        spec = np.minimum((X[:, 1::4][:, :k] * len(self.species)).astype(int), len(self.species) - 1)
        sites = np.full((m, k), -1, dtype=np.int64)
        sup = _sup(h)
        for j in range(k):
            u, v, w = X[:, 2 + 4 * j], X[:, 3 + 4 * j], X[:, 4 + 4 * j]
            for s in np.unique(spec[:, j]):
                rows = np.nonzero(spec[:, j] == s)[0]
                z = int(self.z_from[s])
                pool = sp.sites_of(z)
                df = frac[pool][None, :, :] - np.stack([u[rows], v[rows]], 1)[:, None, :]
                df -= np.rint(df)
                d2 = ((df @ sup) ** 2).sum(-1)
                lo_h, hi_h = hrange[z]
                d2 += (sp.height[pool][None, :] - (lo_h + w[rows] * (hi_h - lo_h))[:, None]) ** 2
                d2[taken[rows][:, pool]] = np.inf
                best = d2.argmin(1)
                ok = np.isfinite(d2[np.arange(len(rows)), best])
                sites[rows, j] = np.where(ok, pool[best], -1)
                taken[rows[ok], pool[best[ok]]] = True
        out: list[Config | None] = []
        for i in range(m):
            if (sites[i] < 0).any():
                out.append(None)
                continue
            out.append(self.config(k, [self.species[s] for s in spec[i]], sites[i].tolist()))
        return out

    def encode(self, c: Config) -> np.ndarray:
        """The vector that ``decode`` turns back into ``c`` (count, then each defect's species and site)."""
        lo, hi = self.counts
        k = len(c.row)
        _, frac, hrange = _geometry(c.host)
        x = np.full(self.dim, 0.5)
        x[0] = (k - lo + 0.5) / (hi - lo + 1)
        sp = site_space(c.host)
        for j, (tok, site) in enumerate(zip(c.dset.tokens, c.row)):
            z = int(sp.numbers[site])
            lo_h, hi_h = hrange[z]
            x[1 + 4 * j] = (self.species.index(tok) + 0.5) / len(self.species)
            x[2 + 4 * j : 4 + 4 * j] = frac[site] % 1.0
            x[4 + 4 * j] = (sp.height[site] - lo_h) / (hi_h - lo_h) if hi_h > lo_h else 0.5
        return np.clip(x, 0.0, 1.0 - 1e-9)

    def library(self, target: str, rows: dict[str, np.ndarray] | None = None) -> list[tuple[int, list, list, float]]:
        """The labelled 2DMD structures inside this space (its subsets, species and counts) as (defect count,
        tokens, sites, DFT ``target``): what a search starts from (``config`` builds one). ``rows``: per
        subset, the rows that may be used (a held-out benchmark passes its training rows); default all. Empty
        when the data folder is not there."""
        from hypofinder.defects.data import load_subset
        from hypofinder.errors import DataNotFoundError
        from hypofinder.settings import settings

        out = []
        for subset in sorted({h.subset for h in self.hosts.values()}):
            try:
                sub = load_subset(settings().dmd_dir / subset)
            except DataNotFoundError:
                continue
            y = sub.targets.get(target)
            if y is None:
                continue
            use = range(len(sub.graphs)) if rows is None or subset not in rows else rows[subset]
            for i in use:
                g = sub.graphs[i]
                h = self.hosts.get(g.n_defects)
                if h is not None and h.subset == subset and np.isfinite(y[i]) and set(g.tokens) <= set(self.species):
                    out.append((g.n_defects, list(g.tokens), g.site.tolist(), float(y[i])))
        return out


@lru_cache(maxsize=4096)
def _dset(h: Host, tokens: tuple[str, ...]) -> DefectSet | None:
    try:
        return defect_set(h, list(tokens), site_space(h))
    except BadInputError:  # more defects on a sublattice than it has sites
        return None


def _sup(h: Host) -> np.ndarray:
    return h.unit_lattice[:2, :2] * np.array([[h.supercell[0]], [h.supercell[1]]])


@lru_cache(maxsize=16)
def _geometry(h: Host) -> tuple[SiteSpace, np.ndarray, dict[int, tuple[float, float]]]:
    """(site space, in-plane fractional coordinates of every site, height range per element)."""
    sp = site_space(h)
    frac = sp.xy @ np.linalg.inv(_sup(h))
    hr = {
        int(z): (float(sp.height[sp.numbers == z].min()), float(sp.height[sp.numbers == z].max()))
        for z in set(sp.numbers.tolist())
    }
    return sp, frac, hr


# --------------------------------------------------------------------------- evaluation with a cache


class Evaluator:
    """Configurations -> prediction rows; each symmetry-distinct configuration is predicted once."""

    def __init__(self, predictor, fast: bool = False):
        self.predictor = predictor
        self.fast = fast
        self.configs: list[Config] = []
        self.rows: list[dict[str, float]] = []  # per configuration: every predicted field
        self._index: dict[tuple, int] = {}

    @property
    def calls(self) -> int:
        return len(self.configs)

    def key(self, c: Config) -> tuple:
        from hypofinder.defects.placements import canonical

        code = canonical(site_space(c.host), c.dset, np.array([c.row]))[0]
        return (c.host.subset, c.dset.tokens, code.tobytes())

    def evaluate(self, configs: list[Config | None], limit: int | None = None) -> list[int | None]:
        """Index of every configuration's record (predicting the new ones, at most ``limit`` of them:
        beyond it, and for None, the index is None)."""
        out: list[int | None] = [None] * len(configs)
        new: dict[tuple, list[int]] = {}
        order: list[tuple[tuple, Config]] = []
        for i, c in enumerate(configs):
            if c is None:
                continue
            key = self.key(c)
            if key in self._index:
                out[i] = self._index[key]
            elif key in new:
                new[key].append(i)
            elif limit is None or len(order) < limit:
                new[key] = [i]
                order.append((key, c))
        if order:
            self._predict(order)
            for key, _ in order:
                for i in new[key]:
                    out[i] = self._index[key]
        return out

    def _predict(self, order: list[tuple[tuple, Config]]) -> None:
        groups: dict[tuple, list[int]] = {}
        for j, (_, c) in enumerate(order):
            groups.setdefault((c.host.subset, c.dset.tokens), []).append(j)
        batches, pos = [], []
        for js in groups.values():
            c0 = order[js[0]][1]
            rows = np.array([order[j][1].row for j in js], dtype=np.int64)
            batches.append(GraphBatch.from_sites(c0.host, c0.host.supercell, rows, c0.dset.z_to))
            pos.extend(js)
        pred = self.predictor.predict_graphs(concat(batches), fast=self.fast)
        recs: list[dict] = [{}] * len(order)
        for b, j in enumerate(pos):
            recs[j] = PropertyPrediction.fields_from(pred, b)
        for (key, c), rec in zip(order, recs):
            self._index[key] = len(self.configs)
            self.configs.append(c)
            self.rows.append(rec)

    def column(self, name: str) -> np.ndarray:
        """One predicted field over every record (NaN where None)."""
        return np.array([np.nan if r.get(name) is None else float(r[name]) for r in self.rows])


def concat(batches: list[GraphBatch]) -> GraphBatch:
    """One batch of the graphs of several batches, in order."""
    if len(batches) == 1:
        return batches[0]
    node_off = np.cumsum([0] + [b.n_nodes.sum() for b in batches])[:-1]
    graph_off = np.cumsum([0] + [b.n_graphs for b in batches])[:-1]

    def cat(attr):
        return np.concatenate([getattr(b, attr) for b in batches])

    return GraphBatch(
        subsets=[s for b in batches for s in b.subsets],
        hosts=[s for b in batches for s in b.hosts],
        n_nodes=cat("n_nodes"),
        supercell=np.concatenate([b.supercell for b in batches]),
        site=cat("site"),
        z_from=cat("z_from"),
        z_to=cat("z_to"),
        height=cat("height"),
        node_graph=np.concatenate([b.node_graph + o for b, o in zip(batches, graph_off)]),
        edge_index=np.concatenate([b.edge_index + o for b, o in zip(batches, node_off)], axis=1),
        distance=cat("distance"),
        dz=cat("dz"),
        edge_graph=np.concatenate([b.edge_graph + o for b, o in zip(batches, graph_off)]),
    )


__all__ = [
    "MAX_COUNT",
    "Config",
    "DesignSpace",
    "Evaluator",
    "concat",
    "host_species",
    "parse_counts",
    "parse_species",
    "target_range",
]
