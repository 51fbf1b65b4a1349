"""The 2D hosts of 2DMD: pristine unit cells, supercell sizes, names and aliases.

A ``Host`` is one subset's host (``low_MoS2`` and ``high_MoS2`` are different hosts: the
unit cells differ in c and z). Hosts come from the shipped ``weights/hosts.json`` (written
by ``train``), so prediction works without the data folder; ``hosts_from_dir`` reads them
from any folder with the 2DMD layout.
"""

from __future__ import annotations

import ast
import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hypofinder.errors import BadInputError, DataNotFoundError

MATCH_TOL = 0.2  # Å: a site further than this from every pristine site is "not this host"
CANONICAL = ("MoS2", "WSe2", "BN", "GaSe", "InSe", "P")
_ALIASES = {
    "mos2": "MoS2",
    "wse2": "WSe2",
    "bn": "BN",
    "hbn": "BN",
    "gase": "GaSe",
    "inse": "InSe",
    "p": "P",
    "bp": "P",
    "blackp": "P",
    "blackphosphorus": "P",
    "phosphorene": "P",
}


def canonical_host(name: str) -> str:
    """'h-BN' -> 'BN', 'black P' -> 'P'; BadInputError listing the known hosts otherwise."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    if key in _ALIASES:
        return _ALIASES[key]
    raise BadInputError(f"unknown host {name!r}: known hosts are {', '.join(CANONICAL)} (also h-BN, black P)")


@dataclass(frozen=True)
class Host:
    """A subset's host: pristine unit cell + the supercell its structures use."""

    name: str  # canonical: MoS2, WSe2, BN, GaSe, InSe, P
    subset: str  # e.g. low_MoS2
    cif: str  # the pristine unit cell (CIF text)
    supercell: tuple[int, int]

    @property
    def density(self) -> str:
        return self.subset.split("_", 1)[0]

    @property
    def unit_cell(self):
        """The pristine unit cell as a pymatgen Structure."""
        return _structure(self.cif)

    @property
    def unit_lattice(self) -> np.ndarray:
        return _arrays(self.cif)[0]

    @property
    def unit_lattice_inv(self) -> np.ndarray:
        return _arrays(self.cif)[3]

    @property
    def unit_numbers(self) -> np.ndarray:
        return _arrays(self.cif)[1]

    @property
    def unit_frac(self) -> np.ndarray:
        return _arrays(self.cif)[2]

    @property
    def centre_z(self) -> float:
        return float((self.unit_frac @ self.unit_lattice)[:, 2].mean())

    @property
    def elements(self) -> list[str]:
        seen: list[str] = []
        for site in self.unit_cell:
            if site.specie.symbol not in seen:
                seen.append(site.specie.symbol)
        return seen

    @property
    def n_sites(self) -> int:
        return self.supercell[0] * self.supercell[1] * len(self.unit_numbers)

    def to_json(self) -> dict:
        return {"name": self.name, "subset": self.subset, "cif": self.cif, "supercell": list(self.supercell)}

    @classmethod
    def from_json(cls, d: dict) -> Host:
        return cls(name=d["name"], subset=d["subset"], cif=d["cif"], supercell=tuple(d["supercell"]))


@lru_cache(maxsize=64)
def _structure(cif: str):
    import warnings

    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(cif, fmt="cif")


@lru_cache(maxsize=64)
def _arrays(cif: str):
    s = _structure(cif)
    frac = np.mod(s.frac_coords, 1.0)
    frac[np.isclose(frac, 1.0, atol=1e-9)] = 0.0
    lat = s.lattice.matrix.copy()
    return lat, np.array([x.specie.Z for x in s], dtype=np.int64), frac, np.linalg.inv(lat)


def parse_cell(text: str) -> tuple[int, int]:
    """'[8, 8, 1]' or '(8, 8, 1)' -> (8, 8)."""
    v = ast.literal_eval(str(text).strip())
    if len(v) != 3 or int(v[2]) != 1:
        raise BadInputError(f"bad cell {text!r}: expected n x m x 1")
    return int(v[0]), int(v[1])


