"""Ablation variants of `hypofinder eval`: the raw baseline (one plain call) becomes a one-context report that
scores like the others, every variant is scored on the same kind of text under the same word budget, `eval
compare` pairs two variants, Markdown is formatting and not junk, and bad variant names give one line.

Real components: the pipeline and mining machinery (fake model), the evaluation embedder and PhySH concepts,
a real HTTP server speaking the OpenAI protocol for a served model's free-text answer, and (slow) the
embedded SmolLM2.
"""

from __future__ import annotations

import json

import pytest

from hypofinder.evaluation import VARIANTS, Generated, get_variant, parse_variants, read_references, score
from hypofinder.evaluation.metrics import budget
from hypofinder.plain import MISSING, split_answer
from hypofinder.quality import prose_problems, strip_markdown
from tests.servers import scripted_server
from tests.test_eval import REFS, cli, write_jsonl

SERVED_ANSWER = """## Hypothesis
**Sulfur vacancies** make monolayer MoS2 an *n-type* semiconductor.

## Why it may hold
Each vacancy leaves localized states in the gap, just below the conduction band, which donate electrons.

## Steps to test it
1. Measure the `threshold voltage` of MoS2 field-effect transistors.
2. Anneal the films in sulfur vapour to heal the vacancies.
3. Compare the threshold before and after annealing.
4. Image the vacancies with scanning tunnelling microscopy.
"""


