"""2DMD loader: any folder with the 2DMD layout -> defect graphs + the two targets.

``load_subset(dir)`` reads one subset (structures straight from structures.tar.gz),
``load_dataset(root)`` every subset under a root. Parsed graphs are cached under
``settings().cache_dir / "defects"`` keyed by the files' fingerprints.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hypofinder.defects.graph import DefectGraph, atomic_number, graph_from_cif_text
from hypofinder.defects.hosts import Host, host_from_subset, is_subset_dir
from hypofinder.errors import BadInputError, DataNotFoundError
from hypofinder.models import PropertyPrediction

CACHE_VERSION = "2"
TARGETS = PropertyPrediction.targets()


@dataclass
class Subset:
    """One 2DMD subset: graphs aligned with ids and targets (eV)."""

    name: str
    host: Host
    ids: list[str]
    graphs: list[DefectGraph]
    targets: dict[str, np.ndarray]  # every target the subset's data inform (see target_values)
    energy: np.ndarray  # total DFT energy (eV)
    formation_energy: np.ndarray
    descriptor_defects: list[list[dict]]  # the descriptor's defect list per structure
    fingerprint: str
    base: str = ""  # host name as written in descriptors.csv / initial_structures.csv

    def __len__(self) -> int:
        return len(self.ids)


def fingerprint(folder: Path) -> str:
    """sha256 over the subset's files (unit cell, descriptors, targets, structures)."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and (p.suffix in (".cif", ".csv") or p.name == "structures.tar.gz"):
            h.update(p.name.encode())
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _cache_path(name: str, fp: str) -> Path:
    from hypofinder.settings import settings

    return Path(settings().cache_dir) / "defects" / f"{name}-{fp[:20]}-v{CACHE_VERSION}.pkl"


def target_values(rows: list[dict], columns) -> dict[str, np.ndarray]:
    """Every target of ``PropertyPrediction`` the rows inform, from its first column present. A column
    that is zero on every row (``total_mag`` of the MoS2/WSe2 subsets, computed without spin polarisation)
    carries no information: that target is left out."""
    out = {}
    for t in TARGETS:
        col = next((c for c in PropertyPrediction.columns(t) if c in columns), None)
        if col is None:
            continue
        v = np.array([float(r[col]) if r[col] not in ("", None) else np.nan for r in rows])
        if np.all(np.nan_to_num(v) == 0):
            continue
        out[t] = v
    return out


def iter_tar_cifs(path: Path):
    """(stem, text) for every ``*.cif`` member of a tar.gz, without extracting to disk."""
    with tarfile.open(path, "r:gz") as tf:
        for m in tf:
            if m.isfile() and m.name.endswith(".cif"):
                yield Path(m.name).stem, tf.extractfile(m).read().decode()


def load_subset(folder: Path | str, cache: bool = True) -> Subset:
    """Load one subset folder (descriptors.csv, targets.csv, structures.tar.gz, <host>.cif)."""
    folder = Path(folder)
    if not is_subset_dir(folder):
        raise DataNotFoundError(
            f"not a 2DMD subset folder (needs descriptors.csv, targets.csv, structures.tar.gz): {folder}"
        )
    fp = fingerprint(folder)
    cpath = _cache_path(folder.name, fp)
    if cache and cpath.exists():
        try:
            with open(cpath, "rb") as f:
                return pickle.load(f)
        except Exception:  # stale or truncated cache: rebuild
            pass
    host = host_from_subset(folder)
    with open(folder / "descriptors.csv", newline="") as f:
        drows = list(csv.DictReader(f))
    desc = {r["_id"]: ast.literal_eval(r["defects"]) for r in drows}
    with open(folder / "targets.csv", newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames)
        rows = {r["_id"]: r for r in reader}
    ids, graphs = [], []
    for stem, text in iter_tar_cifs(folder / "structures.tar.gz"):
        if stem not in rows:
            continue
        graphs.append(graph_from_cif_text(text, host, label=stem))
        ids.append(stem)
    missing = len(rows) - len(ids)
    if missing:
        raise BadInputError(
            f"{folder.name}: {missing} structures listed in targets.csv are missing from structures.tar.gz"
        )
    r = [rows[i] for i in ids]
    sub = Subset(
        name=folder.name,
        host=host,
        ids=ids,
        graphs=graphs,
        targets=target_values(r, columns),
        energy=np.array([float(x["energy"]) for x in r]),
        formation_energy=np.array([float(x["formation_energy"]) for x in r]),
        descriptor_defects=[desc[x["descriptor_id"]] for x in r],
        fingerprint=fp,
        base=drows[0]["base"],
    )
    if cache:
        cpath.parent.mkdir(parents=True, exist_ok=True)
        tmp = cpath.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(sub, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cpath)
    return sub


