"""``DefectPredictor``: defective 2D supercells (CIF / Structure) -> the predicted properties.

Loaded lazily and cached per process (``DefectPredictor.load()`` returns the same object for
the same weights). Per input, errors are reported in the prediction (``error``), never raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Union

import numpy as np
from pydantic import Field

from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.bundle import ModelBundle, in_domain_mask, out_of_domain
from hypofinder.defects.graph import (
    DefectGraph,
    graph_from_arrays,
    graph_from_structure,
    parse_p1_cif,
    read_structure_text,
    supercell_size,
)
from hypofinder.defects.hosts import CANONICAL, Host, canonical_host
from hypofinder.errors import BadInputError, HypofinderError
from hypofinder.models import PropertyPrediction


class DefectPrediction(PropertyPrediction):
    """The predicted properties of one input file or structure; ``error`` set when it failed."""

    file: str = Field(description="File path or label of the input")
    host: str | None = None
    subset: str | None = Field(default=None, description="2DMD subset whose unit cell matched, e.g. low_MoS2")
    defects: list[str] = Field(default_factory=list, description="Tokens: 'vS' = S vacancy, 'W_Mo' = W on a Mo site")
    error: str | None = None


StructureLike = Union["Structure", str, Path]  # noqa: F821

_LOADED: dict[tuple[str, float], DefectPredictor] = {}


class DefectPredictor:
    """Ensemble of the shipped models (LightGBM baseline + graph network)."""

    def __init__(self, bundle: ModelBundle):
        self.bundle = bundle

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: Path | str | None = None) -> DefectPredictor:
        """Load weights from ``path`` (default ``settings().models_dir``), cached per process."""
        from hypofinder.settings import settings

        p = Path(path or settings().models_dir).resolve()
        meta = p / "metadata.json"
        key = (str(p), meta.stat().st_mtime if meta.exists() else 0.0)
        if key not in _LOADED:
            _LOADED[key] = cls(ModelBundle.load(p))
        return _LOADED[key]

    @property
    def hosts(self) -> dict[str, Host]:
        return self.bundle.hosts

    @property
    def metadata(self) -> dict:
        return self.bundle.metadata

    # ------------------------------------------------------------------ graphs
    def candidates(self, host: str | None) -> list[Host]:
        if host is None:
            return list(self.hosts.values())
        name = canonical_host(host)
        found = [h for h in self.hosts.values() if h.name == name]
        if not found:
            known = sorted({h.name for h in self.hosts.values()}, key=CANONICAL.index)
            raise BadInputError(f"no model for host {name}: known hosts are {', '.join(known)}")
        return sorted(found, key=lambda h: (h.density != "low", h.subset))

    def graph(self, item: Any, host: str | None = None, label: str | None = None) -> DefectGraph:
        """The defect graph of one input, matched against the host's subset unit cells."""
        return match_graph(item, self.candidates(host), host, label)

    # ------------------------------------------------------------------ prediction
    def predict_graphs(self, graphs: list[DefectGraph] | GraphBatch, fast: bool = False) -> dict[str, np.ndarray]:
        """Screening path: one array per property of ``PropertyPrediction.targets()``, its
        ``<target>_std`` (NaN where not predicted) and ``in_domain`` (bool), aligned with ``graphs``.
        ``fast=True`` skips the graph network (LightGBM only): several times faster on high-density graphs."""
        batch = graphs if isinstance(graphs, GraphBatch) else GraphBatch.from_graphs(list(graphs))
        if not batch.n_graphs:
            return {k: np.zeros(0) for t in PropertyPrediction.targets() for k in (t, t + "_std")} | {
                "in_domain": np.zeros(0, dtype=bool)
            }
        out = self.bundle.predict(batch, use_gnn=not fast)
        out["in_domain"] = in_domain_mask(batch, self.metadata.get("domain", {}))
        return out

    def require(self, subset: str, target: str) -> None:
        """BadInputError with the reason when the shipped models do not predict ``target`` for ``subset``."""
        if subset not in self.bundle.gbm:
            raise BadInputError(f"no trained model for subset {subset}")
        if target not in self.bundle.targets_of(subset):
            why = (
                ": its 2DMD calculations carry no magnetic information (not spin-polarised)"
                if target == "magnetization"
                else ""
            )
            raise BadInputError(f"no {PropertyPrediction.title(target)} prediction for {subset}{why}")

    def predict(self, structures: Iterable[Any], host: str | None = None) -> list[DefectPrediction]:
        """One ``DefectPrediction`` per input (Structure, CIF path, or CIF text), in order."""
        items = list(structures)
        results: list[DefectPrediction] = []
        graphs: list[tuple[int, DefectGraph]] = []
        for i, item in enumerate(items):
            label = _label(item, i)
            try:
                g = self.graph(item, host=host, label=label)
            except HypofinderError as exc:
                results.append(DefectPrediction(file=label, host=_safe_host(host), error=str(exc)))
                continue
            except Exception as exc:  # any reader failure is a per-file error, never a crash
                results.append(DefectPrediction(file=label, host=_safe_host(host), error=f"cannot read: {exc}"))
                continue
            results.append(DefectPrediction(file=label, host=g.host, subset=g.subset, defects=g.tokens))
            graphs.append((i, g))
        if graphs:
            out = self.bundle.predict([g for _, g in graphs])
            doms = self.metadata.get("domain", {})
            for k, (i, g) in enumerate(graphs):
                r = results[i]
                if np.isnan(out["formation_energy_per_site"][k]):
                    r.error = f"no trained model for subset {g.subset}"
                    continue
                notes = out_of_domain(g, doms.get(g.subset))
                results[i] = r.model_copy(
                    update={**PropertyPrediction.fields_from(out, k), "in_domain": not notes, "domain_notes": notes}
                )
        return results


