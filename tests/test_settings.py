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


# ----------------------------------------------------------------------------- the run configuration

QUESTION = "What determines the width of ferroelectric domain walls?"


def ask_json(*args, env=None, cwd=None):
    import json

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HYPOFINDER_") or k == "HYPOFINDER_CACHE_DIR"}
    full_env.update(env or {})
    res = subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "ask", QUESTION, "--format", "json", "--no-validate", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or None,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_run_options_from_env_config_file_and_flags(tmp_path):
    """Environment over config file over defaults; a flag over both (run.model, temperature, contexts)."""
    conf = tmp_path / "hypofinder.toml"
    conf.write_text('[run]\nmodel = "fake"\ntemperature = 0.2\ncontexts = 2\n')
    from_file = ask_json(cwd=tmp_path)  # the project-level file in the working folder
    assert from_file["run"]["model"] == "fake" and from_file["run"]["temperature"] == 0.2
    assert len(from_file["contexts"]) == 2
    env = {"HYPOFINDER_MODEL": "fake", "HYPOFINDER_TEMPERATURE": "0.4", "HYPOFINDER_CONTEXTS": "1"}
    from_env = ask_json(env=env, cwd=tmp_path)
    assert from_env["run"]["model"] == "fake" and from_env["run"]["temperature"] == 0.4
    assert len(from_env["contexts"]) == 1
    flags = ask_json("--temperature", "0.6", "--contexts", "3", env=env, cwd=tmp_path)
    assert flags["run"]["temperature"] == 0.6 and len(flags["contexts"]) == 3
    user = tmp_path / "user.toml"
    user.write_text('[run]\nmodel = "fake"\ncontexts = 1\n')
    assert len(ask_json(env={"HYPOFINDER_CONFIG": str(user)})["contexts"]) == 1


def test_bad_run_option_from_env_is_one_line(tmp_path):
    env = {**os.environ, "HYPOFINDER_CONTEXTS": "99", "HYPOFINDER_MODEL": "fake"}
    res = subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "ask", QUESTION], capture_output=True, text=True, env=env
    )
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "contexts" in res.stderr and "Traceback" not in res.stderr


def test_run_config_limits_are_declared_once():
    from hypofinder.errors import BadInputError
    from hypofinder.settings import RunConfig

    assert RunConfig.bounds("contexts") == (1, 10) and RunConfig.bounds("temperature") == (0.0, 1.0)
    assert "(1-10)" in RunConfig.help("contexts")
    cfg = RunConfig().merged(model="fake", validate=False, contexts=None)
    assert cfg.model == "fake" and cfg.validate_claims is False and cfg.contexts == 3
    with pytest.raises(BadInputError, match="contexts"):
        cfg.merged(contexts=11)
    with pytest.raises(BadInputError, match="unknown run option"):
        cfg.merged(colour="red")
    with pytest.raises(BadInputError, match="too long"):
        cfg.merged(max_query_chars=20).check_query("x" * 21)


def test_models_command_lists_the_registry():
    import json

    res = subprocess.run([sys.executable, "-m", "hypofinder.cli", "models", "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {"local", "fake", "openai"} <= set(rows)
    for r in rows.values():
        assert {"name", "provider", "in_process", "structured_output"} <= set(r)
    assert rows["local"]["in_process"] and not rows["openai"]["in_process"]
    assert rows["openai"]["structured_output"] == ["json_schema", "json_object", "none"]


def test_registered_provider_is_a_model_choice():
    from hypofinder.errors import BadInputError
    from hypofinder.llm import all_providers, resolve
    from tests.scripted import scripted_model

    with scripted_model({"Small": {"answer": "x"}}) as name:
        spec = resolve(name)
        assert spec.provider == name and not spec.is_server
        assert name in [p.name for p in all_providers()]
    assert spec.entry.name == name  # a finder built with it keeps working
    with pytest.raises(BadInputError, match="unknown model"):
        resolve(name)


def test_run_options_are_generated_from_run_config_for_ask_mine_and_eval(monkeypatch):
    """Every run option of RunConfig on `ask`, `mine` and `eval run` (eval used to lack --library, --rounds,
    --tournament), passed through to the run's configuration."""
    import typer
    from typer.testing import CliRunner

    import hypofinder.evaluation
    from hypofinder.cli import app
    from hypofinder.cli.options import CLI_FIELDS

    root = typer.main.get_command(app)
    commands = {
        "ask": root.commands["ask"],
        "mine": root.commands["mine"],
        "eval run": root.commands["eval"].commands["run"],
    }
    flags = {name: {o for p in cmd.params for o in p.opts + p.secondary_opts} for name, cmd in commands.items()}
    expected = {
        "--model",
        "--base-url",
        "--temperature",
        "--seed",
        "--contexts",
        "--validate",
        "--no-validate",
        "--cache",
    }
    expected |= {"--max-retries", "--timeout", "--library", "--rounds", "--tournament", "--no-tournament"}
    assert all(expected <= f for f in flags.values()), {k: expected - f for k, f in flags.items()}
    assert all(sum(p.name in CLI_FIELDS for p in cmd.params) == len(CLI_FIELDS) for cmd in commands.values())
    help_text = CliRunner().invoke(app, ["eval", "run", "--help"], env={"COLUMNS": "200"}).output
    assert all(f in help_text for f in ("--rounds", "--tournament", "--library"))

    seen = {}

    def fake_evaluate(refs, config, **kw):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(hypofinder.evaluation, "evaluate", fake_evaluate)
    args = ["eval", "run", "refs.jsonl", "--model", "fake", "--rounds", "0", "--no-tournament", "-n", "2", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    cfg = seen["config"]
    assert (cfg.model, cfg.rounds, cfg.tournament, cfg.contexts) == ("fake", 0, False, 2)


def test_cached_report_key_reads_the_options_that_change_output():
    from hypofinder.pipeline import HypothesisFinder
    from hypofinder.settings import RunConfig

    assert {"model", "temperature", "seed", "contexts", "validate_claims", "library", "rounds", "tournament"} <= set(
        RunConfig.output_fields()
    )
    assert not {"cache", "max_retries", "timeout_s", "max_query_chars"} & set(RunConfig.output_fields())
    q = "Do sulfur vacancies lower the gap of MoS2?"
    key = HypothesisFinder("fake", contexts=2)._report_key(q)
    assert HypothesisFinder("fake", contexts=2, max_retries=5, timeout_s=30)._report_key(q) == key
    for change in ({"contexts": 3}, {"temperature": 0.1}, {"seed": 7}, {"validate": False}, {"rounds": 0}):
        assert HypothesisFinder("fake", **{"contexts": 2, **change})._report_key(q) != key, change
