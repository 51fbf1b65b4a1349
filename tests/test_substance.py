"""Substance: the PhySH plan, the copy check, the claim openings and the computed review score."""

from __future__ import annotations

import re

from hypofinder.models import (
    CitationFlag,
    Evidence,
    GeneratedHypothesis,
    Hypothesis,
    Plan,
    PlanFact,
    Review,
    Rubric,
    Validation,
)
from hypofinder.ontology.plan import EXPERIMENTAL, THEORETICAL, names, plan_for
from hypofinder.prompts import constrained, load_prompt, plan_checks, plan_claims
from hypofinder.quality import copied_run
from hypofinder.scoring import scored


def _fact(fid: str, kind: str, label: str) -> PlanFact:
    return PlanFact(id=fid, kind=kind, label=label, concept_id="x", facet="f")


PLAN = Plan(
    systems=[_fact("Y1", "system", "Ferromagnets")],
    properties=[_fact("P1", "property", "Electrical conductivity")],
    techniques=[
        _fact("T1", "technique", "Resistivity measurements"),
        _fact("T2", "technique", "Micromagnetic modeling"),
    ],
)
GOOD = Hypothesis(
    summary="Domain walls scatter conduction electrons in ferromagnets.",
    statement="The electrical conductivity of ferromagnets decreases by 1 percent per domain wall at 4 K.",
    rationale="Spin mistracking across the wall mixes the spin channels.",
    steps=[
        "Use resistivity measurements on Co films with and without walls.",
        "Use micromagnetic modeling to count the walls.",
        "Use resistivity measurements again after saturating the film.",
    ],
)
VAGUE = GOOD.model_copy(update={"statement": "Walls matter.", "steps": ["Look at it.", "Think.", "Write it up."]})
REVIEW = Review(
    text="Its strength is clear.",
    rubric=Rubric(novelty=50, plausibility=50, testability=50, specificity=50),
    score=95,
)


def test_the_plan_picks_system_quantity_and_mixed_techniques_from_physh():
    plan = plan_for("Why do domain walls in ferromagnets increase electrical resistivity?", "Domain walls")
    assert [f.label for f in plan.systems] == ["Ferromagnets"]
    assert plan.properties and names("electrical resistivity conductivity", plan.properties[0].label)
    facets = {f.facet for f in plan.techniques}
    assert 2 <= len(plan.techniques) <= 3 and facets & set(EXPERIMENTAL) and facets & set(THEORETICAL)
    assert [f.id for f in plan.facts] == ["Y1", "P1", *(f"T{i}" for i in range(1, len(plan.techniques) + 1))]
    # the property is a measurable quantity the question names, not another word of it ("vacancies")
    gap = plan_for("How do sulfur vacancies change the band gap of monolayer MoS2?", "Vacancies")
    assert gap.properties[0].label == "Band gap"


def test_copy_check_catches_the_prompts_own_text_but_not_the_question():
    prompt = load_prompt("generator").messages("tiny", role="Physicist", framework="CMP", concept="Domain walls",
                                               query="Why do domain walls in iron raise resistivity?")  # fmt: skip
    source = "\n".join(t for _, t in prompt)
    assert copied_run("Write every field as one plain sentence about iron.", source, prompt.literals)
    assert copied_run("Why do domain walls in iron raise resistivity so much.", source, prompt.literals) is None


def test_claim_openings_follow_the_evidence_direction_and_the_grammar_admits_only_them():
    falling = Evidence(in_scope=True, reason="r", host="MoS2", target="homo_lumo_gap",
                       facts=[Validation(verdict="supported", summary="s", trend=-0.13)])  # fmt: skip
    assert plan_claims(PLAN, falling) == ("The HOMO-LUMO gap of MoS2 decreases", "The HOMO-LUMO gap of MoS2 falls")
    rising = falling.model_copy(update={"facts": [Validation(verdict="supported", summary="s", trend=0.2)]})
    assert all(c.endswith(("increases", "rises")) for c in plan_claims(PLAN, rising))
    claims = plan_claims(PLAN)
    assert "The electrical conductivity of ferromagnets decreases" in claims
    pattern = constrained(GeneratedHypothesis, subjects=("Domain walls",), claims=claims).model_json_schema()
    statement = pattern["properties"]["statement"]["pattern"]
    assert re.match(statement, GOOD.statement)
    assert not re.match(statement, "Domain walls raise the resistivity of iron films at low temperature.")
    assert plan_claims(Plan()) == ()  # no planned property: the statement opens with its concept


def test_the_score_is_computed_from_the_rubric_and_the_checks():
    good = scored(REVIEW, GOOD, plan=PLAN, validation=None, weight=0.2)
    assert good.checks["specificity"] == 100 and good.checks["testability"] == 100
    assert good.model_score == 95 and good.model_rubric == REVIEW.rubric
    assert good.score == round(sum(dict(good.rubric).values()) / 4)
    vague = scored(REVIEW, VAGUE, plan=PLAN, validation=None, weight=0.2)
    assert vague.score < good.score and vague.checks["specificity"] == 0
    contradicted = Validation(verdict="contradicted", summary="s", request=None, predictions=[])
    assert not contradicted.applies  # no numbers, no request: the predictor had nothing to say
    flag = CitationFlag(ref="S1", sentence="x", problem="unknown source")
    assert (
        scored(REVIEW, GOOD, plan=PLAN, validation=None, weight=0.2, citation_flags=[flag]).checks["plausibility"] == 30
    )
    # the model's own rubric weighs more for capable models
    assert scored(REVIEW, VAGUE, plan=PLAN, validation=None, weight=0.5).score > vague.score


def test_plan_checks_name_what_a_step_and_a_statement_must_mention():
    checks = plan_checks(PLAN)
    assert checks["steps"][0] == ("Resistivity measurements", "Micromagnetic modeling")
    assert "Ferromagnets" in checks["statement"][0] and plan_checks(None) == {}
