"""Sparse defect graphs (Kazeev et al. 2023): nodes = point defects, edges = defect pairs.

A defective supercell is matched site-by-site to the pristine supercell of its host:
unmatched pristine sites are vacancies, matched sites holding another element are
substitutions. Two readers feed the same numpy core: a pymatgen ``Structure`` and a fast
text parser for the dataset's P1 CIFs (``graph_from_cif_text``); they give identical graphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hypofinder.defects.hosts import MATCH_TOL, Host
from hypofinder.errors import BadInputError

_Z: dict[str, int] = {}


def atomic_number(symbol: str) -> int:
    """Z of an element symbol (pymatgen's table, cached)."""
    z = _Z.get(symbol)
    if z is None:
        from pymatgen.core.periodic_table import Element

        try:
            z = Element(symbol).Z
        except ValueError as exc:
            raise BadInputError(f"unknown element symbol {symbol!r}") from exc
        _Z[symbol] = z
    return z


@lru_cache(maxsize=256)
def element_symbol(z: int) -> str:
    from pymatgen.core.periodic_table import Element

    return Element.from_Z(int(z)).symbol


@dataclass
class DefectGraph:
    """One defective supercell as a graph of its defects.

    nodes: ``site`` (index in the pristine supercell of ``pristine_supercell(host)``),
    ``z_from`` (pristine element Z), ``z_to`` (new Z, 0 for a vacancy), ``height`` (Å above
    the host layer's centre), ``xy`` (Cartesian in-plane position, Å).
    edges: every ordered pair (i, j), i != j: ``edge_index`` (2, E), ``distance`` (in-plane
    minimum-image distance, Å), ``dz`` (height_j - height_i, Å).
    global state: ``subset`` (e.g. ``low_MoS2``) and ``host`` (e.g. ``MoS2``).
    """

    subset: str
    host: str
    site: np.ndarray
    z_from: np.ndarray
    z_to: np.ndarray
    height: np.ndarray
    xy: np.ndarray
    edge_index: np.ndarray
    distance: np.ndarray
    dz: np.ndarray
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def n_defects(self) -> int:
        return int(self.site.shape[0])

    @property
    def tokens(self) -> list[str]:
        """Defects as tokens: ``vS`` (S vacancy), ``W_Mo`` (W on a Mo site)."""
        return [defect_token(int(a), int(b)) for a, b in zip(self.z_from, self.z_to)]

    def equals(self, other: DefectGraph, atol: float = 1e-6) -> bool:
        """Same host, same defects on the same sites, same geometry (within ``atol``)."""
        if (self.subset, self.host) != (other.subset, other.host):
            return False
        ints = ("site", "z_from", "z_to", "edge_index")
        floats = ("height", "xy", "distance", "dz")
        return all(np.array_equal(getattr(self, k), getattr(other, k)) for k in ints) and all(
            np.allclose(getattr(self, k), getattr(other, k), atol=atol) for k in floats
        )


def defect_token(z_from: int, z_to: int) -> str:
    a = element_symbol(z_from)
    return f"v{a}" if z_to == 0 else f"{element_symbol(z_to)}_{a}"


def parse_token(token: str) -> tuple[str, str | None]:
    """``vS`` -> ("S", None); ``W_Mo`` -> ("Mo", "W"). Raises BadInputError otherwise."""
    m = re.fullmatch(r"v([A-Z][a-z]?)", token.strip())
    if m:
        return m.group(1), None
    m = re.fullmatch(r"([A-Z][a-z]?)_([A-Z][a-z]?)", token.strip())
    if m:
        return m.group(2), m.group(1)
    raise BadInputError(f"bad defect token {token!r}: use 'vS' for a vacancy or 'W_Mo' for W on a Mo site")


# ----------------------------------------------------------------------------- matching core


def supercell_size(lattice: np.ndarray, host: Host, tol: float = 0.02) -> tuple[int, int] | None:
    """(n1, n2) if ``lattice`` (rows = vectors) is diag(n1, n2, 1) x the host's unit cell, else None."""
    s = lattice @ host.unit_lattice_inv
    r = np.rint(s)
    if np.abs(s - r).max() > tol or r[2, 2] != 1 or np.any(r[0:2, 0:2] != np.diag(np.diag(r[0:2, 0:2]))):
        return None
    if r[0, 2] or r[1, 2] or r[2, 0] or r[2, 1] or r[0, 0] < 1 or r[1, 1] < 1:
        return None
    return int(r[0, 0]), int(r[1, 1])


def graph_from_arrays(
    lattice: np.ndarray, numbers: np.ndarray, frac: np.ndarray, host: Host, label: str = ""
) -> DefectGraph:
    """Match sites to the pristine supercell of ``host`` and build the defect graph."""
    lattice = np.asarray(lattice, dtype=float)
    size = supercell_size(lattice, host)
    if size is None:
        a, b, c = np.linalg.norm(lattice, axis=1)
        raise BadInputError(
            f"lattice {a:.3f} x {b:.3f} x {c:.3f} Å is not an n x m x 1 supercell of the {host.subset} unit cell"
        )
    n1, n2 = size
    nk = len(host.unit_numbers)
    x = np.asarray(frac, dtype=float) * np.array([n1, n2, 1.0])  # in unit-cell fractions
    d = x[:, None, :] - host.unit_frac[None, :, :]  # (N, k, 3)
    t = np.rint(d)
    r = (d - t) @ host.unit_lattice  # Cartesian residual, Å
    dist = np.sqrt((r * r).sum(-1))
    k = dist.argmin(1)
    rows = np.arange(len(k))
    best = dist[rows, k]
    if best.size and best.max() > MATCH_TOL:
        bad = int(best.argmax())
        raise BadInputError(
            f"site {bad} is {best[bad]:.2f} Å from any pristine {host.subset} site (> {MATCH_TOL} Å): "
            "not an unrelaxed supercell of this host"
        )
    i = np.mod(t[rows, k, 0].astype(np.int64), n1)
    j = np.mod(t[rows, k, 1].astype(np.int64), n2)
    idx = (i * n2 + j) * nk + k
    n_sites = n1 * n2 * nk
    occ = np.full(n_sites, -1, dtype=np.int64)
    numbers = np.asarray(numbers, dtype=np.int64)
    if np.unique(idx).size != idx.size:
        raise BadInputError(
            f"two atoms sit on one pristine {host.subset} site: not an unrelaxed supercell of this host"
        )
    occ[idx] = numbers
    pristine_z = np.tile(host.unit_numbers, n1 * n2)
    changed = np.nonzero(occ != pristine_z)[0]
    z_to = np.where(occ[changed] < 0, 0, occ[changed])
    return _build(host, (n1, n2), changed, pristine_z[changed], z_to, label)


def _positions(host: Host, size: tuple[int, int], sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(xy (n, 2) Å, height above the layer centre (n,) Å) of pristine-supercell sites."""
    n1, n2 = size
    nk = len(host.unit_numbers)
    k = sites % nk
    cell = sites // nk
    ij = np.stack([cell // n2, cell % n2], axis=1).astype(float)
    frac = host.unit_frac[k].copy()
    frac[:, :2] += ij
    cart = frac @ host.unit_lattice  # positions in the supercell (Å)
    return cart[:, :2], cart[:, 2] - host.centre_z


def site_positions(host: Host, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(xy, height) of every site of the n1 x n2 supercell, in pristine-supercell order."""
    return _positions(host, size, np.arange(size[0] * size[1] * len(host.unit_numbers)))


def _build(host: Host, size: tuple[int, int], sites, z_from, z_to, label: str) -> DefectGraph:
    n1, n2 = size
    sites = np.asarray(sites, dtype=np.int64)
    xy, height = _positions(host, size, sites)
    n = len(sites)
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    sup = host.unit_lattice[:2, :2] * np.array([[n1], [n2]])  # in-plane supercell vectors
    distance = inplane_distance(xy[dst] - xy[src], sup)
    return DefectGraph(
        subset=host.subset,
        host=host.name,
        site=sites,
        z_from=np.asarray(z_from, dtype=np.int64),
        z_to=np.asarray(z_to, dtype=np.int64),
        height=height,
        xy=xy,
        edge_index=np.stack([src, dst]).astype(np.int64),
        distance=distance,
        dz=height[dst] - height[src],
        label=label,
        extra={"supercell": (n1, n2)},
    )


_IMAGES = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=float)


def inplane_distance(vec: np.ndarray, sup: np.ndarray) -> np.ndarray:
    """Minimum-image length of in-plane vectors ``vec`` (E, 2) in the 2D cell ``sup`` (2, 2 rows)."""
    if len(vec) == 0:
        return np.zeros(0)
    f = vec @ np.linalg.inv(sup)
    f -= np.rint(f)
    cand = (f[:, None, :] + _IMAGES[None]) @ sup  # (E, 9, 2)
    return np.sqrt((cand * cand).sum(-1)).min(1)


def graph_from_sites(host: Host, size: tuple[int, int], sites, z_to, label: str = "") -> DefectGraph:
    """Graph for defects given directly as pristine-supercell site indices (for screening)."""
    order = np.argsort(np.asarray(sites))
    sites = np.asarray(sites, dtype=np.int64)[order]
    z_to = np.asarray(z_to, dtype=np.int64)[order]
    z_from = host.unit_numbers[sites % len(host.unit_numbers)]
    return _build(host, size, sites, z_from, z_to, label)


# ----------------------------------------------------------------------------- readers


def graph_from_structure(structure, host: Host, label: str = "") -> DefectGraph:
    """Defect graph of a pymatgen ``Structure`` (must be ordered)."""
    if not structure.is_ordered:
        raise BadInputError("structure has partial occupancies: give an ordered defective supercell")
    numbers = np.array([site.specie.Z for site in structure], dtype=np.int64)
    return graph_from_arrays(structure.lattice.matrix, numbers, structure.frac_coords, host, label)


_CELL = {
    k: re.compile(rf"^\s*_cell_{k}\s+([-+0-9.eE]+)", re.M)
    for k in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma")
}


def parse_p1_cif(text: str):
    """(lattice, numbers, frac) of a P1 CIF as pymatgen writes it, or None if it is anything else."""
    from pymatgen.core.lattice import Lattice

    last = text.rfind("loop_")
    head = text[:last]
    if last < 0 or "'P 1'" not in head or text.count("data_") != 1:
        return None
    try:
        a, b, c, al, be, ga = (float(_CELL[k].search(head).group(1)) for k in _CELL)
    except (AttributeError, ValueError):
        return None
    lines = text[last + 5 :].strip().splitlines()
    cols = []
    for line in lines:
        if not line.lstrip().startswith("_"):
            break
        cols.append(line.split()[0])
    need = ("_atom_site_type_symbol", "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z")
    body = "\n".join(lines[len(cols) :])
    if any(n not in cols for n in need) or any(ch in body for ch in "#'\"_;"):
        return None
    tokens = body.split()
    if not tokens or len(tokens) % len(cols):
        return None
    table = np.array(tokens, dtype=object).reshape(-1, len(cols))
    try:
        frac = table[:, [cols.index(n) for n in need[1:]]].astype(float)
        if "_atom_site_occupancy" in cols:
            occ = table[:, cols.index("_atom_site_occupancy")].astype(float)
            if np.abs(occ - 1.0).max() > 1e-6:
                return None
        symbols = table[:, cols.index(need[0])]
        uniq, inv = np.unique(symbols, return_inverse=True)
        numbers = np.array([atomic_number(str(x)) for x in uniq], dtype=np.int64)[inv.ravel()]
    except (ValueError, BadInputError):
        return None
    lattice = Lattice.from_parameters(a, b, c, al, be, ga).matrix
    return lattice, numbers, frac


def graph_from_cif_text(text: str, host: Host, label: str = "") -> DefectGraph:
    """Fast path for P1 CIFs; falls back to pymatgen for anything else."""
    parsed = parse_p1_cif(text)
    if parsed is None:
        return graph_from_structure(read_structure_text(text), host, label)
    return graph_from_arrays(*parsed, host, label=label)


def read_structure_text(text: str):
    """pymatgen Structure from CIF text, or BadInputError with one line."""
    import warnings

    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_str(text, fmt="cif")
    except Exception as exc:  # pymatgen raises many types for bad CIFs
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInputError(f"unreadable CIF ({msg[:120]})") from exc
