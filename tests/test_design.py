"""Inverse design on the shipped predictor: the Pareto front, exhaustive vs optimised search (oracle), the
ranking rule for the training domain, the CIF round trip through ``defects predict`` and every bad input."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest

from hypofinder.cli import main
from hypofinder.defects.design import design, pareto_front
from hypofinder.defects.design_space import DesignSpace, Evaluator, host_species, target_range
from hypofinder.defects.predictor import DefectPredictor

SPACE = {"host": "MoS2", "counts": "1-2"}  # 4 + 10 compositions, a few hundred distinct configurations


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _dominated(F, i) -> bool:
    return any((F[j] <= F[i]).all() and (F[j] < F[i]).any() for j in range(len(F)) if j != i)


def test_pareto_front_of_a_hand_built_set():
    F = np.array(
        [
            [1.0, 1.0, 1.0],  # front
            [2.0, 2.0, 2.0],  # dominated by 0
            [0.0, 5.0, 1.0],  # front (best first objective)
            [1.0, 1.0, 2.0],  # dominated by 0 (equal in two, worse in one)
            [5.0, 0.0, 0.0],  # front
            [1.0, 1.0, 1.0],  # a copy of 0: not dominated by it
        ]
    )
    assert pareto_front(F).tolist() == [0, 2, 4, 5]
    rng = np.random.default_rng(3)
    R = rng.integers(0, 6, size=(200, 3)).astype(float)  # many ties
    assert pareto_front(R).tolist() == [i for i in range(len(R)) if not _dominated(R, i)]


@pytest.fixture(scope="module")
def every():
    """The exhaustive run of the small space."""
    return design(**SPACE, target="homo_lumo_gap", value=1.0, budget=5000, limit=100, with_cif=False)


@pytest.fixture(scope="module")
def all_gaps(every):
    """The gap of every distinct configuration of the small space (the oracle's table)."""
    from hypofinder.defects.design import _enumerate

    ev = Evaluator(DefectPredictor.load())
    ev.evaluate(_enumerate(DesignSpace("MoS2", tuple(every.species), (1, 2)), 5000))
    assert ev.calls == every.n_space
    return {round(float(g), 9) for g in ev.column("homo_lumo_gap")}


def test_exhaustive_covers_every_distinct_configuration(every):
    assert every.method == "exhaustive" and every.calls == every.n_space
    space = DesignSpace("MoS2", tuple(every.species), (1, 2))
    n = sum(1 for _ in space.compositions())
    assert n == 4 + 10 and every.n_space > 100
    ev = Evaluator(DefectPredictor.load())  # random vectors only ever land on configurations of the enumeration
    idx = ev.evaluate(space.decode(np.random.default_rng(0).random((400, space.dim))))
    assert None not in idx and ev.calls <= every.n_space


@pytest.mark.parametrize("goal", [{"value": 1.0}, {"maximize": True}, {"maximize": False}])
def test_optimised_search_agrees_with_exhaustive(all_gaps, goal):
    ex = design(**SPACE, target="homo_lumo_gap", **goal, budget=5000, limit=100, with_cif=False)
    assert ex.method == "exhaustive"
    opt = design(**SPACE, target="homo_lumo_gap", **goal, budget=ex.n_space, limit=5, method="nsga2", with_cif=False)
    assert opt.method == "nsga2" and opt.calls <= ex.n_space
    ex_best, opt_best = ex.best[0], opt.best[0]
    assert opt_best.score >= ex_best.score - 1e-12  # nothing better than the true optimum
    assert opt_best.score == pytest.approx(ex_best.score, abs=1e-9) or (
        "value" in goal and opt_best.within_tolerance and ex_best.within_tolerance
    )
    assert {round(c.homo_lumo_gap, 9) for c in opt.best + opt.pareto} <= all_gaps  # same predictions
    if "value" in goal:
        assert opt.first_hit is not None and opt.first_hit <= opt.calls
    else:
        assert opt_best.homo_lumo_gap == pytest.approx(max(all_gaps) if goal["maximize"] else min(all_gaps), abs=1e-9)


def test_ranking_and_front_keep_the_training_domain_first():
    res = design(
        "MoS2", "homo_lumo_gap", value=1.2, counts="2-5", density="high", budget=100, limit=100, method="random"
    )
    flags = [c.in_domain for c in res.best]
    assert len(flags) == res.calls == 100  # every record ranked
    assert any(flags) and not all(flags)  # 2-3 defects lie below high_MoS2's trained 4-24
    assert flags == sorted(flags, reverse=True)
    assert res.pareto and all(c.in_domain for c in res.pareto)
    for c in res.best:  # the reason, as defects predict gives it
        assert bool(c.domain_notes) == (not c.in_domain)
        assert c.in_domain or any("outside the trained 4-24" in n for n in c.domain_notes)
    for c in res.best:
        lo, hi = c.interval
        assert lo < c.homo_lumo_gap < hi and hi - lo == pytest.approx(4 * c.homo_lumo_gap_std)
        assert sum(c.composition.values()) == len(c.defects) == len(c.sites)
    F = np.array([[c.score, c.formation_energy_per_site, c.homo_lumo_gap_std] for c in res.pareto])
    assert all(not _dominated(F, i) for i in range(len(F)))


def test_cif_round_trip_through_defects_predict(tmp_path, capsys):
    out = tmp_path / "cifs"
    code, stdout, err = _run(
        capsys,
        "defects",
        "design",
        "--host",
        "WSe2",
        "--target",
        "homo_lumo_gap=1.1",
        "--defects",
        "2-4",
        "--budget",
        "300",
        "--limit",
        "6",
        "--json",
        "--cif-dir",
        str(out),
    )
    assert code == 0, err
    res = json.loads(stdout)
    cands = {c["cif_path"]: c for c in res["best"] + res["pareto"]}
    assert len(list(out.glob("*.cif"))) == len(cands) >= 6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the temp folder is gone
    code, stdout, err = _run(capsys, "defects", "predict", *cands, "--host", "WSe2", "--json")
    assert code == 0, err
    preds = json.loads(stdout)
    assert len(preds) == len(cands)
    for p in preds:
        c = cands[p["file"]]
        assert p["error"] is None and p["subset"] == c["subset"] and p["in_domain"] == c["in_domain"]
        assert sorted(p["defects"]) == sorted(c["defects"])
        for k in ("formation_energy_per_site", "homo_lumo_gap", "homo", "lumo"):
            assert p[k] == pytest.approx(c[k], abs=1e-9) and p[k + "_std"] == pytest.approx(c[k + "_std"], abs=1e-9)


def test_labelled_structures_encode_to_vectors_that_decode_back():
    """The warm start's encoding is the decoder's inverse on every labelled structure of the space."""
    pred = DefectPredictor.load()
    space = DesignSpace("MoS2", host_species("MoS2", pred), (1, 3), "low")
    known = space.library("homo_lumo_gap")
    assert len(known) > 1000 and all(1 <= k <= 3 for k, *_ in known)
    configs = [space.config(*row[:3]) for row in known[::5]]
    back = space.decode(np.array([space.encode(c) for c in configs]))
    ev = Evaluator(pred)
    assert all(b is not None and ev.key(b) == ev.key(c) for b, c in zip(back, configs))
    assert len(space.library("homo_lumo_gap", {"low_MoS2": np.arange(10)})) <= 10  # a held-out run's rows


def test_warm_start_opens_with_the_labelled_structures_nearest_the_target():
    space = DesignSpace("MoS2", host_species("MoS2", DefectPredictor.load()), (1, 3), "low")
    value = sorted(y for *_, y in space.library("homo_lumo_gap"))[2000]  # a DFT gap of the data
    kw = dict(host="MoS2", target="homo_lumo_gap", value=value, tolerance=0.02, counts="1-3", density="low")
    kw |= dict(budget=300, method="ga", with_cif=False)
    warm, cold = design(**kw, warm_start=64), design(**kw, warm_start=0)
    assert warm.first_hit == 1 and warm.best[0].within_tolerance  # the nearest labelled structure, predicted
    assert cold.first_hit is None or cold.first_hit >= warm.first_hit
    hits = [c for c in warm.best if c.within_tolerance]
    assert hits and min(c.found_at for c in hits) <= 64  # found in the first population


def test_target_range_is_the_dft_range():
    lo, hi = target_range("MoS2", "homo_lumo_gap")
    assert 0.0 <= lo < 0.5 < 1.2 < hi < 2.5


BAD = [
    (["--target", "homo_lumo_gap=1.2", "--species", "vS,C_S"], "not a 2DMD defect species"),
    (["--target", "homo_lumo_gap=1.2", "--species", "vX"], "not a 2DMD defect species"),
    (["--target", "homo_lumo_gap=9"], "outside what the predictor covers"),
    (["--target", "homo_lumo_gap=-3"], "outside what the predictor covers"),
    (["--target", "magnetization=1"], "no total magnetization prediction"),
    (["--target", "band=1"], "unknown target"),
    (["--target", "homo_lumo_gap"], "bad --target"),
    (["--target", "homo_lumo_gap=1.2", "--budget", "0"], "budget must be"),
    (["--target", "homo_lumo_gap=1.2", "--defects", "5-2"], "impossible defect count range"),
    (["--target", "homo_lumo_gap=1.2", "--defects", "0-3"], "impossible defect count range"),
    (["--target", "homo_lumo_gap=1.2", "--defects", "30"], "impossible defect count range"),
    (["--target", "homo_lumo_gap=1.2", "--defects", "a-b"], "bad defect count range"),
    (["--target", "homo_lumo_gap=1.2", "--maximize", "homo"], "exactly one of"),
    (["--target", "homo_lumo_gap=1.2", "--density", "medium"], "density must be"),
    (["--target", "homo_lumo_gap=1.2", "--method", "exhaustive", "--budget", "10"], "does not fit a budget"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "cifs"
    code, stdout, err = _run(capsys, "defects", "design", "--host", "MoS2", *args, "--cif-dir", str(out))
    assert code != 0 and stdout == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_compositions_are_every_multiset():
    space = DesignSpace("BN", ("vB", "vN", "C_B"), (3, 4))
    comps = list(space.compositions())
    want = {(k, tuple(sorted(c))) for k in (3, 4) for c in product(("vB", "vN", "C_B"), repeat=k)}
    assert {(k, tuple(sorted(t))) for k, t in comps} == want and len(comps) == len(want)


@pytest.mark.slow
def test_ray_engine_predicts_on_actors_and_agrees_with_local(capsys):
    from hypofinder.defects.remote import MIN_PART, RayPredictor
    from hypofinder.mining.engines import start_ray

    kw = dict(target="homo_lumo_gap", value=1.0, species="vS,W_Mo", counts="3", budget=20000, limit=20)
    local = design("MoS2", **kw, with_cif=False)
    assert local.method == "exhaustive" and local.n_space > 2 * MIN_PART
    ray, started = start_ray(2, None)
    remote = RayPredictor(ray, 2)
    try:
        res = design("MoS2", **kw, with_cif=False, predictor=remote)
        assert remote.remote_graphs == res.calls == local.calls  # every prediction made by the actors
        remote.close()  # its actors hold the local Ray's 2 CPUs; the CLI starts its own
        argv = ["--host", "MoS2", "--target", "homo_lumo_gap=1.0", "--species", "vS,W_Mo", "--defects", "3"]
        code, out, err = _run(capsys, "defects", "design", *argv, "--budget", "20000", "--engine", "ray", "--json")
        assert code == 0, err
        assert [c["label"] for c in json.loads(out)["best"]] == [c.label for c in local.best[:10]]
    finally:
        remote.close()
        if started:
            ray.shutdown()
    assert [c.label for c in res.best] == [c.label for c in local.best]
    for a, b in zip(res.best, local.best):
        assert a.homo_lumo_gap == pytest.approx(b.homo_lumo_gap, abs=1e-12) and a.in_domain == b.in_domain


def test_design_page_runs_and_shows_the_candidates():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("hypofinder/ui/pages/design.py").run()  # the page is in the app's navigation
    assert not at.exception, at.exception
    assert at.title[0].value == "Design"
    at.selectbox(key="ds_host").select("MoS2")
    at.selectbox(key="ds_target").select("homo_lumo_gap")
    at.slider(key="ds_counts").set_value((1, 2))
    at.number_input(key="ds_value").set_value(1.0)
    at.button(key="ds_run").click()
    at.run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    want = design("MoS2", "homo_lumo_gap", value=1.0, counts="1-2", budget=2000, with_cif=False)
    assert shown["Configuration"].tolist() == [c.label for c in want.best]
    assert shown["Gap (eV)"].tolist() == pytest.approx([c.homo_lumo_gap for c in want.best], abs=1e-12)
    assert "exhaustive" in at.success[0].value and f"{want.calls} configurations" in at.success[0].value


INVERSE = [
    ("Which defects would give monolayer MoS2 a HOMO-LUMO gap near 1.2 eV?", "MoS2", [], "homo_lumo_gap", 1.2, None),
    ("How to reach a gap of 0.8 eV in WSe2 with Se vacancies?", "WSe2", ["vSe"], "homo_lumo_gap", 0.8, None),
    (
        "What is the lowest formation energy configuration with S vacancies in MoS2?",
        "MoS2",
        ["vS"],
        "formation_energy_per_site",
        None,
        False,
    ),
    ("Which dopants could open the band gap of h-BN the most?", "BN", [], "homo_lumo_gap", None, True),
]


@pytest.mark.parametrize("question, host, species, target, value, maximize", INVERSE)
def test_planner_reads_inverse_questions(question, host, species, target, value, maximize):
    from hypofinder.bridge.design import read_inverse

    ask = read_inverse(question)
    assert (ask.host, ask.species, ask.target, ask.value, ask.maximize) == (host, species, target, value, maximize)


@pytest.mark.parametrize(
    "question",
    [
        "Does vS reduce the band gap of MoS2?",
        "How does the gap of MoS2 change with S vacancy distance?",
        "Which defects would give graphene a gap near 1 eV?",
    ],
)
def test_other_questions_are_not_inverse(question):
    from hypofinder.bridge.design import read_inverse

    assert read_inverse(question) is None


def test_inverse_question_evidence_carries_design_candidates_within_tolerance():
    from hypofinder.bridge import evidence_for, prompt_block
    from hypofinder.bridge.design import TOLERANCE

    ev = evidence_for(INVERSE[0][0])
    assert ev.in_scope and ev.kind == "screen" and 1 <= len(ev.facts) <= 3
    comps = set()
    for f in ev.facts:
        (p,) = f.predictions
        assert p.in_domain and abs(p.homo_lumo_gap - 1.2) <= TOLERANCE
        assert f.request.host == "MoS2" and sorted(f.request.defects) == sorted(p.defects)
        comps.add(tuple(sorted(p.defects)))
    assert len(comps) == len(ev.facts)  # one fact per composition
    block = prompt_block(ev)
    assert "[E1]" in block and "HOMO-LUMO gap" in block and "±2σ" in block
    plain = evidence_for("Does vS reduce the band gap of MoS2?")  # the planner's path, unchanged
    assert plain.kind != "screen" or not plain.facts or "designed" not in plain.facts[0].summary


@pytest.mark.slow
def test_an_inverse_question_gives_every_context_design_facts_in_tolerance():
    from hypofinder.bridge.design import TOLERANCE
    from hypofinder.pipeline import HypothesisFinder

    report = HypothesisFinder("fake", contexts=2, cache=False, tournament=False).find(INVERSE[0][0])  # bridge runs
    assert len(report.contexts) == 2
    for ctx in report.contexts:
        facts = ctx.evidence.facts
        assert facts and all("designed configurations" in f.summary for f in facts)
        for f in facts:
            assert all(p.in_domain and abs(p.homo_lumo_gap - 1.2) <= TOLERANCE for p in f.predictions)
