"""Models on real 2DMD structures: shipped weights, a quick held-out fit, the graph network, the API."""

from __future__ import annotations

import numpy as np
import pytest

from hypofinder.defects import (
    DefectPredictor,
    defect_graph,
    host_info,
    pristine_supercell,
)
from hypofinder.defects.data import load_subset
from hypofinder.defects.train import fit_bundle
from hypofinder.settings import settings

DMD = settings().dmd_dir
pytestmark = pytest.mark.skipif(not DMD.exists(), reason="2DMD data not found")
TARGETS = ("formation_energy_per_site", "homo_lumo_gap")


def _mae(a, b):
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.fixture(scope="module")
def predictor():
    return DefectPredictor.load()


def test_shipped_weights_load_and_fit_the_data(predictor):
    assert DefectPredictor.load() is predictor  # cached per process
    meta = predictor.metadata
    assert meta["train_seconds"] > 0 and set(meta["data"]) == set(predictor.hosts)
    for name in ("high_MoS2", "low_WSe2"):
        sub = load_subset(DMD / name)
        idx = np.random.default_rng(1).choice(len(sub), 120, replace=False)
        out = predictor.predict_graphs([sub.graphs[i] for i in idx])
        for t in TARGETS:
            y = sub.targets[t][idx]
            assert _mae(out[t], y) < 0.5 * _mae(y.mean(), y), (name, t)
            assert (out[t + "_std"] >= 0).all()
        assert out["in_domain"].all()


@pytest.mark.parametrize("name", ["high_InSe", "low_MoS2"])
def test_held_out_fit_beats_mean_predictor(name):
    sub = load_subset(DMD / name)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(sub))
    n_test = len(sub) // 5
    test, train = perm[:n_test], perm[n_test:]
    bundle = fit_bundle({name: sub}, seed=0, gnn_epochs=0, log=lambda *_: None, indices={name: train}, folds=0)
    out = bundle.predict([sub.graphs[i] for i in test])
    for t in TARGETS:
        y_train, y = sub.targets[t][train], sub.targets[t][test]
        assert _mae(out[t], y) < 0.7 * _mae(y_train.mean(), y), t


def test_training_is_reproducible_and_gnn_roundtrips(tmp_path):
    sub = load_subset(DMD / "high_GaSe")
    idx = {"high_GaSe": np.arange(48)}
    quiet = dict(log=lambda *_: None, indices=idx, folds=0)
    a = fit_bundle({"high_GaSe": sub}, seed=3, gnn_epochs=2, **quiet)
    b = fit_bundle({"high_GaSe": sub}, seed=3, gnn_epochs=2, **quiet)
    graphs = sub.graphs[48:80]
    pa, pb = a.predict(graphs), b.predict(graphs)
    for t in TARGETS:
        np.testing.assert_allclose(pa[t], pb[t], rtol=1e-6)
    a.save(tmp_path)
    from hypofinder.defects.bundle import ModelBundle

    c = ModelBundle.load(tmp_path)
    pc = c.predict(graphs)
    me_a = a.members(graphs)["formation_energy_per_site"]
    me_c = c.members(graphs)["formation_energy_per_site"]
    assert me_a.shape[0] == 2  # LightGBM + graph network
    np.testing.assert_allclose(me_c[0], me_a[0], rtol=1e-9)  # boosters are stored exactly
    np.testing.assert_allclose(me_c[1], me_a[1], atol=0.05 * np.abs(me_a[1]).max())  # gnn stored in fp16
    assert np.isfinite(pc["homo_lumo_gap"]).all()


def test_api_builds_and_predicts_structures(predictor):
    host = host_info("MoS2")
    assert host.subset == "low_MoS2" and host_info("MoS2", n_defects=12).subset == "high_MoS2"
    assert host.elements == ["Mo", "S"] and host.supercell == (8, 8)
    s = pristine_supercell(host)
    s.remove_sites([1, 4])
    g = defect_graph(s, "MoS2")
    assert g.tokens == ["vS", "vS"] and g.subset == "low_MoS2"
    far = pristine_supercell(host)
    far.remove_sites([1, 3 * (4 * 8 + 4) + 1])
    near, distant = predictor.predict([s, far], host="MoS2")
    assert near.error is None and near.in_domain and near.defects == ["vS", "vS"]
    assert 0 < near.formation_energy_per_site < 10 and 0 <= near.homo_lumo_gap < 5
    assert distant.formation_energy_per_site != pytest.approx(near.formation_energy_per_site, abs=1e-6)
    # many defects in the low-density cell: predicted but flagged out of domain
    crowded = pristine_supercell(host)
    crowded.remove_sites([3 * k + 1 for k in range(0, 40, 4)])
    r = predictor.predict([crowded], host="MoS2")[0]
    assert r.error is None and not r.in_domain and any("defects outside" in n for n in r.domain_notes)


def test_predict_graphs_matches_predict(predictor):
    sub = load_subset(DMD / "high_P")
    from hypofinder.defects.data import iter_tar_cifs

    stem, text = next(iter_tar_cifs(DMD / "high_P" / "structures.tar.gz"))
    r = predictor.predict([text], host="black P")[0]
    g = sub.graphs[sub.ids.index(stem)]
    out = predictor.predict_graphs([g])
    assert r.host == "P" and r.formation_energy_per_site == pytest.approx(out["formation_energy_per_site"][0])
    fast = predictor.predict_graphs(sub.graphs[:40], fast=True)
    full = predictor.predict_graphs(sub.graphs[:40])
    assert np.isfinite(fast["homo_lumo_gap"]).all() and (fast["homo_lumo_gap_std"] > 0).all()
    if predictor.bundle.gnn:  # the full ensemble adds the members' spread to the same calibrated floor
        assert (full["formation_energy_per_site_std"] > fast["formation_energy_per_site_std"]).any()
    else:  # LightGBM-only weights: fast is the same model
        np.testing.assert_allclose(full["formation_energy_per_site"], fast["formation_energy_per_site"])
