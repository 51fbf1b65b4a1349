"""The evidence planner: question -> defect space -> predictor facts before generation (real predictor)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hypofinder.bridge import (
    evidence_for,
    for_context,
    gather,
    plan,
    prompt_block,
    validate,
)
from hypofinder.defects.screening import screen

QUESTIONS = [
    json.loads(x)
    for x in (Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "planner_questions.jsonl")
    .read_text()
    .splitlines()
    if x.strip()
]
SEED = (
    "How can I model a material properties like magnetic resistivity and electronic bands that depend on material "
    "atomic structure as well as higher-level mesoscopic configuration like phase domains and its walls in a "
    "unified holistic way."
)
HOSTS = re.compile(r"MoS2|WSe2|h-BN|\bBN\b|GaSe|InSe|phosph", re.IGNORECASE)


@pytest.mark.parametrize("row", QUESTIONS, ids=[r["id"] for r in QUESTIONS])
def test_plan_reads_host_species_and_property(row):
    e = plan(row["query"])
    assert e.in_scope == row["numbers"], e.reason
    if row["numbers"]:
        assert (e.host, sorted(e.species), e.property) == (row["host"], sorted(row["species"]), row["property"])
    else:
        assert e.reason and not e.species or e.host, e


def test_ambiguous_words_are_read_and_the_reading_is_said():
    e = plan("How do vacancies change the band gap of MoS2?")
    assert e.species == ["vS"] and any("vS" in a for a in e.assumptions)
    e = plan("Does carbon doping make hBN magnetic?")
    assert e.species == ["C_B", "C_N"] and e.kind == "comparison" and e.copies == 3
    said = " ".join(e.assumptions)
    assert "B or N sites" in said and "fewest" in said
    assert e.target == "magnetization"  # the predictor offers magnetization for the spin-polarised hosts
    e = plan("Do sulfur vacancy pairs in monolayer MoS2 lower the HOMO-LUMO gap more when they are close together?")
    assert (e.variable, e.direction, e.copies) == ("pair_distance", "increases", 2)
    assert plan("Does the gap of MoS2 rise or fall as S vacancies accumulate?").direction is None


@pytest.mark.parametrize(
    "question, words",
    [
        ("Do oxygen vacancies in SrTiO3 lower the band gap?", "SrTiO3"),
        ("Do sulfur vacancies in bulk MoS2 crystals lower the gap?", "monolayers"),
        ("How do Li interstitials change the gap of MoS2?", "interstitials"),
        ("Does rhenium doping on Mo sites make MoS2 metallic?", "Re_Mo"),
        (SEED, "not about point defects"),
    ],
)
def test_no_numbers_with_the_reason(question, words):
    e = evidence_for(question)
    assert not e.in_scope and not e.facts and words in e.reason
    assert prompt_block(e) == ""


def test_trend_fact_is_the_bridge_request_judged_against_the_question():
    q = "Do sulfur vacancy pairs in monolayer MoS2 lower the HOMO-LUMO gap more when they are close together?"
    e = evidence_for(q)
    assert len(e.facts) == 1
    f = e.facts[0]
    assert f.request.host == "MoS2" and f.request.defects == ["vS", "vS"] and f.request.variable == "pair_distance"
    direct = validate(f.request.model_dump())
    assert [p.homo_lumo_gap for p in f.predictions] == [p.homo_lumo_gap for p in direct.predictions]
    assert f.verdict == direct.verdict and f.verdict in ("supported", "contradicted")
    block = prompt_block(e)
    assert block.startswith("Predictor evidence") and "[E1] vS+vS in MoS2" in block and "[E2]" not in block
    assert f.verdict in e.summary
    assert evidence_for(q) is e  # planned and predicted once per question


def test_comparison_and_layer_and_count_plans_give_one_fact_each():
    e = evidence_for("Is W on Mo sites in MoS2 more stable than Se on S sites?")
    assert [f.request.defects for f in e.facts] == [["W_Mo"], ["Se_S"]]
    assert all(len(f.predictions) == 1 and f.predictions[0].in_domain for f in e.facts)
    assert "formation energy per site" in e.facts[0].summary.split(":")[1][:30]
    e = evidence_for("Do two S vacancies on the same sulfur layer of MoS2 reduce the gap more than on opposite layers?")
    assert [f.request.same_layer for f in e.facts] == [True, False]
    assert all(all(p.defects == ["vS", "vS"] for p in f.predictions) for f in e.facts)
    e = evidence_for("How does the number of nitrogen vacancies affect the gap of hBN?")
    (f,) = e.facts
    assert f.request.variable == "defect_count" and f.request.defects == ["vN"] and f.trend is not None
    assert sorted({p.variable_value for p in f.predictions}) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_screen_fact_keeps_the_best_and_worst_arrangements():
    e = evidence_for("Which arrangement of three sulfur vacancies in monolayer MoS2 gives the smallest HOMO-LUMO gap?")
    (f,) = e.facts
    assert e.kind == "screen" and f.request.defects == ["vS"] * 3
    best = screen("MoS2", "vS,vS,vS", limit=1, with_cif=False).best[0]
    lows = [p for p in f.predictions if p.label.startswith("lowest")]
    highs = [p for p in f.predictions if p.label.startswith("highest")]
    assert lows[0].homo_lumo_gap == pytest.approx(best.homo_lumo_gap) and highs[0].homo_lumo_gap > lows[0].homo_lumo_gap
    assert f"{best.homo_lumo_gap:.2f}" in f.summary


def test_context_concept_chooses_the_property_only_when_the_question_does_not():
    e = evidence_for("What happens to GaSe with point defects?")
    assert e.property is None and e.target == "homo_lumo_gap" and len(e.facts) == 4
    c = for_context(e, "Thermodynamic stability")
    assert c.target == "formation_energy_per_site" and c.facts[0].request.target == "formation_energy_per_site"
    assert c.facts[0].predictions == e.facts[0].predictions  # no new predictions
    named = evidence_for("How does the number of nitrogen vacancies affect the gap of hBN?")
    assert for_context(named, "Thermodynamic stability") is named


def test_gather_never_raises_and_off_topic_prompt_has_no_defect_talk():
    e = plan("How does the number of nitrogen vacancies affect the gap of hBN?")
    broken = e.model_copy(update={"species": ["vXx"]})
    out = gather(broken)
    assert not out.facts and out.summary.startswith("no predictor numbers")
    off = evidence_for(SEED)
    assert not HOSTS.search(off.reason + off.summary + prompt_block(off))


# ----------------------------------------------------------------------------- in the pipeline (fake LLM, real rest)
def _finder():
    from hypofinder.pipeline import HypothesisFinder

    return HypothesisFinder("fake", contexts=2, cache=False, rounds=0, tournament=False)


def test_pipeline_gives_every_context_the_planned_numbers_before_generation():
    from hypofinder.render import to_markdown

    q = "Does indium substitution for gallium lower the gap of gallium selenide?"
    finder = _finder()
    report = finder.find(q)
    gens = [
        p for p in finder.llm.chat_model.prompts if p.startswith("You write research hypotheses") and "Concept:" in p
    ]
    assert len(gens) == 2 and all("[E1] " in p and '"validation_request"' in p for p in gens)
    for ctx in report.contexts:
        e = ctx.evidence
        assert e is not None and e.facts and e.host == "GaSe" and e.species == ["In_Ga"]
        assert all(f.request.host == "GaSe" and set(f.request.defects) == {"In_Ga"} and f.predictions for f in e.facts)
        assert ctx.validation is not None  # the claim check stays
    assert report.run.step_seconds["evidence"] >= 0
    md = to_markdown(report)
    assert md.index("Planned evidence:") < md.index("**Hypothesis.**") and "[E1] In_Ga" in md
    assert '"evidence"' in report.model_dump_json()


def test_off_topic_question_prompts_and_report_never_mention_the_hosts():
    finder = _finder()
    report = finder.find(SEED)
    assert all(c.evidence is not None and not c.evidence.facts for c in report.contexts)
    prompts = finder.llm.chat_model.prompts
    assert len(prompts) >= 5 and not [p for p in prompts if HOSTS.search(p)]  # drafts, reviews, revisions, votes
    assert not HOSTS.search(report.model_dump_json()), HOSTS.search(report.model_dump_json())
    assert all(c.hypothesis.validation_request is None for c in report.contexts)
    # the verdict stays in the JSON; the reading carries no defect talk
    from hypofinder.render import to_markdown

    assert all(c.validation.verdict == "out of scope" for c in report.contexts)
    assert "point defects" not in to_markdown(report) and "Evidence:" not in to_markdown(report)


def test_no_validate_means_no_planned_evidence():
    from hypofinder.pipeline import HypothesisFinder

    report = HypothesisFinder("fake", contexts=1, cache=False, validate=False).find(
        "Do selenium vacancies in InSe reduce its HOMO-LUMO gap?"
    )
    assert report.contexts[0].evidence is None and report.contexts[0].validation is None


def test_app_shows_the_planned_table_and_plot_before_the_hypothesis():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from hypofinder.ui.common import FAKE_CHOICE

    report = _finder().find("How does the number of nitrogen vacancies affect the gap of hBN?")
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.session_state["hf_history"] = [{"report": report, "when": "12:00:00", "model": FAKE_CHOICE}]
    at.session_state["hf_open"] = 0
    at.run()
    assert not at.exception and not at.error
    fact = report.contexts[0].evidence.facts[0]
    planned = [e for e in at.expander if e.label.startswith("Planned evidence")]
    assert len(planned) == 2 and planned[0].label == "Planned evidence: 1 predictor fact given to the generator"
    tables = [d.value for d in at.dataframe if "Planned configuration" in d.value.columns]
    assert list(tables[0]["Planned configuration"]) == [p.label for p in fact.predictions]
    assert list(tables[0]["Fact"].unique()) == ["E1"]
    assert len(at.get("vega_lite_chart")) >= 2
    text = "\n".join(m.value for m in at.markdown)
    assert text.index(fact.summary) < text.index("**Hypothesis.**")


@pytest.mark.parametrize(
    "text, host, defects, target",
    [
        (
            "Replacing tungsten by molybdenum in WSe2 lowers the LUMO as more dopants are added.",
            "WSe2",
            ["Mo_W"],
            "lumo",
        ),
        ("In GaSe, the HOMO rises as gallium is replaced by indium.", "GaSe", ["In_Ga"], "homo"),
        ("Nitrogen in place of phosphorus makes black phosphorus magnetic.", "P", ["N_P"], "magnetization"),
        ("Sulfur vacancies in MoS2 make it magnetic.", "MoS2", ["vS"], "homo_lumo_gap"),  # no spin data for MoS2
    ],
)
def test_hypothesis_text_reads_substitution_phrasings_and_the_property(text, host, defects, target):
    from hypofinder.bridge import read_text

    r = read_text(text)
    assert r.in_scope and r.request is not None, r.reason
    assert (r.request.host, r.request.defects, r.request.target) == (host, defects, target)
