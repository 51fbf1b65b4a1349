"""Defect-property predictor for 2D materials (validation engine of hypofinder).

Data: 2DMD (Huang et al., npj 2D Mater. Appl. 7, 6 (2023)); representation: sparse defect
graphs (Kazeev et al., npj Comput. Mater. 9, 113 (2023)).

Public API (imported lazily, models cached per process)::

    DefectPredictor.load(path=None) -> DefectPredictor
    DefectPredictor.predict(structures, host=None) -> list[DefectPrediction]
    DefectPredictor.predict_graphs(graphs) -> dict of arrays
    host_info(name, density=None, n_defects=None) -> Host
    pristine_supercell(host) -> Structure
    defect_graph(structure, host) -> DefectGraph
    load_subset(dir) / load_dataset(root)
"""

from __future__ import annotations

_EXPORTS = {
    "DefectPredictor": "hypofinder.defects.predictor",
    "DefectPrediction": "hypofinder.defects.predictor",
    "defect_graph": "hypofinder.defects.predictor",
    "DefectGraph": "hypofinder.defects.graph",
    "graph_from_sites": "hypofinder.defects.graph",
    "parse_token": "hypofinder.defects.graph",
    "Host": "hypofinder.defects.hosts",
    "host_info": "hypofinder.defects.hosts",
    "known_hosts": "hypofinder.defects.hosts",
    "canonical_host": "hypofinder.defects.hosts",
    "pristine_supercell": "hypofinder.defects.hosts",
    "load_subset": "hypofinder.defects.data",
    "load_dataset": "hypofinder.defects.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
