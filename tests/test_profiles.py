"""Capability profiles: the tiny model's crutches for the tiny model only; capable models answer in free prose."""

from __future__ import annotations

import json
import re

import pytest

from hypofinder.llm import resolve
from hypofinder.llm.providers import FakeChatModel
from hypofinder.llm.registry import get
from hypofinder.llm.schemas import response_format, strict, strict_problems
from hypofinder.llm.structured import StructuredLLM
from hypofinder.models import GeneratedHypothesis, ReviewAnswer, SynthesisAnswer
from hypofinder.pipeline import HypothesisFinder
from hypofinder.profiles import PROFILES
from hypofinder.prompts import (
    JudgeAnswer,
    PlainHypothesis,
    PlainRevisedHypothesis,
    PlainSynthesis,
    RevisedHypothesis,
    load_prompt,
)
from hypofinder.proofread import ask_checked, field_problems
from hypofinder.quality import debris_problems, strip_markdown
from hypofinder.settings import RunConfig
from tests.scripted import scripted_model

ANSWERS = [
    GeneratedHypothesis,
    PlainHypothesis,
    RevisedHypothesis,
    PlainRevisedHypothesis,
    ReviewAnswer,
    SynthesisAnswer,
    PlainSynthesis,
    JudgeAnswer,
]
CAPABLE, TINY = PROFILES["capable"], PROFILES["tiny"]

# A capable model's answer: several sentences per field, a 45-word rationale, five steps, units and a comparison.
RICH = {
    "summary": "The question asks how domain walls change the magnetoresistance of a ferromagnetic film. "
    "From a micromagnetic point of view, the wall width and density set the answer.",
    "statement": "In epitaxial Co films, each 180-degree Bloch wall adds about 0.1 percent to the resistivity at 4 K. "
    "The effect should grow as the wall width shrinks below 20 nm.",
    "rationale": "Electrons crossing a wall see a rotating magnetization; when the wall is narrow compared with the "
    "spin precession length, spin mistracking mixes the spin channels. The Levy-Zhang model predicts a resistivity "
    "that scales with the inverse square of the wall width, which a thickness series can test directly.",
    "steps": [
        "Grow Co films of 10 to 50 nm on sapphire by molecular beam epitaxy.",
        "Image the domain pattern with magnetic force microscopy at 4 K.",
        "Measure the resistivity in the multidomain and saturated states.",
        "Simulate the wall profiles with micromagnetic simulations.",
        "Compare the resistivity excess per wall with the Levy-Zhang prediction.",
    ],
    "validation_request": None,
}
MESSAGES = [("system", "You write research hypotheses."), ("user", "Question: How do domain walls change resistance?")]


def _patterns(schema: dict) -> list[str]:
    """Paths of every 'pattern' in a JSON schema, outside the defect request (whose tokens are not prose)."""
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "pattern" and "ValidationRequest" not in path:
                    found.append(path)
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(schema, "$")
    return found


@pytest.mark.parametrize("base", ANSWERS, ids=lambda b: b.__name__)
def test_capable_schemas_carry_no_pattern_and_tiny_ones_do(base):
    assert _patterns(CAPABLE.schema(base, facts=True, subjects=("Domain walls",)).model_json_schema()) == []
    assert _patterns(TINY.schema(base, facts=True, subjects=("Domain walls",)).model_json_schema())


@pytest.mark.parametrize("profile", ["tiny", "capable"])
@pytest.mark.parametrize("base", ANSWERS, ids=lambda b: b.__name__)
def test_every_answer_schema_is_accepted_by_openai_strict_mode(base, profile):
    js = PROFILES[profile].schema(base, facts=True, sources=True).model_json_schema()
    assert strict_problems(js), "the raw pydantic schema breaks strict mode (the check can fail)"
    adapted = response_format("json_schema", PROFILES[profile].schema(base))
    assert adapted["json_schema"]["strict"] is True
    assert strict_problems(adapted["json_schema"]["schema"]) == []
    assert strict_problems(strict(js)) == []


def test_strict_keeps_what_decodes_and_drops_what_it_rejects():
    js = strict(TINY.schema(GeneratedHypothesis).model_json_schema())
    text = json.dumps(js)
    assert '"pattern"' in text and '"maxItems"' in text  # kept: strict mode decodes them
    assert '"default"' not in text and '"minLength"' not in text


def test_a_rich_capable_answer_is_accepted_unflagged_and_the_tiny_profile_flags_it():
    rationale_words = len(RICH["rationale"].split())
    assert rationale_words >= 45
    capable = CAPABLE.schema(PlainHypothesis)
    answer = capable.model_validate(RICH)
    assert field_problems(answer, source="\n".join(t for _, t in MESSAGES)) == {}
    llm = StructuredLLM(
        resolve("fake"), FakeChatModel(responses={"GeneratedHypothesis": [RICH]}), temperature=0, seed=0
    )
    _, flags = ask_checked(llm, MESSAGES, capable, max_tokens=1500, task="g")
    assert flags == {} and llm.chat_model.calls == 1
    # the tiny profile: five steps do not validate, and with three steps the multi-sentence fields are flagged
    with pytest.raises(ValueError):
        TINY.schema(PlainHypothesis).model_validate(RICH)
    three = TINY.schema(PlainHypothesis).model_validate({**RICH, "steps": RICH["steps"][:3]})
    tiny_flags = field_problems(three, source="")
    assert {"summary", "statement", "rationale"} <= set(tiny_flags)


