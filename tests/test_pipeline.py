"""The pipeline and `hypofinder ask`: fake model for the fast paths, the real local model end to end."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from hypofinder.errors import BadInputError
from hypofinder.models import HypothesisReport
from hypofinder.pipeline import HypothesisFinder, Progress
from hypofinder.render import contexts_csv, to_markdown
from tests.servers import free_port, scripted_server

SEED_QUESTION = (
    "How can I model a material properties like magnetic resistivity and electronic bands that depend on material "
    "atomic structure as well as higher-level mesoscopic configuration like phase domains and its walls in a unified "
    "holistic way. Such computational model should be able to generalize descriptions between different scales and "
    "help to reason about exhibited properties."
)
CLI = [sys.executable, "-m", "hypofinder.cli"]


def run_cli(*args, env=None, timeout=600):
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def assert_valid_report(report: HypothesisReport, n: int) -> None:
    assert len(report.contexts) == n
    assert len({c.framework for c in report.contexts}) == n, "contexts must come from distinct frameworks"
    for c in report.contexts:
        assert 0 <= c.review.score <= 100
        assert all(0 <= v <= 100 for v in c.review.rubric.model_dump().values())
        assert c.concepts and c.concepts[0].id.startswith("https://doi.org/10.29172/")
        assert c.summary and c.hypothesis.statement and len(c.hypothesis.steps) >= 3
    assert len(report.synthesis.steps) >= 3
    assert [c.rank_score for c in report.contexts] == sorted((c.rank_score for c in report.contexts), reverse=True)


# ----------------------------------------------------------------------------- fake model, real ontology


def test_fake_pipeline_report_shape_and_manifest():
    events: list[Progress] = []
    report = HypothesisFinder("fake", contexts=3, validate=False, cache=False).find(SEED_QUESTION, events.append)
    assert_valid_report(report, 3)
    run = report.run
    # 3 generate + 3 review, 1 revision round (3 revise + 3 review), 3 matches judged twice, 1 synthesis
    assert run.rounds == 1 and run.tournament_enabled and len(report.tournament.matches) == 3
    assert run.provider == "fake" and run.llm_calls == 3 + 3 + 6 + 6 + 1 and run.cache_hits == 0
    assert run.physh_version and run.hypofinder_version
    assert set(run.prompt_versions) == {"generator", "reviewer", "reviser", "judge", "synthesizer"}
    assert set(run.step_seconds) >= {"contexts", "generate", "review", "revise", "tournament", "synthesize"}
    steps = [e.step for e in events]
    assert steps[0] == "contexts" and steps[-1] == "done"
    assert steps.index("generate") < steps.index("review") < steps.index("revise") < steps.index("tournament")
    assert steps.index("tournament") < steps.index("synthesize")
    data = json.loads(report.model_dump_json())
    for key in ("role", "framework", "concepts", "hypothesis", "review"):
        assert key in data["contexts"][0]
    assert {"summary", "statement", "steps", "quality_flags"} <= set(data["contexts"][0]["hypothesis"])
    assert {"id", "label", "facet"} <= set(data["contexts"][0]["concepts"][0])
    assert {"text", "score", "rubric"} <= set(data["contexts"][0]["review"])
    assert {"hypothesis", "steps"} <= set(data["synthesis"])
    assert {"model", "temperature", "prompt_tokens", "completion_tokens", "seconds"} <= set(data["run"])


def test_fake_generator_sees_role_context_and_reviewer_sees_hypothesis():
    finder = HypothesisFinder("fake", contexts=2, validate=False, cache=False)
    report = finder.find("How do sulfur vacancies change the band gap of monolayer MoS2?")
    prompts = finder.llm.chat_model.prompts
    first = report.contexts  # ranked; find the generator prompt of each context by its role line
    for ctx in first:
        assert any(
            f"You are a {ctx.role} working in {ctx.framework}" in p and ctx.concepts[0].label in p for p in prompts
        )
        assert any(ctx.hypothesis.statement in p and "referee" in p for p in prompts)
    assert "Reviewed hypotheses" in prompts[-1]


def test_report_cache_second_call_makes_no_llm_call(tmp_path):
    question = f"Do domain walls in multiferroics pin magnetoresistance? (run {random.random()})"
    first = HypothesisFinder("fake", contexts=2, validate=False, rounds=0, tournament=False).find(question)
    assert not first.run.cached and first.run.llm_calls >= 5  # 5 answers (+ a proofreading re-ask at most)
    again = HypothesisFinder("fake", contexts=2, validate=False, rounds=0, tournament=False)
    second = again.find(question)
    assert second.run.cached and second.run.llm_calls == 0 and again.llm.chat_model.calls == 0
    assert second.contexts == first.contexts and second.synthesis == first.synthesis


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"contexts": 0}, "1-10"),
        ({"contexts": 11}, "1-10"),
        ({"temperature": 1.5}, "0.0-1.0"),
        ({"temperature": -0.1}, "0.0-1.0"),
        ({"model": "no-such-model"}, "unknown model"),
    ],
)
def test_bad_settings_raise_one_line(kwargs, message):
    with pytest.raises(BadInputError, match=message) as err:
        HypothesisFinder(**{"model": "fake", **kwargs})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("query, message", [("   ", "empty"), ("x" * 2001, "too long")])
def test_bad_queries(query, message):
    with pytest.raises(BadInputError, match=message):
        HypothesisFinder("fake").find(query)


def test_renderers_follow_the_seed_layout():
    report = HypothesisFinder("fake", contexts=2, validate=False, cache=False).find(SEED_QUESTION)
    md = to_markdown(report)
    assert md.count("## Context ") == 2 and "## Representation and Hypothesis" in md
    assert f"score {report.contexts[0].review.score}" in md
    rows = contexts_csv(report).strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("rank,role,framework")


# ----------------------------------------------------------------------------- OpenAI path, concurrency


def test_server_contexts_run_concurrently():
    """With a server model the per-context calls overlap: 3 contexts x 0.6 s finish well under 3 x 0.6 s per step."""
    from hypofinder.llm.providers import _FakeFiller
    from hypofinder.prompts import GeneratedHypothesis, ReviewAnswer, SynthesisAnswer

    def example(model):
        schema = model.model_json_schema()
        return json.dumps(_FakeFiller("Concept: domain walls", schema).value(schema, "answer"))

    # the scripted server answers every request with one JSON that validates against all three schemas
    merged = {
        **json.loads(example(GeneratedHypothesis)),
        **json.loads(example(ReviewAnswer)),
        **json.loads(example(SynthesisAnswer)),
    }
    merged["steps"] = merged["steps"][:3]
    with scripted_server([json.dumps(merged)], delay_s=0.6) as (url, requests):
        report = HypothesisFinder(
            "scripted", base_url=url, contexts=3, validate=False, cache=False, rounds=0, tournament=False, plan=False
        ).find(SEED_QUESTION)  # revise/tournament: test_tournament.py
    assert len(requests) == 7
    assert report.run.step_seconds["generate"] < 1.5 and report.run.step_seconds["review"] < 1.5
    assert report.run.base_url_host.startswith("127.0.0.1:")


# ----------------------------------------------------------------------------- CLI


def test_cli_json_is_exactly_the_report(tmp_path):
    res = run_cli(
        "ask",
        "How do sulfur vacancies change the gap of MoS2?",
        "--model",
        "fake",
        "--contexts",
        "2",
        "--no-validate",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    report = HypothesisReport.model_validate_json(res.stdout)
    assert len(report.contexts) == 2


def test_cli_out_file_written_only_on_success(tmp_path):
    out = tmp_path / "report.md"
    res = run_cli(
        "ask",
        "Phase domain walls and magnetoresistance",
        "--model",
        "fake",
        "--no-validate",
        "--format",
        "markdown",
        "--out",
        str(out),
    )
    assert res.returncode == 0 and out.read_text().startswith("# Hypotheses for:")
    before = out.read_text()
    port = free_port()
    res = run_cli(
        "ask",
        "Phase domain walls and magnetoresistance, again",
        "--model",
        "m",
        "--base-url",
        f"http://127.0.0.1:{port}/v1",
        "--no-validate",
        "--format",
        "json",
        "--out",
        str(out),
        env={"HYPOFINDER_MAX_RETRIES": "0"},
    )
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach model server at 127.0.0.1:{port}" in lines[0]
    assert out.read_text() == before and not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["", "--model", "fake"], "error: the question is empty"),
        (["q", "--model", "fake", "--contexts", "0"], "error: contexts must be 1-10, got 0"),
        (["q", "--model", "fake", "--temperature", "2"], "error: temperature must be 0.0-1.0, got 2.0"),
        (["q", "--model", "gpt-x"], "error: unknown model 'gpt-x'"),
        (
            ["q", "--model", "fake", "--out", "/nonexistent/dir/r.json"],
            "error: --out folder /nonexistent/dir does not exist",
        ),
    ],
)
def test_cli_bad_input_one_line(args, message):
    res = run_cli("ask", *args)
    assert res.returncode == 2
    assert res.stderr.strip().startswith(message) and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr


def test_cli_garbage_json_after_retries_is_one_line(tmp_path):
    secret = "sk-live-SECRET-0123456789abcdef"
    out = tmp_path / "r.json"
    with scripted_server(["this is not json"]) as (url, _):
        res = run_cli(
            "ask",
            "Magnetic domain walls in thin films",
            "--model",
            "m",
            "--base-url",
            url,
            "--no-validate",
            "--format",
            "json",
            "--out",
            str(out),
            env={"OPENAI_API_KEY": secret},
        )
    assert res.returncode == 2 and "no valid JSON after 3 attempts" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and secret not in res.stderr + res.stdout
    assert not out.exists()


# ----------------------------------------------------------------------------- the real local model


@pytest.mark.slow
def test_local_model_end_to_end_then_cached():
    seed = str(random.randint(1, 10**6))  # a fresh cache key: the first call must reach the model
    res = run_cli("ask", SEED_QUESTION, "--contexts", "3", "--format", "json", "--seed", seed, "--no-validate")
    assert res.returncode == 0, res.stderr
    report = HypothesisReport.model_validate_json(res.stdout)
    assert_valid_report(report, 3)
    assert report.run.provider == "local" and report.run.llm_calls >= 7 and report.run.completion_tokens > 0
    again = run_cli("ask", SEED_QUESTION, "--contexts", "3", "--format", "json", "--seed", seed, "--no-validate")
    cached = HypothesisReport.model_validate_json(again.stdout)
    assert cached.run.cached and cached.run.llm_calls == 0
    assert cached.contexts == report.contexts


# ----------------------------------------------------------------------------- structured-output discovery


def three_contexts(query, n):
    """Contexts without the ontology index (these tests use a fresh cache folder)."""
    from hypofinder.models import ConceptRef, Context

    return [
        Context(
            role=f"Role {i}",
            framework=f"Framework {i}",
            concepts=[ConceptRef(id=f"https://doi.org/10.29172/test-{i}", label=label)],
        )
        for i, label in enumerate(["Magnetic domains", "Magnetoresistance", "Domain walls"][:n])
    ]


def test_unsupported_mode_discovered_once_under_concurrency(tmp_path, monkeypatch):
    """3 contexts at once against a server that rejects response_format: each mode tried once, run completes,
    and the next process starts from the remembered mode."""
    import json as _json

    from hypofinder.llm.providers import _FakeFiller
    from hypofinder.prompts import GeneratedHypothesis, ReviewAnswer, SynthesisAnswer
    from hypofinder.settings import configure, reset

    monkeypatch.setenv("HYPOFINDER_CACHE_DIR", str(tmp_path))
    reset()
    merged = {}
    for model in (GeneratedHypothesis, ReviewAnswer, SynthesisAnswer):
        schema = model.model_json_schema()
        merged.update(_FakeFiller("Concept: domain walls", schema).value(schema, "answer"))
    merged["steps"] = merged["steps"][:3]
    try:
        with scripted_server([_json.dumps(merged)], reject_response_format=True, delay_s=0.2) as (url, requests):
            report = HypothesisFinder(
                "scripted",
                base_url=url,
                contexts=3,
                validate=False,
                cache=False,
                rounds=0,
                tournament=False,
                context_source=three_contexts,
            ).find("Magnetic domain walls and magnetoresistance in thin films")
            kinds = [r.get("response_format", {}).get("type") for r in requests]
            assert len(report.contexts) == 3
            assert kinds.count("json_schema") == 1 and kinds.count("json_object") == 1, kinds
            again = HypothesisFinder("scripted", base_url=url, contexts=1, validate=False, cache=False)
            assert again.llm.modes.current == "none" and again.llm.modes.confirmed
        assert "none" in (tmp_path / "endpoints.json").read_text()
    finally:
        reset()
        configure()


@pytest.mark.slow
def test_real_llama_server_three_contexts_first_use(tmp_path, monkeypatch, caplog):
    """The bug of issue 14: the real llama.cpp server, first use, 3 contexts concurrently."""
    import logging

    from hypofinder.settings import reset
    from tests.servers import llama_server

    monkeypatch.setenv("HYPOFINDER_CACHE_DIR", str(tmp_path))
    reset()
    caplog.set_level(logging.INFO, logger="hypofinder.llm")
    try:
        with llama_server() as url:
            report = HypothesisFinder(
                "smollm",  # a served SmolLM2 is a tiny model: served models default to the capable profile
                base_url=url,
                capability="tiny",
                contexts=3,
                validate=False,
                cache=False,
                context_source=three_contexts,
            ).find("Magnetic domain walls and magnetoresistance in thin films")
        assert len(report.contexts) == 3 and report.run.provider == "openai"
        drops = [r.getMessage() for r in caplog.records if "does not support" in r.getMessage()]
        for mode in ("json_schema", "json_object", "none"):
            assert sum(f"mode {mode};" in m for m in drops) <= 1, drops
    finally:
        reset()