def host_from_subset(folder: Path) -> Host:
    """The host of one 2DMD subset folder (its unit-cell CIF + descriptors' cell)."""
    folder = Path(folder)
    with open(folder / "descriptors.csv", newline="") as f:
        row = next(csv.DictReader(f))
    name = canonical_host(row["base"])
    cif = folder / f"{row['base']}.cif"
    if not cif.exists():
        raise DataNotFoundError(f"unit cell not found: looked for {cif}")
    return Host(name=name, subset=folder.name, cif=cif.read_text(), supercell=parse_cell(row["cell"]))


def is_subset_dir(folder: Path) -> bool:
    folder = Path(folder)
    return all((folder / n).is_file() for n in ("descriptors.csv", "targets.csv", "structures.tar.gz"))


def hosts_from_dir(root: Path) -> dict[str, Host]:
    """All subset hosts under a 2DMD root (or the subset folder itself), keyed by subset."""
    root = Path(root)
    folders = [root] if is_subset_dir(root) else sorted(p for p in root.iterdir() if p.is_dir() and is_subset_dir(p))
    return {f.name: host_from_subset(f) for f in folders}


def weights_hosts_path(models_dir: Path | None = None) -> Path:
    from hypofinder.settings import settings

    return Path(models_dir or settings().models_dir) / "hosts.json"


@lru_cache(maxsize=8)
def _load_hosts(path: str, mtime: float) -> dict[str, Host]:
    data = json.loads(Path(path).read_text())
    return {k: Host.from_json(v) for k, v in data.items()}


def known_hosts(models_dir: Path | None = None) -> dict[str, Host]:
    """Hosts keyed by subset: the shipped hosts.json, else the data folder's subsets."""
    path = weights_hosts_path(models_dir)
    if path.exists():
        return _load_hosts(str(path), path.stat().st_mtime)
    from hypofinder.settings import settings

    root = settings().require(settings().dmd_dir, "2DMD data")
    return hosts_from_dir(root)


def candidates(name: str, models_dir: Path | None = None) -> list[Host]:
    """Every subset host for a host name (MoS2 -> low_MoS2, high_MoS2), low density first."""
    canon = canonical_host(name)
    found = [h for h in known_hosts(models_dir).values() if h.name == canon]
    if not found:
        raise BadInputError(f"no model for host {canon}: known hosts are {', '.join(sorted(known_names(models_dir)))}")
    return sorted(found, key=lambda h: (h.density != "low", h.subset))


def known_names(models_dir: Path | None = None) -> set[str]:
    return {h.name for h in known_hosts(models_dir).values()}


def host_info(name: str, density: str | None = None, n_defects: int | None = None) -> Host:
    """The host for ``name``; ``density`` 'low'/'high' picks the MoS2/WSe2 subset.

    Without ``density``: the low-density subset (1-3 defects in 8x8) when ``n_defects`` is
    None or <= 3, else the high-density one; hosts with one subset return it.
    """
    hosts = candidates(name)
    if density is not None:
        pick = [h for h in hosts if h.density == density]
        if not pick:
            raise BadInputError(
                f"{hosts[0].name} has no {density}-density subset ({', '.join(h.subset for h in hosts)})"
            )
        return pick[0]
    if len(hosts) == 1:
        return hosts[0]
    want = "low" if n_defects is None or n_defects <= 3 else "high"
    return next((h for h in hosts if h.density == want), hosts[0])


def pristine_supercell(host: Host | str):
    """The pristine supercell Structure; site i is site ``i`` of every DefectGraph's ``site``."""
    from pymatgen.core import Lattice, Structure

    if isinstance(host, str):
        host = host_info(host)
    n1, n2 = host.supercell
    nk = len(host.unit_numbers)
    ij = np.array([(i, j) for i in range(n1) for j in range(n2)], dtype=float)
    frac = np.repeat(np.c_[ij, np.zeros(len(ij))], nk, axis=0) + np.tile(host.unit_frac, (len(ij), 1))
    frac /= np.array([n1, n2, 1.0])
    lattice = Lattice(host.unit_lattice * np.array([[n1], [n2], [1.0]]))
    species = np.tile(host.unit_numbers, len(ij)).tolist()
    return Structure(lattice, species, frac)
