"""Defect screening on the shipped predictor: symmetry classes, ranking, counts, CLI JSON + CIF export."""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations, product

import numpy as np
import pytest

from hypofinder.cli import main
from hypofinder.defects import (
    DefectPredictor,
    defect_graph,
    graph_from_sites,
    host_info,
    pristine_supercell,
)
from hypofinder.defects.placements import canonical, configurations
from hypofinder.defects.screening import screen
from hypofinder.defects.sites import defect_set, site_space, space_size
from hypofinder.errors import BadInputError


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _classes_by_brute_force(space, dset, rows) -> int:
    """Symmetry classes counted with every operation of the supercell (no pinning)."""
    img = np.sort(space.perms[:, rows] * 128 + dset.z_to, axis=2)  # (G, M, k)
    return len({min(map(tuple, img[:, m, :].tolist())) for m in range(rows.shape[0])})


@pytest.mark.parametrize("host, tokens", [("MoS2", "vS,W_Mo"), ("MoS2", "vS,vS"), ("P", "vP,vP")])
def test_distinct_configurations_equal_brute_force_symmetry_classes(host, tokens):
    h = host_info(host, n_defects=2)
    space = site_space(h)
    dset = defect_set(h, tokens)
    (z1, z2) = dset.z_from
    s1, s2 = space.sites_of(int(z1)), space.sites_of(int(z2))
    every = np.array([p for p in product(s1, s2) if p[0] < p[1] or z1 != z2])
    assert len(every) == space_size(space, dset)
    rows, exhaustive, _ = configurations(space, dset)
    assert exhaustive and len(rows) == _classes_by_brute_force(space, dset, every)
    assert len(np.unique(canonical(space, dset, rows), axis=0)) == len(rows)  # no class twice


def test_screen_ranks_counts_and_structures():
    res = screen("MoS2", "vS,vS,W_Mo", limit=10)
    assert res.subset == "low_MoS2" and res.exhaustive and res.symmetry_ops > 1
    assert len(res.best) == 10 and res.n_distinct < res.n_space / 100
    h = host_info("MoS2", n_defects=3)  # every class predicted independently: the ranking must match
    space = site_space(h)
    dset = defect_set(h, "vS,vS,W_Mo")
    rows, _, _ = configurations(space, dset)
    assert len(rows) == res.n_distinct
    every = DefectPredictor.load().predict_graphs([graph_from_sites(h, h.supercell, r, dset.z_to) for r in rows])
    gaps = [c.homo_lumo_gap for c in res.best]
    assert gaps == pytest.approx(np.sort(every["homo_lumo_gap"])[:10], abs=1e-12)
    assert [c.rank for c in res.best] == list(range(1, 11))
    high = screen("MoS2", "vS,vS,W_Mo", maximize=True, limit=5, with_cif=False)
    assert [c.homo_lumo_gap for c in high.best] == pytest.approx(np.sort(every["homo_lumo_gap"])[::-1][:5], abs=1e-12)
    assert high.best[0].cif is None
    e = screen("MoS2", "vS,vS,W_Mo", target="formation_energy_per_site", limit=3)
    assert e.best[0].formation_energy_per_site == pytest.approx(every["formation_energy_per_site"].min(), abs=1e-12)
    top = res.best[:3]
    pristine = pristine_supercell(h)
    preds = DefectPredictor.load().predict([c.cif for c in top], host="MoS2")
    for c, p in zip(top, preds):
        g = defect_graph(c.cif, h)  # re-extract the defects from the exported structure
        assert Counter(g.tokens) == Counter({"vS": 2, "W_Mo": 1}) == Counter(c.defects)
        assert sorted(g.site.tolist()) == sorted(c.sites)
        assert p.error is None and p.homo_lumo_gap == pytest.approx(c.homo_lumo_gap, abs=1e-9)
        assert p.formation_energy_per_site == pytest.approx(c.formation_energy_per_site, abs=1e-9)
        pair = [pristine.get_distance(i, j) for i, j in combinations(c.sites, 2)]  # pymatgen, minimum image
        assert c.min_distance == pytest.approx(min(pair), abs=1e-3) and c.mean_distance == pytest.approx(
            np.mean(pair), abs=1e-3
        )


