"""One settings object: data dir default, env and flag overrides, clear missing-data errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hypofinder.errors import DataNotFoundError
from hypofinder.settings import PROJECT_ROOT, Settings


def test_default_data_dir_is_shared_beside_project(monkeypatch):
    monkeypatch.delenv("HYPOFINDER_DATA_DIR", raising=False)
    s = Settings()
    assert s.data_dir == PROJECT_ROOT.parent / "shared" / "data"
    assert s.physh_path.name == "physh.json.gz" and s.dmd_dir.name == "2dmd"


def test_env_overrides_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOFINDER_DATA_DIR", str(tmp_path))
    assert Settings().data_dir == tmp_path


def test_require_names_the_missing_path(tmp_path):
    s = Settings(data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "physh" / "physh.json.gz")):
        s.require(s.physh_path, "PhySH ontology")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_cli_missing_data_is_one_line_naming_where_it_looked(tmp_path, how):
    empty = tmp_path / "nodata"
    args = [sys.executable, "-m", "hypofinder.cli"]
    env = {**os.environ, "HYPOFINDER_CACHE_DIR": str(tmp_path / "cache")}
    if how == "flag":
        args += ["--data-dir", str(empty)]
    else:
        env["HYPOFINDER_DATA_DIR"] = str(empty)
    res = subprocess.run([*args, "ontology", "search", "magnetic domains"], capture_output=True, text=True, env=env)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(empty) in lines[0]