def subset_dirs(root: Path | str) -> list[Path]:
    """Subset folders under ``root`` (or ``root`` itself if it is one)."""
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"2DMD data not found: {root} is not a folder")
    if is_subset_dir(root):
        return [root]
    found = sorted(p for p in root.iterdir() if p.is_dir() and is_subset_dir(p))
    if not found:
        raise DataNotFoundError(
            f"no 2DMD subsets (folders with descriptors.csv, targets.csv, structures.tar.gz) in {root}"
        )
    return found


def load_dataset(root: Path | str, cache: bool = True) -> dict[str, Subset]:
    """Every subset under ``root``, keyed by folder name."""
    return {p.name: load_subset(p, cache=cache) for p in subset_dirs(root)}


# ----------------------------------------------------------------------------- checks


def read_chemical_potentials(root: Path) -> dict[str, float]:
    with open(Path(root) / "elements.csv", newline="") as f:
        return {r["element"]: float(r["chemical_potential"]) for r in csv.DictReader(f)}


def read_pristine_energies(root: Path) -> dict[str, float]:
    with open(Path(root) / "initial_structures.csv", newline="") as f:
        return {r["base"]: float(r["energy"]) for r in csv.DictReader(f)}


def formation_energy(graph: DefectGraph, energy: float, e_pristine: float, mu: dict[str, float]) -> float:
    """E_f = E - E_pristine + sum_vac mu(removed) + sum_sub [mu(original) - mu(new)] (eV)."""
    from hypofinder.defects.graph import element_symbol

    total = energy - e_pristine
    for a, b in zip(graph.z_from, graph.z_to):
        total += mu[element_symbol(a)] - (mu[element_symbol(b)] if b else 0.0)
    return total


def check_formation_energy(sub: Subset, root: Path | None = None) -> float:
    """Largest |recomputed - stored| formation_energy_per_site (eV) over the subset."""
    from hypofinder.settings import settings

    root = Path(root) if root is not None else Path(settings().dmd_dir)
    mu = read_chemical_potentials(root)
    e0 = read_pristine_energies(root)[sub.base]
    worst = 0.0
    for g, e, t in zip(sub.graphs, sub.energy, sub.targets["formation_energy_per_site"]):
        per_site = formation_energy(g, e, e0, mu) / g.n_defects
        worst = max(worst, abs(per_site - t))
    return worst


def descriptor_counts(defects: list[dict]) -> dict[tuple[int, int], int]:
    """Count (z_from, z_to) pairs in a descriptor's defect list (z_to = 0 for a vacancy)."""
    out: dict[tuple[int, int], int] = {}
    for d in defects:
        key = (
            (atomic_number(d["element"]), 0)
            if d["type"] == "vacancy"
            else (atomic_number(d["from"]), atomic_number(d["to"]))
        )
        out[key] = out.get(key, 0) + 1
    return out


def graph_counts(g: DefectGraph) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for a, b in zip(g.z_from.tolist(), g.z_to.tolist()):
        out[(a, b)] = out.get((a, b), 0) + 1
    return out


def write_sample(src_root: Path | str, dst_root: Path | str, subsets: list[str], n: int, seed: int = 0) -> Path:
    """Copy ``n`` random structures of each subset into a new folder with the 2DMD layout."""
    import io
    import shutil

    src_root, dst_root = Path(src_root), Path(dst_root)
    dst_root.mkdir(parents=True, exist_ok=True)
    for f in ("elements.csv", "initial_structures.csv"):
        if (src_root / f).exists():
            shutil.copy(src_root / f, dst_root / f)
    rng = np.random.default_rng(seed)
    for name in subsets:
        src, dst = src_root / name, dst_root / name
        dst.mkdir(exist_ok=True)
        with open(src / "targets.csv", newline="") as f:
            reader = csv.DictReader(f)
            fields, rows = reader.fieldnames, list(reader)
        keep = [rows[i] for i in sorted(rng.choice(len(rows), size=min(n, len(rows)), replace=False))]
        ids = {r["_id"] for r in keep}
        with open(dst / "targets.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(keep)
        for p in src.iterdir():
            if p.suffix == ".cif" or p.name in ("descriptors.csv", "defects.csv"):
                shutil.copy(p, dst / p.name)
        with tarfile.open(dst / "structures.tar.gz", "w:gz") as out:
            for stem, text in iter_tar_cifs(src / "structures.tar.gz"):
                if stem in ids:
                    data = text.encode()
                    info = tarfile.TarInfo(f"cifs/{stem}.cif")
                    info.size = len(data)
                    out.addfile(info, io.BytesIO(data))
    return dst_root
