"""The prediction record and its targets on the shipped predictor: HOMO/LUMO levels, magnetization (spin-polarised
hosts only), calibrated uncertainty, padded graph batches, and the bridge judging claims about the new targets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hypofinder.bridge import validate
from hypofinder.cli import main
from hypofinder.defects import DefectPredictor, host_info
from hypofinder.defects.batch import GraphBatch
from hypofinder.defects.calibrate import COVERAGE_2SIGMA, calibrate_cell, coverage
from hypofinder.defects.data import iter_tar_cifs, load_subset
from hypofinder.defects.predictor import DefectPrediction
from hypofinder.defects.screening import ScreenedConfiguration, screen
from hypofinder.models import ConfigurationPrediction, PropertyPrediction, ValidationRequest
from hypofinder.settings import settings

DMD = settings().dmd_dir
pytestmark = pytest.mark.skipif(not DMD.exists(), reason="2DMD data not found")
NEW = ("homo", "lumo", "magnetization")


@pytest.fixture(scope="module")
def predictor():
    return DefectPredictor.load()


def _mae(a, b):
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def test_one_record_class_declares_every_target():
    targets = PropertyPrediction.targets()
    assert targets == ("formation_energy_per_site", "homo_lumo_gap", *NEW)
    for cls in (DefectPrediction, ConfigurationPrediction, ScreenedConfiguration):
        assert issubclass(cls, PropertyPrediction)
        assert {f"{t}_std" for t in targets} <= set(cls.model_fields)
    assert set(ValidationRequest.model_json_schema()["properties"]["target"]["enum"]) == set(targets)
    assert PropertyPrediction.unit("magnetization") == "μB" and PropertyPrediction.header("homo_lumo_gap") == "Gap (eV)"


@pytest.mark.parametrize("name", ["high_BN", "high_P", "low_WSe2"])
def test_new_targets_fit_the_data_and_magnetization_only_where_spin_polarised(predictor, name):
    sub = load_subset(DMD / name)
    assert set(NEW[:2]) <= set(sub.targets) and ("magnetization" in sub.targets) == (name != "low_WSe2")
    idx = np.random.default_rng(2).choice(len(sub), 150, replace=False)
    out = predictor.predict_graphs([sub.graphs[i] for i in idx])
    for t in NEW:
        if t not in sub.targets:
            assert np.isnan(out[t]).all() and np.isnan(out[t + "_std"]).all()
            continue
        y = sub.targets[t][idx]
        assert _mae(out[t], y) < 0.6 * _mae(y.mean(), y), (name, t)
        assert (out[t + "_std"] > 0).all()


def test_calibration_is_fitted_from_out_of_fold_errors(predictor):
    cal = predictor.metadata["calibration"]
    for sub in predictor.hosts:
        assert set(cal[sub]) == set(predictor.bundle.targets_of(sub))
        for t, c in cal[sub].items():
            assert c["scale"] > 0 and c["floor"] > 0 and 0 <= c["blend"] <= 1 and c["n"] > 100, (sub, t)
    assert "magnetization" in cal["high_BN"] and "magnetization" not in cal["high_MoS2"]
    for v in predictor.metadata["data"].values():
        assert len(v["fingerprint_sha256"]) == 64
    # synthetic members: the fitted 2σ covers COVERAGE_2SIGMA of the errors, and twice the errors twice the scale
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    m = np.stack([y + rng.normal(0, 0.1, 2000), y + rng.normal(0, 0.3, 2000)])
    c = calibrate_cell(m, y)
    mean = (1 - c["blend"]) * m[0] + c["blend"] * m[1]
    spread = np.sqrt(c["blend"] * (1 - c["blend"])) * np.abs(m[0] - m[1])
    sigma = c["scale"] * np.sqrt(spread**2 + c["floor"] ** 2)
    assert coverage(mean - y, sigma)[1] == pytest.approx(COVERAGE_2SIGMA, abs=0.01)
    assert c["blend"] <= 0.25  # the more accurate member dominates
    c2 = calibrate_cell(y + 2 * (m - y), y)
    assert c2["floor"] * c2["scale"] == pytest.approx(2 * c["floor"] * c["scale"], rel=0.05)


def test_padded_batches_equal_one_graph_at_a_time():
    from hypofinder.defects.gnn import train_gnn

    graphs = []
    for name in ("high_MoS2", "high_BN"):
        sub = load_subset(DMD / name)
        graphs += sorted(sub.graphs[:60], key=lambda g: -g.n_defects)[::6]
    assert len({g.n_defects for g in graphs}) > 4  # mixed defect counts in one batch
    y = {
        "formation_energy_per_site": np.linspace(1, 2, len(graphs)),
        "magnetization": np.r_[[np.nan] * 10, np.ones(len(graphs) - 10)],
    }
    net = train_gnn(GraphBatch.from_graphs(graphs), y, epochs=1, d=16, blocks=2, de=8)
    together = net.predict(GraphBatch.from_graphs(graphs))
    assert np.isnan(together["magnetization"][:10]).all() and np.isfinite(together["magnetization"][10:]).all()
    for i in (0, 3, len(graphs) - 1):
        alone = net.predict(GraphBatch.from_graphs([graphs[i]]))
        for t, v in alone.items():
            np.testing.assert_allclose(together[t][i], v[0], rtol=1e-4, atol=1e-5)


def test_cli_predict_json_has_the_new_targets(capsys, tmp_path):
    files = []
    for name in ("high_BN", "low_MoS2"):
        stem, text = next(iter_tar_cifs(DMD / name / "structures.tar.gz"))
        files.append(tmp_path / f"{name}.cif")
        files[-1].write_text(text)
    assert main(["defects", "predict", *map(str, files), "--json"]) == 0
    bn, mos2 = json.loads(capsys.readouterr().out)
    for t in NEW:
        assert isinstance(bn[t], float) and bn[t + "_std"] > 0
    assert isinstance(mos2["homo"], float) and mos2["lumo"] > mos2["homo"] - 1
    assert mos2["magnetization"] is None and mos2["magnetization_std"] is None


def test_screen_by_magnetization_and_a_clear_error_without_magnetic_data(capsys):
    res = screen("BN", "vB,C_N", target="magnetization", maximize=True, limit=3, with_cif=False)
    mags = [c.magnetization for c in res.best]
    assert mags == sorted(mags, reverse=True) and all(c.magnetization_std > 0 for c in res.best)
    code = main(["defects", "screen", "--host", "MoS2", "--defects", "vS,vS", "--target", "magnetization"])
    err = capsys.readouterr().err
    assert code == 2 and "no magnetic information" in err and len(err.strip().splitlines()) == 1


def test_bridge_judges_claims_about_levels_and_magnetization():
    v = validate(
        {
            "host": "h-BN",
            "defects": ["vB"],
            "target": "magnetization",
            "variable": "defect_count",
            "direction": "increases",
        }
    )
    assert v.verdict in ("supported", "contradicted", "inconclusive") and "μB" in v.summary
    assert all(p.magnetization is not None and p.magnetization_std > 0 for p in v.predictions)
    v = validate(
        {
            "host": "MoS2",
            "defects": ["vS", "vS"],
            "target": "magnetization",
            "variable": "pair_distance",
            "direction": "increases",
        }
    )
    assert v.verdict == "out of scope" and "no magnetic information" in v.summary
    v = validate(
        {
            "host": "MoS2",
            "defects": ["vS", "vS"],
            "target": "lumo",
            "variable": "none",
            "direction": "no_change",
            "claimed_min": 0.0,
            "claimed_max": 3.0,
        }
    )
    assert v.verdict == "supported" and "LUMO level" in v.summary and " eV" in v.summary
    assert all(0.0 < p.lumo < 3.0 for p in v.predictions)


def test_screening_graphs_built_as_arrays_equal_per_graph_graphs():
    from hypofinder.defects import graph_from_sites
    from hypofinder.defects.placements import configurations
    from hypofinder.defects.sites import defect_set, site_space

    h = host_info("MoS2", n_defects=6)
    space = site_space(h)
    dset = defect_set(h, "vS,vS,vS,vS,W_Mo,W_Mo", space)
    rows, _, _ = configurations(space, dset, max_configs=200)
    a = GraphBatch.from_graphs([graph_from_sites(h, h.supercell, r, dset.z_to) for r in rows])
    b = GraphBatch.from_sites(h, h.supercell, rows, dset.z_to)
    for f in ("n_nodes", "supercell", "site", "z_from", "z_to", "node_graph", "edge_index", "edge_graph"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    for f in ("height", "distance", "dz"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), atol=1e-9)


def test_edge_table_equals_the_direct_edge_embedding():
    """The network embeds each distinct (distance, |dz|) pair once and gathers it: the same as
    embedding every edge of every graph (an oracle on real high-density graphs)."""
    import torch

    from hypofinder.defects.gnn import D_CENTRES, D_WIDTH, H_CENTRES, H_WIDTH, Padded, rbf, train_gnn

    graphs = load_subset(DMD / "high_WSe2").graphs[:40]
    batch = GraphBatch.from_graphs(graphs)
    y = {"formation_energy_per_site": np.ones(len(graphs)), "homo_lumo_gap": np.linspace(0, 1, len(graphs))}
    model = train_gnn(batch, y, epochs=1, d=16, blocks=1, de=8)
    pad = Padded(batch, model.type_ids, model.subset_ids)
    assert len(pad.pair_values) < len(batch.distance) / 10  # lattice distances repeat
    types, height, mask, edge, pairs, subset, glob = pad.tensors(np.arange(len(graphs)))
    with torch.no_grad():
        table = model.net.e_in(
            torch.cat([rbf(pairs[:, 0], D_CENTRES, D_WIDTH), rbf(pairs[:, 1], H_CENTRES, H_WIDTH)], -1)
        )
        d = torch.from_numpy(batch.distance.astype(np.float32))
        dz = torch.from_numpy(np.abs(batch.dz).astype(np.float32))
        direct = model.net.e_in(torch.cat([rbf(d, D_CENTRES, D_WIDTH), rbf(dz, H_CENTRES, H_WIDTH)], -1))
    b = batch.edge_graph
    gathered = table[edge[b, pad.e_i, pad.e_j]]
    torch.testing.assert_close(gathered, direct, rtol=1e-5, atol=1e-6)
    assert int((edge == len(pairs)).sum()) == edge.numel() - len(b)  # padding and the diagonal: no edge