def test_large_space_is_sampled_without_duplicates():
    res = screen("MoS2", "vS,vS,vS,W_Mo,W_Mo,Se_S", max_configs=3000, limit=5, seed=1)
    assert res.subset == "high_MoS2" and not res.exhaustive and res.n_distinct == 3000
    assert res.n_space > 1e10 and res.timing.total_s > 0 and res.configs_per_s > 0
    h = host_info("MoS2", density="high")
    space = site_space(h)
    dset = defect_set(h, res.defects)
    rows, _, _ = configurations(space, dset, max_configs=3000, seed=1)
    assert len(np.unique(canonical(space, dset, rows), axis=0)) == len(rows)
    kinds = space.numbers[rows]  # every row: 4 defects on S sites, 2 on Mo sites, all different sites
    assert ((kinds == 16).sum(1) == 4).all() and ((kinds == 42).sum(1) == 2).all()
    assert (np.diff(np.sort(rows, axis=1), axis=1) > 0).all()
    again = screen("MoS2", "vS,vS,vS,W_Mo,W_Mo,Se_S", max_configs=3000, limit=5, seed=1)
    assert [c.sites for c in again.best] == [c.sites for c in res.best]


def test_cli_json_and_cif_export_match_predict(capsys, tmp_path):
    out = tmp_path / "best"
    code, text, _ = _run(
        capsys,
        "defects",
        "screen",
        "--host",
        "h-BN",
        "--defects",
        "vB,C_N,C_N",
        "--maximize",
        "--limit",
        "4",
        "--json",
        "--cif-dir",
        str(out),
    )
    assert code == 0
    data = json.loads(text)
    assert data["host"] == "BN" and len(data["best"]) == 4 and "cif" not in data["best"][0]
    gaps = [b["homo_lumo_gap"] for b in data["best"]]
    assert gaps == sorted(gaps, reverse=True)
    files = [b["cif_path"] for b in data["best"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.split("/")[-1] for p in files)
    code, text, _ = _run(capsys, "defects", "predict", *files, "--host", "BN", "--json")
    rows = json.loads(text)
    assert code == 0 and [Counter(r["defects"]) for r in rows] == [Counter({"C_N": 2, "vB": 1})] * 4
    assert [r["homo_lumo_gap"] for r in rows] == pytest.approx(gaps, abs=1e-9)
    code, text, _ = _run(capsys, "defects", "screen", "--host", "MoS2", "--defects", "vS,vS", "--limit", "2")
    assert code == 0 and "vS@" in text and "configs/s" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--host", "graphene", "--defects", "vC"], "unknown host 'graphene'"),
        (["--host", "MoS2", "--defects", "S-vac"], "bad defect token 'S-vac'"),
        (["--host", "MoS2", "--defects", "vSe"], "Se is not an element of MoS2"),
        (["--host", "BN", "--defects", ",".join(["vB"] * 65)], "65 defects on B sites"),
        (["--host", "MoS2", "--defects", "vS", "--target", "band_gap"], "unknown target 'band_gap'"),
        (["--host", "MoS2", "--defects", "vS", "--limit", "0"], "limit must be 1-100"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, tmp_path, argv, message):
    out = tmp_path / "never"
    code, _, err = _run(capsys, "defects", "screen", *argv, "--cif-dir", str(out))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_api_rejects_bad_defect_sets():
    with pytest.raises(BadInputError, match="not a defect"):
        screen("MoS2", "Mo_Mo")
    with pytest.raises(BadInputError, match="no defects given"):
        screen("MoS2", " , ")
    with pytest.raises(BadInputError, match="unknown element symbol 'Qq'"):
        screen("P", "vP,Qq_P")
    assert sorted(defect_set(host_info("P"), ["vP", "N_P", "vP"]).tokens) == ["N_P", "vP", "vP"]
