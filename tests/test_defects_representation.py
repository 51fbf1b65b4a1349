"""Defect graphs from real 2DMD structures: matching, counts, fast path, formation energy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hypofinder.defects.data import (
    check_formation_energy,
    descriptor_counts,
    graph_counts,
    iter_tar_cifs,
    load_dataset,
)
from hypofinder.defects.graph import (
    graph_from_arrays,
    graph_from_cif_text,
    graph_from_structure,
    parse_token,
    read_structure_text,
)
from hypofinder.defects.hosts import canonical_host, host_from_subset, hosts_from_dir, parse_cell, pristine_supercell
from hypofinder.errors import BadInputError
from hypofinder.settings import settings

DMD = settings().dmd_dir
pytestmark = pytest.mark.skipif(not DMD.exists(), reason="2DMD data not found")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(DMD)


def test_every_subset_found(dataset):
    assert set(dataset) == {f"high_{h}" for h in ("BN", "GaSe", "InSe", "MoS2", "P", "WSe2")} | {"low_MoS2", "low_WSe2"}
    for s in dataset.values():
        assert len(s) == len(s.graphs) == len(s.targets["homo_lumo_gap"]) > 100
        assert np.isfinite(s.targets["formation_energy_per_site"]).all()


def test_defect_counts_equal_descriptors(dataset):
    for name, s in dataset.items():
        for d, g in zip(s.descriptor_defects, s.graphs):
            assert g.n_defects == len(d) > 0
            if name == "high_BN":
                # B/N sites: the descriptor list sometimes names another but equivalent-in-composition split
                # (e.g. vN + C_B vs vB + C_N); the composition of the structure must still agree.
                comp_d, comp_g = {}, {}
                for (a, b), k in descriptor_counts(d).items():
                    comp_d[a] = comp_d.get(a, 0) - k
                    comp_d[b] = comp_d.get(b, 0) + k
                for (a, b), k in graph_counts(g).items():
                    comp_g[a] = comp_g.get(a, 0) - k
                    comp_g[b] = comp_g.get(b, 0) + k
                assert comp_d == comp_g
            else:
                assert descriptor_counts(d) == graph_counts(g), (name, s.ids)


def test_formation_energy_recomputed(dataset):
    for s in dataset.values():
        assert check_formation_energy(s, DMD) < 1e-6


@pytest.mark.parametrize(
    "subset", ["high_BN", "high_GaSe", "high_InSe", "high_MoS2", "high_P", "high_WSe2", "low_MoS2", "low_WSe2"]
)
def test_fast_path_equals_pymatgen(subset):
    host = host_from_subset(DMD / subset)
    for stem, text in itertools.islice(iter_tar_cifs(DMD / subset / "structures.tar.gz"), 4):
        fast = graph_from_cif_text(text, host, label=stem)
        slow = graph_from_structure(read_structure_text(text), host, label=stem)
        assert fast.equals(slow, atol=1e-8)
        assert fast.n_defects > 0


@pytest.mark.parametrize("subset", ["high_BN", "high_GaSe", "high_MoS2", "high_P"])
def test_broken_bond_histogram_equals_pymatgen_neighbours(dataset, subset):
    """Oracle: the vectorised broken-bond histogram of real 2DMD graphs vs each atom's first shell
    found by pymatgen in the pristine supercell, counted one atom at a time."""
    from hypofinder.defects.batch import GraphBatch
    from hypofinder.defects.features import LOST, SHELL, FeatureSpec, coordination

    s = dataset[subset]
    pristine = pristine_supercell(s.host)
    d = pristine.distance_matrix
    shell = [{n.index for n in nbrs} for nbrs in pristine.get_all_neighbors(SHELL * d[d > 0].min())]
    elements = sorted({site.specie.Z for site in pristine})
    graphs = s.graphs[:: len(s.graphs) // 10]
    got = coordination(GraphBatch.from_graphs(graphs), s.host, elements)
    got = got.reshape(len(graphs), len(elements), 2, LOST, LOST)
    assert got[:, :, :, 1:].sum() > 0  # some atoms did lose neighbours
    for g, hist in zip(graphs, got):
        vac, sub = set(g.site[g.z_to == 0].tolist()), set(g.site[g.z_to != 0].tolist())
        want = np.zeros_like(hist)
        for i, site in enumerate(pristine):
            if i not in vac:
                lost_v, lost_s = min(len(shell[i] & vac), LOST - 1), min(len(shell[i] & sub), LOST - 1)
                want[elements.index(site.specie.Z), int(i in sub), lost_v, lost_s] += 1
        np.testing.assert_array_equal(hist, want)
    # the bond-counting ridge reads the defect counts and this histogram, nothing else
    spec = FeatureSpec.fit(GraphBatch.from_graphs(graphs), s.host)
    X = spec.transform(GraphBatch.from_graphs(graphs), s.host)
    names = [spec.names[i] for i in spec.ridge_columns]
    assert X.shape[1] == len(spec.names)
    assert all(n.startswith("count(") or ":lost" in n for n in names)
    assert sum(":lost" in n for n in names) == got[0].size
    np.testing.assert_array_equal(X[:, spec.ridge_columns[-got[0].size :]], got.reshape(len(graphs), -1))


def test_cell_notations_and_hosts():
    assert parse_cell("[8, 8, 1]") == parse_cell("(8, 8, 1)") == (8, 8)
    hosts = hosts_from_dir(DMD)
    assert hosts["low_MoS2"].unit_lattice[2, 2] != pytest.approx(hosts["high_MoS2"].unit_lattice[2, 2])
    assert canonical_host("h-BN") == "BN" and canonical_host("black P") == "P" and canonical_host("BP") == "P"
    with pytest.raises(BadInputError, match="MoS2, WSe2"):
        canonical_host("graphene")


def test_pristine_vacancy_substitution_and_periodic_distance():
    host = hosts_from_dir(DMD)["low_MoS2"]
    s = pristine_supercell(host)
    assert len(s) == host.n_sites == 192
    assert graph_from_structure(s, host).n_defects == 0
    # Mo sites of cells (0,0) and (7,0) are neighbours across the periodic boundary: distance = a
    nk = 3
    s.remove_sites([0, (7 * 8 + 0) * nk])
    s.replace(1, "Se")
    g = graph_from_structure(s, host)
    assert g.tokens == ["vMo", "Se_S", "vMo"]
    a = np.linalg.norm(host.unit_lattice[0])
    d = {tuple(e): x for e, x in zip(g.edge_index.T.tolist(), g.distance)}
    assert d[(0, 2)] == pytest.approx(a, abs=1e-6)
    assert abs(g.dz[0]) == pytest.approx(abs(g.height[1] - g.height[0]))
    assert parse_token("vS") == ("S", None) and parse_token("W_Mo") == ("Mo", "W")


def test_jittered_and_wrong_host_rejected():
    hosts = hosts_from_dir(DMD)
    stem, text = next(iter_tar_cifs(DMD / "low_MoS2" / "structures.tar.gz"))
    from pymatgen.core import Structure

    s0 = read_structure_text(text)
    rng = np.random.default_rng(0)
    s = Structure(s0.lattice, s0.species, s0.cart_coords + rng.normal(0, 0.3, (len(s0), 3)), coords_are_cartesian=True)
    with pytest.raises(BadInputError, match="not an unrelaxed supercell"):
        graph_from_structure(s, hosts["low_MoS2"])
    with pytest.raises(BadInputError, match="not an n x m x 1 supercell"):
        graph_from_cif_text(text, hosts["high_BN"])
    # a smaller supercell of the same host is inferred from the lattice
    small = hosts["high_WSe2"].unit_cell.copy()
    small.make_supercell([3, 2, 1])
    small.remove_sites([0])
    g = graph_from_arrays(small.lattice.matrix, [x.specie.Z for x in small], small.frac_coords, hosts["high_WSe2"])
    assert g.extra["supercell"] == (3, 2) and g.n_defects == 1