@pytest.fixture(scope="module")
def refs4(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ablation")
    return write_jsonl(folder / "refs4.jsonl", REFS.read_text().splitlines()[:4])


# ----------------------------------------------------------------------------- Markdown and the raw answer


def test_markdown_is_formatting_not_junk():
    assert strip_markdown("## Steps\n1. **Grow** `MoS2` by [CVD](http://x.org).\n- Anneal it.\n---") == (
        "Steps: Grow MoS2 by CVD. Anneal it."
    )
    assert prose_problems(SERVED_ANSWER) == []
    assert prose_problems("2 * 3 = 6 eV and 3.5 eV gaps in MoS2 films.") == []  # arithmetic is not emphasis
    for debris in ('## {"statement": "x"}', "- ],", "**Summary: [MoS2, WSe]dens',,**"):
        assert prose_problems(debris), debris  # debris stays debris inside Markdown


def test_a_free_text_answer_becomes_hypothesis_reason_and_steps():
    statement, rationale, steps = split_answer(SERVED_ANSWER)
    assert statement == "Sulfur vacancies make monolayer MoS2 an n-type semiconductor."
    assert rationale.startswith("Each vacancy leaves localized states") and "##" not in rationale
    assert len(steps) == 3 and steps[0].startswith("Measure the threshold voltage")
    assert "Compare the threshold" in steps[2] and "scanning tunnelling" in steps[2]  # extra steps kept, joined
    # bold inline labels, and no headings at all
    s2, r2, st2 = split_answer(
        "**Hypothesis:** Strain lowers the gap of WSe2.\n**Why:** Strain shifts the bands.\n"
        "**Steps:**\n- Bend the flake.\n- Record photoluminescence."
    )
    assert (s2, r2, st2) == ("Strain lowers the gap of WSe2.", "Strain shifts the bands.", [*st2[:2], MISSING])
    assert st2[:2] == ["Bend the flake.", "Record photoluminescence."]
    prose = "Pressure closes the gap. Orbitals overlap more. Measure it under pressure. Fit the data. Compare models."
    s3, r3, st3 = split_answer(prose)
    assert s3 == "Pressure closes the gap." and r3 == "Orbitals overlap more."
    assert st3 == ["Measure it under pressure.", "Fit the data.", "Compare models."]
    # a lead-in line is dropped, an indented line continues its item, an unindented one does not (SmolLM2)
    s5, r5, st5 = split_answer(
        "Consider this:\n1. Grow the film.\n   Use sulfur vapour.\n2. Anneal it.\nVacancies donate electrons."
    )
    assert (s5, r5, st5) == (
        "Vacancies donate electrons.",
        MISSING,
        ["Grow the film. Use sulfur vapour.", "Anneal it.", MISSING],
    )
    s4, r4, st4 = split_answer("Only one sentence here.")
    assert (s4, r4, st4) == ("Only one sentence here.", MISSING, [MISSING] * 3)


# ----------------------------------------------------------------------------- variants


def test_variants_are_defined_once_and_unknown_names_give_one_line(refs4, capsys):
    assert list(VARIANTS) == ["raw", "full", "no-contexts", "no-evidence", "no-plan", "no-refine", "synthesis-only"]
    assert all(v.doc for v in VARIANTS.values())
    assert [v.name for v in parse_variants(["raw,full", "raw", " no-refine "])] == ["raw", "full", "no-refine"]
    from hypofinder.settings import RunConfig

    base = RunConfig(model="fake", contexts=2, raw=True)  # a config file's raw = true does not leak into full
    assert get_variant("full").config(base).raw is False and get_variant("raw").config(base).raw is True
    assert get_variant("no-refine").config(base).rounds == 0
    assert cli("eval", "run", refs4, "--model", "fake", "--variant", "raw,bogus") == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "unknown variant 'bogus'" in err and "no-evidence" in err


def test_eval_run_raw_gives_one_context_that_scores_like_the_others(refs4, tmp_path, capsys):
    out = tmp_path / "raw.jsonl"
    assert cli("eval", "run", refs4, "--variant", "raw", "--model", "fake", "--out", out, "--json") == 0
    scores = json.loads(capsys.readouterr().out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4 and {line["variant"] for line in lines} == {"raw"}
    report = Generated.from_record(lines[0]).report
    assert report.run.raw and report.run.llm_calls == 1 and len(report.contexts) == 1
    hyp = report.contexts[0].hypothesis
    assert hyp.statement.startswith("Statement on") and len(hyp.steps) == 3 and "**" not in hyp.steps[0]
    assert scores["variant"] == "raw" and scores["calls_per_report"] == 1.0 and scores["word_budget"] == 150
    for q in scores["per_question"]:  # every metric applies: recall, concepts, junk over its five parts, words
        assert q["scored"] == "context 1" and q["variant"] == "raw" and q["error"] is None
        assert q["text_fields"] == 5 and q["junk_fields"] == 0 and 20 < q["words"] <= 150
        assert q["review_recall"] == []  # nothing was reviewed
    # the same report, given the reference's own words, scores as any other hypothesis would
    ref = read_references(refs4).items[0]
    own = report.contexts[0].model_copy(
        update={"hypothesis": hyp.model_copy(update={"statement": ref.reference_hypothesis})}
    )
    gen = Generated(id=ref.id, report=report.model_copy(update={"contexts": [own]}))
    assert score([ref], {ref.id: gen}).keypoint_recall == 1.0


def test_two_variants_are_compared_question_by_question(refs4, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out, saved = tmp_path / "r.jsonl", tmp_path / "s.jsonl"
    args = ("eval", "run", refs4, "--model", "fake", "--contexts", "2", "--no-cache", "--out", out, "--scores", saved)
    assert cli(*args, "--variants", "raw,full,synthesis-only") == 0
    table = capsys.readouterr().out
    assert all(name in table for name in ("raw", "full", "synthesis-only", "calls/report"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "r.full.jsonl",  # synthesis-only shares full's run
        "r.raw.jsonl",
        "s.full.jsonl",
        "s.raw.jsonl",
        "s.synthesis-only.jsonl",
    ]
    syn = [json.loads(line) for line in (tmp_path / "s.synthesis-only.jsonl").read_text().splitlines()]
    assert {q["scored"] for q in syn} == {"synthesis"}
    assert cli("eval", "compare", tmp_path / "s.raw.jsonl", tmp_path / "s.full.jsonl", "--json") == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["keypoint_recall"]["n"] == 4 and rows["words"]["neutral"]
    assert rows["llm_calls"]["a"] == 1.0 and rows["llm_calls"]["b"] > 3 and rows["llm_calls"]["low"] > 0
    # results files, scored against --refs: the table names each side's variant
    assert cli("eval", "compare", tmp_path / "r.raw.jsonl", tmp_path / "r.full.jsonl", "--refs", refs4) == 0
    table = capsys.readouterr().out
    assert "(raw)" in table and "(full)" in table and "words" in table and "A better" in table
    # a rerun resumes (nothing to mine); a results file of another variant is refused in one line
    assert cli(*args, "--variants", "raw,full", "--json") == 0
    capsys.readouterr()
    assert cli("eval", "run", refs4, "--model", "fake", "--variant", "raw", "--out", tmp_path / "r.full.jsonl") == 2
    assert "holds results of variant 'full', not 'raw'" in capsys.readouterr().err


def test_no_contexts_is_one_generic_role_without_physh():
    from hypofinder.pipeline import HypothesisFinder

    report = HypothesisFinder(model="fake", contexts=3, physh_contexts=False, cache=False).find(
        "How do sulfur vacancies change the band gap of monolayer MoS2?"
    )
    assert len(report.contexts) == 1 and report.contexts[0].concepts[0].label == "Physics"
    assert report.contexts[0].role == "Physicist" and not report.run.raw


# ----------------------------------------------------------------------------- fair scoring


def test_every_hypothesis_is_scored_on_the_same_word_budget():
    ref = read_references(REFS).items[0]
    filler = " ".join(["Thin films of this material were grown on sapphire substrates."] * 20)  # 180 words
    late = Generated(id=ref.id, hypothesis=f"{filler} {ref.reference_hypothesis}")
    cut = score([ref], {ref.id: late}).per_question[0]
    whole = score([ref], {ref.id: late}, words=0).per_question[0]
    assert cut.words == 150 and cut.keypoint_recall == 0.0  # what comes after the budget is not scored
    assert whole.words > 200 and whole.keypoint_recall >= 0.75
    assert budget("a b c d", 2) == "a b" and budget("a b", None) == "a b"


def test_a_served_models_free_text_answer_over_the_openai_protocol(tmp_path):
    from hypofinder.pipeline import HypothesisFinder

    with scripted_server([SERVED_ANSWER]) as (url, requests):
        finder = HypothesisFinder(model="served", base_url=url, raw=True, cache=False)
        report = finder.find("Why is as-grown monolayer MoS2 n-type?")
    assert len(requests) == 1 and "response_format" not in requests[0]  # a plain call: no schema, no grammar
    assert "Here is a research question" in requests[0]["messages"][-1]["content"]
    hyp = report.contexts[0].hypothesis
    assert hyp.summary == SERVED_ANSWER.strip() and hyp.statement.startswith("Sulfur vacancies make")
    gen = Generated(id="q", report=report)
    assert all(prose_problems(f) == [] for f in gen.text_fields())


@pytest.mark.slow
def test_raw_with_the_embedded_model(tmp_path, capsys):
    refs1 = write_jsonl(tmp_path / "refs1.jsonl", REFS.read_text().splitlines()[:1])
    assert cli("eval", "run", refs1, "--variant", "raw", "--model", "local", "--no-cache", "--json") == 0
    q = json.loads(capsys.readouterr().out)["per_question"][0]
    assert q["error"] is None and q["llm_calls"] == 1 and q["words"] > 5 and q["text_fields"] == 5
