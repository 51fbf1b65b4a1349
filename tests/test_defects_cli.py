"""`hypofinder defects ...` on real 2DMD files: JSON shapes, bad input, evaluate, a tiny train."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hypofinder.cli import main
from hypofinder.defects.data import iter_tar_cifs, write_sample
from hypofinder.settings import settings

DMD = settings().dmd_dir
pytestmark = pytest.mark.skipif(not DMD.exists(), reason="2DMD data not found")
KEYS = {
    "file",
    "host",
    "defects",
    "formation_energy_per_site",
    "formation_energy_per_site_std",
    "homo_lumo_gap",
    "homo",
    "homo_std",
    "lumo",
    "lumo_std",
    "magnetization",
    "magnetization_std",
    "domain_notes",
    "homo_lumo_gap_std",
    "in_domain",
    "error",
}


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from pymatgen.core import Structure

    from hypofinder.defects import pristine_supercell
    from hypofinder.defects.graph import read_structure_text

    d = tmp_path_factory.mktemp("cifs")
    out = {}
    for name in ("low_MoS2", "high_MoS2", "high_BN"):
        stem, text = next(iter_tar_cifs(DMD / name / "structures.tar.gz"))
        out[name] = d / f"{stem}.cif"
        out[name].write_text(text)
    s = read_structure_text(out["low_MoS2"].read_text())
    rng = np.random.default_rng(0)
    jit = Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, 0.3, (len(s), 3)), coords_are_cartesian=True)
    out["relaxed"] = d / "relaxed.cif"
    jit.to(filename=str(out["relaxed"]))
    out["pristine"] = d / "pristine.cif"
    pristine_supercell("MoS2").to(filename=str(out["pristine"]))
    out["garbage"] = d / "garbage.cif"
    out["garbage"].write_text("this is not a CIF\n")
    return out


def test_predict_json_and_bad_inputs(capsys, files):
    f = files
    code, out, _ = _run(
        capsys,
        "defects",
        "predict",
        str(f["low_MoS2"]),
        str(f["high_MoS2"]),
        str(f["high_BN"]),
        str(f["relaxed"]),
        str(f["pristine"]),
        str(f["garbage"]),
        "--host",
        "MoS2",
        "--json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["file"] for r in rows] == [
        str(f[k]) for k in ("low_MoS2", "high_MoS2", "high_BN", "relaxed", "pristine", "garbage")
    ]
    assert all(KEYS <= set(r) for r in rows)
    low, high, bn, relaxed, pristine, garbage = rows
    assert low["error"] is None and low["subset"] == "low_MoS2" and high["subset"] == "high_MoS2"
    assert low["host"] == "MoS2" and low["defects"] and all(isinstance(t, str) for t in low["defects"])
    assert isinstance(low["formation_energy_per_site"], float) and low["homo_lumo_gap_std"] >= 0
    assert "not an n x m x 1 supercell of MoS2" in bn["error"]
    assert "not an unrelaxed supercell" in relaxed["error"]
    assert "no defects" in pristine["error"]
    assert "unreadable CIF" in garbage["error"]


def test_predict_table_detects_host_and_all_failed_exit(capsys, files):
    code, out, _ = _run(capsys, "defects", "predict", str(files["high_BN"]), str(files["low_MoS2"]))
    assert code == 0 and "high_BN" in out and "low_MoS2" in out
    code, out, _ = _run(capsys, "defects", "predict", str(files["garbage"]), str(files["pristine"]), "--json")
    assert code != 0 and all(r["error"] for r in json.loads(out))
    code, _, err = _run(capsys, "defects", "predict", str(files["low_MoS2"]), "--host", "graphene")
    assert code == 2 and "known hosts are MoS2, WSe2, BN, GaSe, InSe, P" in err and len(err.strip().splitlines()) == 1


def test_evaluate_and_train_on_a_copy(capsys, tmp_path):
    root = write_sample(DMD, tmp_path / "mini", ["low_WSe2", "high_InSe"], n=40, seed=0)
    code, out, _ = _run(capsys, "defects", "evaluate", str(root), "--json")
    assert code == 0
    rep = json.loads(out)
    assert set(rep) == {"subsets"} and set(rep["subsets"]) == {"low_WSe2", "high_InSe"}
    for r in rep["subsets"].values():
        assert set(r) == {"n", "formation_energy_per_site", "homo_lumo_gap"} and r["n"] == 40
        assert set(r["formation_energy_per_site"]) == {"mae_mev"} and r["homo_lumo_gap"]["mae_mev"] >= 0
    code, _, err = _run(capsys, "defects", "evaluate", str(tmp_path / "empty_does_not_exist"))
    assert code != 0 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "defects", "evaluate", str(tmp_path / "empty"), "--json")
    assert code != 0 and "no 2DMD subsets" in err

    w = tmp_path / "weights"
    code, out, _ = _run(
        capsys, "defects", "train", "--data", str(root), "--out", str(w), "--seed", "1", "--epochs", "1"
    )
    assert code == 0 and "training time" in out
    meta = json.loads((w / "metadata.json").read_text())
    assert meta["seed"] == 1 and meta["train_seconds"] > 0 and set(meta["data"]) == {"low_WSe2", "high_InSe"}
    assert all(len(v["fingerprint_sha256"]) == 64 for v in meta["data"].values())
    assert (w / "gnn.pt").exists() and (w / "gbm.json.gz").exists()
    cif = next(iter(sorted((root / "high_InSe").glob("*.cif"))))
    stem, text = next(iter_tar_cifs(root / "high_InSe" / "structures.tar.gz"))
    (tmp_path / "x.cif").write_text(text)
    code, out, _ = _run(
        capsys, "defects", "predict", str(tmp_path / "x.cif"), "--host", "InSe", "--weights", str(w), "--json"
    )
    assert code == 0 and json.loads(out)[0]["subset"] == "high_InSe" and cif.exists()
