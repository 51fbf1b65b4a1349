"""The bridge on the shipped predictor: request -> structures -> predictions -> verdict -> reviewer.

The pipeline tests use the fake LLM (scripted generator answers) with the real ontology and the
real predictor; predictions are checked against `hypofinder defects predict` on written CIFs.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from hypofinder.bridge import build, read_text, validate
from hypofinder.bridge.evidence import fit, judge
from hypofinder.cli import main
from hypofinder.defects import defect_graph, host_info, pristine_supercell
from hypofinder.models import ConfigurationPrediction, ValidationRequest
from hypofinder.pipeline import EVIDENCE_BONUS, HypothesisFinder
from tests.scripted import scripted_model

QUESTION = "Do sulfur vacancy pairs in monolayer MoS2 lower the HOMO-LUMO gap more when they are close together?"
REQUEST = {
    "host": "MoS2",
    "defects": ["vS", "vS"],
    "target": "homo_lumo_gap",
    "variable": "pair_distance",
    "direction": "increases",
}


def hypothesis(
    request: dict | None, statement: str = "Sulfur vacancy pairs close together narrow the MoS2 gap."
) -> dict:
    return {
        "summary": "How close sulfur vacancies in a MoS2 monolayer change its HOMO-LUMO gap.",
        "statement": statement,
        "rationale": "Overlapping defect states of nearby vacancies split further and narrow the gap.",
        "steps": [
            "Build 8x8 supercells with two S vacancies",
            "Predict the gap for each pair distance",
            "Fit the gap against the distance",
        ],
        "validation_request": request,
    }


def cli_predict(capsys, files, host):
    code = main(["defects", "predict", *map(str, files), "--host", host, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


@pytest.fixture(scope="module")
def report_and_prompts():
    # one scripted draft for every context, kept as drafted: no revision, no merging of the identical twins
    with scripted_model({"GeneratedHypothesis": hypothesis(REQUEST)}) as model:
        finder = HypothesisFinder(model, contexts=2, cache=False, rounds=0, tournament=False)
    report = finder.find(QUESTION)
    return report, finder.llm.chat_model.prompts


# ----------------------------------------------------------------------------- the whole path


def test_pipeline_carries_validation_and_predictions_match_cli(report_and_prompts, capsys, tmp_path):
    report, _ = report_and_prompts
    assert len(report.contexts) == 2
    for ctx in report.contexts:
        v = ctx.validation
        assert v is not None and v.request == ValidationRequest(**REQUEST)
        assert v.verdict in ("supported", "contradicted", "inconclusive") and v.summary and v.predictions
        assert ctx.rank_score == pytest.approx(max(0.0, min(100.0, ctx.review.score + EVIDENCE_BONUS[v.verdict])))
    v = report.contexts[0].validation
    configs = build(v.request)
    assert [c.label for c in configs] == [p.label for p in v.predictions]
    files = []
    pristine = pristine_supercell(host_info("MoS2", density="low"))
    for i, c in enumerate(configs):
        g = defect_graph(c.structure, "MoS2")  # re-extract the defects from the structure
        assert Counter(g.tokens) == Counter({"vS": 2}) and g.subset == "low_MoS2"
        assert pristine.get_distance(*map(int, g.site)) == pytest.approx(c.variable_value, abs=1e-3)
        files.append(tmp_path / f"config{i}.cif")
        c.structure.to(filename=str(files[-1]))
    rows = cli_predict(capsys, files, "MoS2")
    for p, r in zip(v.predictions, rows):
        assert r["error"] is None and Counter(r["defects"]) == Counter(p.defects)
        for key in ("homo_lumo_gap", "homo_lumo_gap_std", "formation_energy_per_site", "formation_energy_per_site_std"):
            assert r[key] == pytest.approx(getattr(p, key), abs=1e-9)
        assert r["in_domain"] == p.in_domain
    distances = [p.variable_value for p in v.predictions]
    assert distances == sorted(distances) and distances[-1] - distances[0] > 6  # a spread of distances
    slope = np.polyfit(distances, [p.homo_lumo_gap for p in v.predictions], 1)[0]
    assert v.trend == pytest.approx(slope, rel=1e-6)
    if v.verdict == "supported":
        assert slope > 0 and "rises" in v.summary
    elif v.verdict == "contradicted":
        assert slope < 0 and "falls" in v.summary
    assert f"{distances[0]:.1f}→{distances[-1]:.1f} Å" in v.summary


def test_reviewer_sees_the_evidence_numbers(report_and_prompts):
    report, prompts = report_and_prompts
    reviews = [p for p in prompts if "Predictor evidence:" in p]
    assert len(reviews) == 2
    for ctx in report.contexts:
        v = ctx.validation
        first = v.predictions[0]
        shown = f"{first.label}: Gap {first.homo_lumo_gap:.2f} ± {first.homo_lumo_gap_std:.2f} eV"
        assert any(shown in p and v.summary in p and f"Predictor evidence: {v.verdict}" in p for p in reviews)
    synth = report.synthesis.validation  # the fake synthesizer emits no request: the text decides
    assert synth is not None and synth.verdict in ("out of scope", "inconclusive", "supported", "contradicted")


def test_bad_requests_are_reported_and_the_query_completes():
    bad = [
        {**REQUEST, "host": "graphene", "defects": ["vC", "vC"]},
        {**REQUEST, "defects": ["vSe", "vSe"]},
        {**REQUEST, "defects": ["vS", "vS", "vS"], "arrangement": "clustered", "min_distance": 10.0},
    ]
    with scripted_model({"GeneratedHypothesis": [hypothesis(r) for r in bad]}) as model:
        finder = HypothesisFinder(model, contexts=3, cache=False, rounds=0, tournament=False, plan=False)
    report = finder.find("Which defects in 2D materials narrow the gap?")
    summaries = sorted(c.validation.summary for c in report.contexts)
    assert all(c.validation.verdict == "out of scope" and not c.validation.predictions for c in report.contexts)
    assert any("unknown host 'graphene'" in s for s in summaries)
    assert any("Se is not an element of MoS2" in s for s in summaries)
    assert any("'clustered'" in s and "min_distance 10" in s for s in summaries)
    reviews = [p for p in finder.llm.chat_model.prompts if "Predictor evidence: out of scope" in p]
    assert len(reviews) == 3


def test_hypothesis_about_something_else_is_out_of_scope():
    text = "Magnetic domain walls in ferromagnetic films dominate the magnetoresistance at low temperature."
    with scripted_model(
        {
            "GeneratedHypothesis": {
                **hypothesis(None, text),
                "summary": "Domain-wall scattering in thin ferromagnetic films and its magnetoresistance.",
                "rationale": "Walls narrower than the electron mean free path scatter spin-polarised carriers.",
            }
        }
    ) as model:
        finder = HypothesisFinder(model, contexts=1, cache=False, rounds=0)
    report = finder.find("What sets the magnetoresistance of thin ferromagnetic films?")
    v = report.contexts[0].validation
    assert v.verdict == "out of scope" and v.request is None and not v.predictions
    assert "not about point defects" in v.summary


# ----------------------------------------------------------------------------- validate() directly


@pytest.mark.parametrize(
    "request_, verdict, words",
    [
        ({**REQUEST, "host": "graphene"}, "out of scope", "known hosts are MoS2"),
        ({**REQUEST, "defects": ["vSe", "vS"]}, "out of scope", "Se is not an element of MoS2"),
        ({**REQUEST, "defects": ["Xx_Mo", "vS"]}, "out of scope", "unknown element symbol 'Xx'"),
        ({**REQUEST, "defects": ["S-vacancy", "vS"]}, "out of scope", "bad defect token"),
        ({**REQUEST, "defects": ["vS"]}, "out of scope", "needs at least two defects"),
        ({**REQUEST, "min_distance": 8.0, "max_distance": 4.0}, "out of scope", "min_distance 8 Å > max_distance 4 Å"),
        ({**REQUEST, "min_distance": 20.0}, "out of scope", "possible pair distances"),
        ({**REQUEST, "arrangement": "dispersed", "max_distance": 4.0}, "out of scope", "'dispersed'"),
        ({**REQUEST, "host": "BN", "defects": ["vB", "vN"], "same_layer": False}, "out of scope", "lies in one plane"),
        ({**REQUEST, "claimed_min": 2.0, "claimed_max": 1.0}, "out of scope", "is empty"),
        ({"host": "MoS2", "defects": []}, "out of scope", "malformed request"),
    ],
)
def test_bad_requests_give_a_clear_reason(request_, verdict, words):
    v = validate(request_, "")
    assert v.verdict == verdict and words in v.summary and not v.predictions


def test_more_defects_than_sites_is_out_of_scope():
    req = ValidationRequest.model_construct(
        **{**ValidationRequest(**REQUEST).model_dump(), "defects": ["vMo"] * 70, "variable": "defect_count"}
    )
    v = validate(req)
    assert v.verdict == "out of scope" and "70 defects on Mo sites" in v.summary and "only 64" in v.summary


def test_unseen_substitution_is_predicted_but_out_of_domain():
    v = validate({**REQUEST, "defects": ["Cr_Mo", "vS"]})
    assert v.predictions and not any(p.in_domain for p in v.predictions)
    assert v.verdict == "inconclusive" and "training domain" in v.summary and "Cr_Mo" in v.summary


def test_constraints_shape_the_structures():
    req = ValidationRequest(**{**REQUEST, "same_layer": True, "min_distance": 3.0, "max_distance": 7.0})
    configs = build(req)
    assert 1 < len(configs) <= 12
    pristine = pristine_supercell(host_info("MoS2", density="low"))
    for c in configs:
        g = defect_graph(c.structure, "MoS2")
        assert 3.0 - 1e-6 <= pristine.get_distance(*map(int, g.site)) <= 7.0 + 1e-6
        assert np.sign(g.height).tolist() in ([1.0, 1.0], [-1.0, -1.0])
    req = ValidationRequest(**{**REQUEST, "defects": ["vS", "vS", "vS", "W_Mo"], "arrangement": "clustered"})
    pristine = pristine_supercell(host_info("MoS2", density="high"))
    for c in build(req):
        g = defect_graph(c.structure, "MoS2")
        assert Counter(g.tokens) == Counter({"vS": 3, "W_Mo": 1}) and g.subset == "high_MoS2"
        d = np.array([[pristine.get_distance(int(i), int(j)) if i != j else np.inf for j in g.site] for i in g.site])
        a = float(np.linalg.norm(host_info("MoS2", density="high").unit_lattice[0]))
        assert d.min(1).max() <= 1.5 * a + 1e-3  # every defect has a neighbour within 1.5 a
    counts = build(ValidationRequest(**{**REQUEST, "defects": ["vS"], "variable": "defect_count"}))
    assert sorted({c.variable_value for c in counts}) == [1, 2, 3, 4, 5, 6]
    for c in counts:
        assert defect_graph(c.structure, "MoS2").n_defects == c.variable_value


def test_validate_is_deterministic_and_cif_is_optional():
    a = validate(REQUEST)
    b = validate(REQUEST, include_cif=True)
    assert a.predictions and [p.cif for p in a.predictions] == [None] * len(a.predictions)
    assert [p.model_dump(exclude={"cif"}) for p in a.predictions] == [
        p.model_dump(exclude={"cif"}) for p in b.predictions
    ]
    assert all(defect_graph(p.cif, "MoS2").tokens == ["vS", "vS"] for p in b.predictions)


def test_text_fallback():
    v = validate(None, QUESTION)
    assert v.summary.startswith("no structured request emitted")
    assert v.request == ValidationRequest(**REQUEST) and v.predictions
    assert v.predictions == validate(REQUEST).predictions  # the same numbers as the structured request
    vague = validate(None, "Point defects in MoS2 change everything about its optics.")
    assert vague.verdict == "inconclusive" and vague.summary.startswith("no structured request emitted")
    assert not vague.predictions
    assert validate(None, "Graphene vacancies trap charge.").verdict == "out of scope"
    assert validate(None, "").verdict == "out of scope"
    reading = read_text("A higher concentration of S vacancies lowers the band gap of molybdenum disulfide.")
    assert reading.request.defects == ["vS"] and reading.request.variable == "defect_count"
    assert reading.request.direction == "decreases" and reading.direction_stated
    reading = read_text("W-doped MoS2 with two sulfur vacancies: the gap widens as the vacancies move apart.")
    assert (
        Counter(reading.request.defects) == Counter({"vS": 2, "W_Mo": 1}) and reading.request.direction == "increases"
    )
    reading = read_text("Carbon substituting nitrogen in h-BN has a lower formation energy when clustered.")
    assert reading.host == "BN" and reading.request.defects[0] == "C_N"
    assert reading.request.target == "formation_energy_per_site"


# ----------------------------------------------------------------------------- trend and verdict


def _preds(x, y, std=0.0, in_domain=True):
    return [
        ConfigurationPrediction(
            label=f"c{i}",
            defects=["vS", "vS"],
            variable_value=a,
            formation_energy_per_site=1.0,
            formation_energy_per_site_std=0.0,
            homo_lumo_gap=b,
            homo_lumo_gap_std=std,
            in_domain=in_domain,
        )
        for i, (a, b) in enumerate(zip(x, y))
    ]


def test_fit_and_verdicts():
    x = np.array([3.2, 5.5, 6.4, 8.4, 9.6])
    b, se, a = fit(x, 1.0 + 0.02 * x, np.zeros(5))
    assert b == pytest.approx(0.02) and se == pytest.approx(0.0, abs=1e-12) and a == pytest.approx(1.0)
    _, se_std, _ = fit(x, 1.0 + 0.02 * x, np.full(5, 0.05))
    assert se_std == pytest.approx(0.05 / np.sqrt(((x - x.mean()) ** 2).sum()))
    req = ValidationRequest(**REQUEST)
    rising = _preds(x, 1.0 + 0.02 * x)
    v, text, slope = judge(req, rising)
    assert (
        v == "supported"
        and "rises from 1.06 to 1.19 eV" in text
        and "3.2→9.6 Å" in text
        and slope == pytest.approx(0.02)
    )
    v, text, _ = judge(req.model_copy(update={"direction": "decreases"}), rising)
    assert v == "contradicted" and "contradicts 'decreases'" in text
    v, _, _ = judge(req.model_copy(update={"direction": "no_change"}), rising)
    assert v == "contradicted"
    flat = _preds(x, [1.0, 1.004, 0.998, 1.002, 1.001])
    assert judge(req.model_copy(update={"direction": "no_change"}), flat)[0] == "supported"
    assert judge(req, flat)[0] == "inconclusive"
    noisy = _preds(x, 1.0 + 0.02 * x, std=0.3)
    assert judge(req, noisy)[0] == "inconclusive"
    v, text, _ = judge(req, _preds(x, 1.0 + 0.02 * x, in_domain=False), ["defect types not seen in training: Cr_Mo"])
    assert v == "inconclusive" and "0 of 5" in text and "Cr_Mo" in text
    ranged = req.model_copy(update={"variable": "none", "claimed_min": 0.5, "claimed_max": 0.9})
    v, text, _ = judge(ranged, rising)
    assert v == "contradicted" and "0 of 5" in text
    v, _, _ = judge(ranged.model_copy(update={"claimed_max": 2.0}), rising)
    assert v == "supported"
