"""``hypofinder ontology ...`` run for real in a subprocess (real PhySH file, model and Chroma store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEED = (
    "How can I model a material properties like magnetic resistivity and electronic bands that depend on "
    "material atomic structure as well as higher-level mesoscopic configuration like phase domains and its "
    "walls in a unified holistic way. Such computational model should be able to generalize descriptions "
    "between different scales and help to reason about exhibited properties."
)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cli_cache() -> Path:
    """The session's cache dir (a temp folder set by tests/conftest.py): the index is built at most once."""
    from hypofinder.settings import settings

    return Path(settings().cache_dir)


def run(cache: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYPOFINDER_CACHE_DIR": str(cache), "COLUMNS": "200"}
    cmd = [sys.executable, "-c", "import sys; from hypofinder.cli import main; sys.exit(main())", "ontology", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_seed_question_json(cli_cache):
    proc = run(cli_cache, "search", SEED, "-k", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)  # stdout holds the JSON and nothing else
    assert isinstance(hits, list) and len(hits) == 10
    for h in hits:
        assert {"id", "label", "facet", "role", "framework", "score"} <= set(h)
        assert h["id"].startswith("https://doi.org/10.29172/")
    labels = [h["label"] for h in hits]
    assert "Multiscale modeling" in labels
    assert hits[labels.index("Multiscale modeling")]["role"] == "Computational Physicist"


def test_table_show_and_build(cli_cache):
    proc = run(
        cli_cache,
        "search",
        "domain walls in ferromagnets",
        "-k",
        "3",
        "--discipline",
        "condensed matter, materials & applied physics",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for word in (
        "score",
        "label",
        "facet",
        "discipline",
        "role",
        "framework",
        "id",
        "Domain walls",
        "Condensed Matter Physicist",
    ):
        assert word in out
    assert "https://doi.org/10.29172/bbdac54f-7bcd-4dc7-b02d-7ad7672d0832" in out

    shown = run(cli_cache, "show", "Multiscale modeling", "--json")
    assert shown.returncode == 0, shown.stderr
    concept = json.loads(shown.stdout)
    assert concept["framework"] == "Computational Physics"
    assert [b["label"] for b in concept["broader"]] == ["Numerical techniques"]
    table = run(cli_cache, "show", "anyons")
    assert table.returncode == 0 and "Fractional statistics" in table.stdout and "Quasiparticles" in table.stdout

    built = run(cli_cache, "build")
    assert built.returncode == 0, built.stderr
    assert "3828 concepts" in built.stdout and " s" in built.stdout


def test_contexts_json(cli_cache):
    proc = run(cli_cache, "contexts", SEED, "-n", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    ctxs = json.loads(proc.stdout)
    assert len(ctxs) == 3 and len({c["framework"] for c in ctxs}) == 3
    assert any(c["concepts"][0]["label"] == "Multiscale modeling" for c in ctxs)


@pytest.mark.parametrize(
    "args, needle",
    [
        (("search", ""), "question is empty"),
        (("search", "magnons", "-k", "0"), "k must be an integer from 1 to 200"),
        (("search", "magnons", "-k", "500"), "k must be an integer from 1 to 200"),
        (("search", "magnons", "--facet", "Gadgets"), "unknown facet 'Gadgets'"),
        (("search", "magnons", "--discipline", "Alchemy"), "unknown discipline 'Alchemy'"),
        (("contexts", "magnons", "-n", "20"), "n must be an integer from 1 to 10"),
        (("show", "zzzz qqqq"), "no PhySH concept"),
    ],
)
def test_bad_input_one_line(cli_cache, args, needle):
    proc = run(cli_cache, *args)
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and needle in lines[0]


def test_missing_data_dir(cli_cache, tmp_path):
    env_args = ("--data-dir", str(tmp_path / "nowhere"))
    env = {**os.environ, "HYPOFINDER_CACHE_DIR": str(cli_cache)}
    cmd = [
        sys.executable,
        "-c",
        "import sys; from hypofinder.cli import main; sys.exit(main())",
        *env_args,
        "ontology",
        "search",
        "magnons",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "nowhere" / "physh" / "physh.json.gz") in lines[0]