def _rich_from_plan(prompt: str) -> dict:
    """A capable model's answer built on the planned facts it was shown ([Y1] system, [P1] property, [T1]...)."""
    facts = dict(re.findall(r"^\[([YPT]\d)\] (.+?) \(", prompt, re.M))
    techniques = [label for fid, label in facts.items() if fid.startswith("T")]
    subject = " and ".join(label for fid, label in facts.items() if fid[0] in "YP") or "cobalt films"
    steps = [
        f"Use {techniques[i % len(techniques)].lower()} on film {i + 1} to measure the resistivity excess per wall. "
        "Repeat it at 4 K and 300 K."
        for i in range(5)
    ]
    return {**RICH, "statement": f"In {subject}, each wall adds resistance. {RICH['statement']}", "steps": steps}


def test_capable_run_through_the_pipeline_keeps_rich_text_and_takes_up_to_six_steps():
    with scripted_model({"GeneratedHypothesis": _rich_from_plan}) as name:
        finder = HypothesisFinder(name, capability="capable", contexts=1, cache=False, validate=False, rounds=0)
        report = finder.find("How do domain walls change the electrical resistivity of ferromagnets?")
    r = report.contexts[0]
    h, techniques = r.hypothesis, [f.label for f in r.plan.techniques]
    assert r.plan.systems and r.plan.properties and len(techniques) >= 2, r.plan
    assert report.run.capability == "capable" and h.quality_flags == {}, h.quality_flags
    assert len(h.steps) == 5 and h.rationale == RICH["rationale"] and h.steps[0].count(".") == 2
    assert 3 <= len(report.synthesis.steps) <= 6
    # the score follows what can be checked: every planned fact used, a quantity and a direction stated
    assert r.review.checks["specificity"] == 100 and r.review.checks["testability"] >= 70
    assert r.review.model_score is not None and r.review.score == round(sum(dict(r.review.rubric).values()) / 4)


def test_a_step_without_a_planned_technique_is_re_asked_then_flagged():
    with scripted_model({"GeneratedHypothesis": RICH}) as name:
        finder = HypothesisFinder(name, capability="capable", contexts=1, cache=False, validate=False, rounds=0)
        report = finder.find("How do domain walls change the electrical resistivity of ferromagnets?")
    flags = report.contexts[0].hypothesis.quality_flags
    assert flags["steps[0]"] == ["names no planned technique"]
    assert report.contexts[0].review.checks["specificity"] < 100


def test_prompts_differ_by_profile_and_only_the_tiny_one_has_a_structural_example():
    values = dict(role="Physicist", framework="Condensed Matter", concept="Domain walls", query="Why?")
    tiny = "\n".join(t for _, t in load_prompt("generator").messages("tiny", **values))
    capable = "\n".join(t for _, t in load_prompt("generator").messages("capable", **values))
    assert "placeholders" in tiny and "one plain sentence" in tiny
    assert "placeholder" not in capable and "falsify" in capable and "units" in capable


def test_refinement_follows_the_capability_unless_the_run_or_provider_says_otherwise():
    tiny, capable = TINY.model_dump(), CAPABLE.model_dump()
    assert (
        get("local").profile == "tiny" and get("openai").profile == "capable" and get("qwen-0.5b").profile == "capable"
    )
    assert RunConfig().refinement(tiny, get("local").options) == (0, False)
    assert RunConfig().refinement(capable, get("openai").options) == (1, True)
    assert RunConfig(rounds=2).refinement(tiny, {}) == (2, False)
    assert RunConfig().refinement(tiny, get("fake").options) == (1, True)  # the debug model runs every stage
    assert HypothesisFinder("fake", capability="capable").profile.name == "capable"
    # a served model the registry knows keeps its capability; an unknown served model is capable
    assert resolve("smollm2", "http://127.0.0.1:9/v1").capability == "tiny"
    assert resolve("qwen2.5-coder-1.5b", "http://127.0.0.1:9/v1").capability == "capable"
    assert resolve("some-served-model", "http://127.0.0.1:9/v1").capability == "capable"


def test_markdown_is_formatting_not_junk_but_json_debris_still_is():
    md = "## Hypothesis\n- **MoS2** with *sulfur vacancies* has a `smaller` gap than the pristine layer."
    assert strip_markdown(md).startswith("Hypothesis: MoS2 with sulfur vacancies has a smaller gap")
    assert debris_problems(md) == []
    assert debris_problems('The gap is {"value": 1.2} eV.') == ["JSON or bracket debris"]
    assert debris_problems("") == ["empty"]
    assert debris_problems("x < 0.1 and |m| grows with T") == []


def test_a_re_ask_with_fewer_steps_keeps_the_first_answers_extra_steps_flagged():
    first = {**RICH, "steps": [*RICH["steps"][:4], "{your name}"]}
    second = {**RICH, "steps": RICH["steps"][:3]}
    schema = CAPABLE.schema(PlainHypothesis)
    llm = StructuredLLM(
        resolve("fake"), FakeChatModel(responses={"GeneratedHypothesis": [first, second]}), temperature=0, seed=0
    )
    answer, flags = ask_checked(llm, MESSAGES, schema, max_tokens=1500, task="g")
    assert llm.chat_model.calls == 2 and answer.steps[4] == "{your name}"
    assert flags == {"steps[4]": ["JSON or bracket debris"]}
