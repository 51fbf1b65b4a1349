"""One record per property (``hypofinder.prediction.PropertySpec``): every reader after the predictor asks it.

A toy property registered in a scratch registry walks from the question to the chart with no other edit:
planner -> facts -> verdict -> Markdown -> chart (real planner, real structures, real predictor for the
five trained properties; the toy's numbers are a known function of the defect count)."""

from __future__ import annotations

import json

import pytest

from hypofinder.defects.predictor import DefectPredictor
from hypofinder.prediction import PropertyPrediction, PropertySpec, registry, scratch_registry, spec

TOY = PropertySpec(
    name="toy_hardness",
    title="toy hardness",
    short="H",
    unit="GPa",
    words=r"\bhardness\b",
    fmt=".1f",
    resolution=0.3,
    no_change=1.0,
    hosts=("MoS2",),
)


@pytest.fixture
def toy_predictor(monkeypatch):
    """The real predictor, plus a toy hardness of 10 - 0.5 GPa per defect (± 0.05 GPa)."""
    real = DefectPredictor.load()

    class Toy:
        bundle = real.bundle

        def require(self, subset, target):
            if target != TOY.name:
                real.require(subset, target)

        def predict(self, structures, host=None):
            out = real.predict(structures, host=host)
            return [
                type(r)(**r.model_dump(), toy_hardness=10.0 - 0.5 * len(r.defects), toy_hardness_std=0.05) for r in out
            ]

    monkeypatch.setattr(DefectPredictor, "load", classmethod(lambda cls, *a, **k: Toy()))
    with scratch_registry() as reg:
        reg.add(TOY)
        yield reg


def test_every_trained_property_has_its_record():
    names = registry().names()
    assert names == PropertyPrediction.targets()
    assert spec("magnetization").unit == "μB" and spec("magnetization").label == "Total magnetization (μB)"
    assert all(spec(n).unit == "eV" for n in names if n != "magnetization")
    assert spec("magnetization").carried_by("BN") and not spec("magnetization").carried_by("MoS2")
    assert spec("magnetization").resolution > spec("homo_lumo_gap").resolution  # each in its own unit
    q = {
        "What is the formation energy of S vacancies in MoS2?": "formation_energy_per_site",
        "Does the HOMO-LUMO gap of MoS2 shrink?": "homo_lumo_gap",
        "Where does the HOMO of GaSe go?": "homo",
        "How far below the conduction band does the LUMO sit?": "lumo",
        "Is h-BN magnetic with boron vacancies?": "magnetization",
    }
    assert {k: registry().named_in(k).name for k in q} == q
    with pytest.raises(ValueError, match="unknown property 'toy_hardness'"):
        PropertyPrediction(toy_hardness=1.0)


def test_a_toy_property_walks_from_the_question_to_the_chart(toy_predictor):
    from hypofinder.bridge import gather, plan
    from hypofinder.models import HypothesisReport
    from hypofinder.pipeline import HypothesisFinder
    from hypofinder.render import to_markdown
    from hypofinder.ui.results import evidence_chart, evidence_frame

    q = "Does the toy hardness of monolayer MoS2 decrease as the number of sulfur vacancies grows?"
    e = plan(q)
    assert (e.target, e.property, e.variable, e.direction) == (
        "toy_hardness",
        "toy_hardness",
        "defect_count",
        "decreases",
    )
    assert "toy hardness" in e.reason
    assert "no toy hardness" in " ".join(
        plan(q.replace("MoS2", "WSe2").replace("sulfur", "selenium")).assumptions
    )  # a host without the data

    (fact,) = gather(e).facts
    counts = [p.variable_value for p in fact.predictions]
    assert [p.toy_hardness for p in fact.predictions] == [10.0 - 0.5 * n for n in counts]
    assert fact.verdict == "supported" and fact.trend == pytest.approx(-0.5, abs=0.01)
    assert f"toy hardness falls from {10 - 0.5 * min(counts):.1f} to {10 - 0.5 * max(counts):.1f} GPa" in fact.summary
    assert "GPa per defect" in fact.summary and "formation energy per site" in fact.summary  # the companion, in eV

    report = HypothesisFinder("fake", contexts=1, cache=False, rounds=0, tournament=False).find(q)
    assert HypothesisReport.model_validate_json(report.model_dump_json()) == report  # the extra property travels
    planned = report.contexts[0].evidence
    assert planned.target == "toy_hardness" and planned.facts[0].predictions[0].toy_hardness is not None
    md = to_markdown(report)
    assert "toy hardness falls from" in md and "GPa" in md

    frame = evidence_frame(planned.facts[0])
    assert list(frame["H (GPa)"]) == [p.toy_hardness for p in planned.facts[0].predictions]
    chart = evidence_chart(planned.facts[0]).to_dict()
    dumped = json.dumps(chart, ensure_ascii=False)
    assert "Toy hardness (GPa)" in dumped and chart["title"].startswith("Predicted toy hardness vs number")
    rows = next(iter(chart["datasets"].values()))
    assert [r["y"] for r in rows] == [p.toy_hardness for p in planned.facts[0].predictions]


def test_screen_and_single_configuration_facts_carry_every_property_in_its_unit():
    from hypofinder.bridge import evidence_for

    e = evidence_for("Which arrangement of three boron vacancies in h-BN gives the largest magnetization?")
    (f,) = e.facts
    assert e.kind == "screen" and f.request.target == "magnetization"
    assert all(None not in (p.magnetization, p.homo, p.lumo, p.homo_lumo_gap) for p in f.predictions)  # all five
    best = max(f.predictions, key=lambda p: p.magnetization)
    assert f"highest {best.magnetization:.2f} ± {best.magnetization_std:.2f} μB" in f.summary and " eV" not in f.summary
    for fact in evidence_for("Does carbon doping make hBN magnetic?").facts:  # 3 C per configuration, 20 each
        y = [p.magnetization for p in fact.predictions]
        assert f"total magnetization {min(y):.2f} to {max(y):.2f} μB" in fact.summary
    w, se = evidence_for("Is the HOMO of MoS2 higher with W on Mo sites or with Se on S sites?").facts
    for fact in (w, se):
        (p,) = fact.predictions  # one configuration: value ± uncertainty, in eV
        assert f"HOMO level {p.homo:.2f} ± {p.homo_std:.2f} eV" in fact.summary