def _safe_host(host: str | None) -> str | None:
    if host is None:
        return None
    try:
        return canonical_host(host)
    except BadInputError:
        return host


def _label(item: Any, i: int) -> str:
    if isinstance(item, Path):
        return str(item)
    if isinstance(item, str):
        return f"structure {i}" if "\n" in item else item
    return getattr(item, "label", None) or f"structure {i}"


def _read(item: Any, label: str | None):
    """(lattice, numbers, frac, label) from a Structure, a CIF path or CIF text."""
    from pymatgen.core import Structure

    if isinstance(item, Structure):
        if not item.is_ordered:
            raise BadInputError("structure has partial occupancies: give an ordered defective supercell")
        numbers = np.array([s.specie.Z for s in item], dtype=np.int64)
        return item.lattice.matrix, numbers, item.frac_coords, label or "structure"
    if isinstance(item, (str, Path)):
        if isinstance(item, str) and "\n" in item:
            text = item
        else:
            path = Path(item)
            if not path.is_file():
                raise BadInputError(f"file not found: {path}")
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInputError(f"cannot read {path}: {exc.__class__.__name__}") from exc
            label = label or str(path)
        parsed = parse_p1_cif(text)
        if parsed is None:
            s = read_structure_text(text)
            if not s.is_ordered:
                raise BadInputError("structure has partial occupancies: give an ordered defective supercell")
            parsed = (s.lattice.matrix, np.array([x.specie.Z for x in s], dtype=np.int64), s.frac_coords)
        if len(parsed[1]) == 0:
            raise BadInputError("CIF holds no atoms")
        return (*parsed, label or "structure")
    raise BadInputError(f"cannot predict a {type(item).__name__}: give a pymatgen Structure or a CIF path")


def match_graph(item: Any, hosts: list[Host], host_name: str | None = None, label: str | None = None) -> DefectGraph:
    """Read ``item`` and build its graph on the first of ``hosts`` whose supercell matches."""
    lattice, numbers, frac, label = _read(item, label)
    errors = []
    for h in hosts:
        if supercell_size(lattice, h) is None:
            continue
        try:
            g = graph_from_arrays(lattice, numbers, frac, h, label=label)
        except BadInputError as exc:
            errors.append(str(exc))
            continue
        if g.n_defects == 0:
            raise BadInputError(f"no defects: the structure is the pristine {h.subset} supercell")
        return g
    if errors:
        raise BadInputError(errors[0])
    what = canonical_host(host_name) if host_name else "any known host"
    a, b, c = np.linalg.norm(lattice, axis=1)
    cells = ", ".join(h.subset for h in hosts)
    raise BadInputError(
        f"lattice {a:.3f} x {b:.3f} x {c:.3f} Å is not an n x m x 1 supercell of {what} ({cells} unit cells)"
    )


def defect_graph(structure: Any, host: Host | str | None = None) -> DefectGraph:
    """The defect graph the predictor uses. ``host``: a Host (that subset's cell), a host name
    (every subset of that host is tried, e.g. low_MoS2 and high_MoS2), or None (all hosts)."""
    from hypofinder.defects.hosts import candidates, known_hosts

    if isinstance(host, Host):
        return match_graph(structure, [host])
    hosts = candidates(host) if host is not None else list(known_hosts().values())
    return match_graph(structure, hosts, host)


__all__ = ["DefectPrediction", "DefectPredictor", "defect_graph", "graph_from_structure"]
