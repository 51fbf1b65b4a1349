"""Evaluation harness: the key-point metric separates a reference from the others, its threshold is the one
the labelled pairs give, `eval run` mines with the real pipeline (fake model) and prints every metric, bad
lines are named and skipped, the pick options, predictor evidence, the LLM judge over the OpenAI protocol,
and the paired-bootstrap comparison.

Real components: the all-MiniLM-L6-v2 embedder, the PhySH concept list, the mining machinery and ontology
index, the defect bridge; the judge talks to a real HTTP server (tests/servers.py) and, marked slow, to the
embedded SmolLM2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hypofinder.cli import main
from hypofinder.evaluation import (
    KEYPOINT_THRESHOLD,
    METRIC_KEYS,
    Generated,
    calibrate,
    read_references,
    score,
    split_claims,
)
from hypofinder.evaluation.concepts import concepts_in
from hypofinder.evaluation.metrics import balanced_accuracy, pair_similarity
from hypofinder.settings import PROJECT_ROOT
from tests.servers import scripted_server

REFS = PROJECT_ROOT / "benchmarks" / "data" / "eval_refs.jsonl"
PAIRS = PROJECT_ROOT / "tests" / "data" / "keypoint_pairs.jsonl"


def cli(*args) -> int:
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def refs():
    return read_references(REFS).items


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """Four reference questions mined with the fake model (real pipeline, real index): refs, results, scores."""
    from hypofinder.evaluation import evaluate

    folder = tmp_path_factory.mktemp("eval")
    refs4 = write_jsonl(folder / "refs4.jsonl", REFS.read_text().splitlines()[:4])
    out = folder / "results.jsonl"
    scores = evaluate(refs4, out=out, model="fake", contexts=2)
    return refs4, out, scores


# ----------------------------------------------------------------------------- the metric itself


HOSTS = {  # the six 2DMD hosts, as a question names them
    "MoS2": ("mos2",),
    "WSe2": ("wse2",),
    "BN": ("boron nitride", "hbn", "h-bn"),
    "GaSe": ("gase", "gallium selenide"),
    "InSe": ("inse", "indium selenide"),
    "P": ("phosphorene", "black phosphorus"),
}


def test_reference_set_is_what_the_issue_asks(refs):
    assert len(refs) >= 48
    assert all(len(r.key_points) >= 3 for r in refs)
    hosts = {r.id: {h for h, names in HOSTS.items() if any(n in r.query.lower() for n in names)} for r in refs}
    defects = [r for r in refs if r.is_point_defect() and hosts[r.id]]
    assert len(defects) >= 12 and set().union(*(hosts[r.id] for r in defects)) == set(HOSTS)
    assert sum(not r.is_point_defect() for r in refs) >= 12
    halves = {s: [r for r in refs if r.split == s] for s in ("tuning", "held-out")}
    assert abs(len(halves["tuning"]) - len(halves["held-out"])) <= 1 and len(halves["tuning"]) + len(
        halves["held-out"]
    ) == len(refs)
    held_defects = {h for r in halves["held-out"] if r in defects for h in hosts[r.id]}
    assert sum(r in defects for r in halves["held-out"]) >= 6 and held_defects == set(HOSTS)


def test_each_reference_matches_itself_and_not_the_others(refs):
    # every reference scored against itself and against every other question's reference, in one batch
    pairs = [r.model_copy(update={"id": f"{r.id}|{s.id}"}) for r in refs for s in refs]
    texts = {r.id: r.reference_hypothesis for r in refs}
    scored = score(pairs, {p.id: Generated(id=p.id, hypothesis=texts[p.id.split("|")[1]]) for p in pairs})
    own = [q for q in scored.per_question if q.id.split("|")[0] == q.id.split("|")[1]]
    others = [q for q in scored.per_question if q.id.split("|")[0] != q.id.split("|")[1]]
    assert len(own) == len(refs) and all(q.keypoint_recall >= 0.9 for q in own)
    # neighbouring questions (two on sulfur vacancies in MoS2, graphene's Dirac carriers and its quantum Hall
    # effect) share some points; still, each reference scores its own question best, and overlaps stay rare
    for q in own:
        rival = max((o for o in others if o.id.split("|")[0] == q.id.split("|")[0]), key=lambda o: o.keypoint_recall)
        assert rival.keypoint_recall < q.keypoint_recall, rival.id
    recalls = [q.keypoint_recall for q in others]
    assert sum(recalls) / len(recalls) <= 0.05 and sum(r > 0.35 for r in recalls) <= 0.02 * len(recalls)


def test_restating_the_question_earns_no_key_point(refs):
    parrots = {r.id: Generated(id=r.id, hypothesis=f"We study {r.query.rstrip('?').lower()}. {r.query}") for r in refs}
    assert score(refs, parrots).keypoint_recall == 0.0
    ref = refs[0]  # the same words plus a claim do count
    claim = f"{ref.query.rstrip('?')}: they create localized states in the band gap near the conduction band."
    assert score([ref], {ref.id: Generated(id=ref.id, hypothesis=claim)}).keypoint_recall >= 0.25


def test_without_key_points_the_reference_is_split_into_claims(refs):
    claims = split_claims(
        "Sulfur vacancies create states in the gap; they also make MoS2 n-type. "
        "The carrier mobility drops sharply, because electrons hop between localized states."
    )
    assert claims == [
        "Sulfur vacancies create states in the gap",
        "they also make MoS2 n-type.",
        "The carrier mobility drops sharply",
        "electrons hop between localized states.",
    ]
    bare = [r.model_copy(update={"key_points": []}) for r in refs[:4]]
    own = {r.id: Generated(id=r.id, hypothesis=r.reference_hypothesis) for r in bare}
    assert score(bare, own).keypoint_recall == 1.0
    swapped = {r.id: Generated(id=r.id, hypothesis=bare[(i + 1) % 4].reference_hypothesis) for i, r in enumerate(bare)}
    assert score(bare, swapped).keypoint_recall <= 0.35


def test_threshold_is_the_one_the_labelled_pairs_give():
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    triples = [(p["key_point"], p["sentence"], p["match"]) for p in pairs]
    assert len(triples) >= 60 and 0.35 <= sum(p[2] for p in triples) / len(triples) <= 0.65
    threshold, best = calibrate(triples)
    assert abs(threshold - KEYPOINT_THRESHOLD) <= 0.03, threshold
    import numpy as np

    sims = pair_similarity([(a, b) for a, b, _ in triples])
    labels = np.array([m for *_, m in triples])
    assert balanced_accuracy(sims >= KEYPOINT_THRESHOLD, labels) >= 0.85 and best >= 0.85


def test_concepts_are_exact_label_matches():
    found = set(
        concepts_in("The d-wave gap of cuprates; spin-orbit coupling, and Skyrmions at low temperature.").values()
    )
    assert {"d-wave", "Cuprates", "Spin-orbit coupling", "Skyrmions"} <= found
    assert "Temperature" not in found  # an everyday word is no evidence of a concept
    assert not {"C-symmetry", "P-symmetry"} & set(concepts_in("symmetry breaking").values())


# ----------------------------------------------------------------------------- eval run / score (CLI)


def test_eval_run_fake_prints_every_metric_and_resumes(mined, tmp_path, capsys):
    refs4, _, api_scores = mined
    out = tmp_path / "results.jsonl"
    assert cli("eval", "run", refs4, "--model", "fake", "--contexts", "2", "--json", "--out", out) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["n"] == 4 and set(METRIC_KEYS) <= set(first)
    assert first["failed"] == 0 and first["keypoint_recall"] is not None and first["junk_rate"] is not None
    assert [q["id"] for q in first["per_question"]] == [
        json.loads(line)["id"] for line in refs4.read_text().splitlines()
    ]
    assert all(len(q["review_recall"]) == 2 for q in first["per_question"])
    lines = out.read_text().splitlines()
    assert len(lines) == 4
    # rerun: every id is already in the results file, nothing is mined again, same scores
    assert cli("eval", "run", refs4, "--model", "fake", "--contexts", "2", "--json", "--out", out) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert out.read_text().splitlines() == lines
    # the CLI prints what the Python API returns; only the cost differs (its reports came from the report cache)
    cost = {"seconds", "llm_calls", "seconds_per_report", "calls_per_report"}

    def quality(scores: dict) -> dict:
        per = [{k: v for k, v in q.items() if k not in cost} for q in scores["per_question"]]
        return {**{k: v for k, v in scores.items() if k not in cost}, "per_question": per}

    assert quality(first) == quality(json.loads(api_scores.model_dump_json()))
    assert first["calls_per_report"] is None  # whole reports from the cache cost nothing this time
    assert api_scores.calls_per_report is None or api_scores.calls_per_report > 4  # None: an earlier test mined them


def test_eval_score_names_bad_lines_and_skips_them(mined, tmp_path, capsys):
    refs4, out, _ = mined
    good = out.read_text().splitlines()
    results = write_jsonl(
        tmp_path / "r.jsonl",
        good[:3] + ["{not json", json.dumps({"hypothesis": "no id here"}), json.dumps({"id": "x", "other": 1})],
    )
    bad_refs = write_jsonl(
        tmp_path / "refs.jsonl",
        refs4.read_text().splitlines()
        + [
            json.dumps({"id": "q9", "query": "Why?"}),
            "[1, 2]",
            json.dumps({"id": "mos2-svac", "query": "again", "reference_hypothesis": "Duplicate line here."}),
        ],
    )
    capsys.readouterr()
    assert cli("eval", "score", bad_refs, results, "--json") == 0
    captured = capsys.readouterr()
    scores = json.loads(captured.out)
    assert scores["n"] == 3 and len(scores["missing"]) == 1
    for fragment in (
        "r.jsonl line 4: not valid JSON",
        "r.jsonl line 5: missing 'id'",
        "r.jsonl line 6: neither",
        "refs.jsonl line 5: missing 'reference_hypothesis'",
        "refs.jsonl line 6: expected an object",
        "refs.jsonl line 7: duplicate id 'mos2-svac'",
        "1 reference question(s) have no result",
    ):
        assert fragment in " ".join(captured.err.split()), fragment


def test_unusable_files_give_one_line_and_exit_2(tmp_path, capsys):
    empty = write_jsonl(tmp_path / "refs.jsonl", ['{"id": 1}'])
    assert cli("eval", "score", empty, tmp_path / "none.jsonl") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no usable references in") and "\n" not in err
    assert cli("eval", "score", REFS, tmp_path / "none.jsonl") == 2
    assert capsys.readouterr().err.strip() == f"error: results file {tmp_path / 'none.jsonl'} not found"
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "zzz", "hypothesis": "Something else entirely."}])
    assert cli("eval", "score", REFS, other) == 2
    assert "no result in other.jsonl has the id" in capsys.readouterr().err


# ----------------------------------------------------------------------------- picks and evidence


def _report_with(mined, texts: list[str], synthesis: str):
    """A mined fake report of the first question with its context statements replaced by ``texts``."""
    out = mined[1]
    gen = Generated.from_record(json.loads(out.read_text().splitlines()[0]))
    report = gen.report
    contexts = [
        c.model_copy(
            update={
                "hypothesis": c.hypothesis.model_copy(
                    update={"statement": t, "rationale": "It may hold.", "steps": ["Try it.", "Test it.", "Check it."]}
                )
            }
        )  # fmt: skip
        for c, t in zip(report.contexts, texts)
    ]
    syn = report.synthesis.model_copy(update={"hypothesis": synthesis})
    return gen.model_copy(update={"report": report.model_copy(update={"contexts": contexts, "synthesis": syn})})


def test_pick_top_best_and_synthesis(mined, capsys, refs):
    ref = next(r for r in refs if r.id == "mos2-svac")
    gen = _report_with(
        mined,
        ["Grain boundaries in copper stop dislocations.", ref.reference_hypothesis],
        "Sulfur vacancies in monolayer MoS2 make it an n-type semiconductor.",
    )
    by = {pick: score([ref], {ref.id: gen}, pick=pick).per_question[0] for pick in ("top", "best", "synthesis")}
    assert by["top"].scored == "context 1" and by["top"].keypoint_recall == 0.0
    assert by["best"].scored == "context 2" and by["best"].keypoint_recall == 1.0
    assert by["synthesis"].scored == "synthesis" and 0 < by["synthesis"].keypoint_recall < 1
    assert by["best"].concept_recall == 1.0 and by["top"].concept_recall == 0.0


def test_evidence_coverage_counts_predictor_numbers(mined, capsys, refs):
    from hypofinder.bridge import validate

    ref = next(r for r in refs if r.id == "mos2-svac")
    gen = _report_with(
        mined,
        ["Sulfur vacancy pairs in MoS2 lower the gap when close together."] * 2,
        "Sulfur vacancies lower the MoS2 gap.",
    )
    without = score([ref], {ref.id: gen})
    evidence = validate(
        {
            "host": "MoS2",
            "defects": ["vS", "vS"],
            "target": "homo_lumo_gap",
            "variable": "pair_distance",
            "direction": "increases",
        }
    )
    assert evidence.predictions
    first = gen.report.contexts[0].model_copy(update={"validation": evidence})
    with_numbers = gen.model_copy(
        update={"report": gen.report.model_copy(update={"contexts": [first, *gen.report.contexts[1:]]})}
    )
    assert without.evidence_coverage == 0.0
    assert score([ref], {ref.id: with_numbers}).evidence_coverage == 1.0
    off_topic = next(r for r in refs if r.id == "gmr")  # not a point-defect question: not counted
    assert score([off_topic], {"gmr": with_numbers.model_copy(update={"id": "gmr"})}).evidence_coverage is None


# ----------------------------------------------------------------------------- judge


def test_judge_over_the_openai_protocol(tmp_path, capsys, refs):
    results = write_jsonl(tmp_path / "h.jsonl", [{"id": r.id, "hypothesis": r.reference_hypothesis} for r in refs[:2]])
    small = write_jsonl(tmp_path / "refs.jsonl", [r.model_dump() for r in refs[:2]])
    replies = [
        'Sure! {"matched": [1, 2, 3], "score": 4, "reason": "States the main mechanism.",}',
        json.dumps({"matched": [1], "score": 2, "reason": "Only the direction is right."}),
    ]
    with scripted_server(replies) as (url, requests):
        code = cli("eval", "score", small, results, "--judge", "judge-model", "--base-url", url, "--json")
    assert code == 0
    scores = json.loads(capsys.readouterr().out)
    assert [q["judge_score"] for q in scores["per_question"]] == [4, 2] and scores["judge_score"] == 3.0
    prompt = " ".join(m["content"] for m in requests[0]["messages"])
    assert refs[0].key_points[0] in prompt and requests[0]["model"] == "judge-model"


@pytest.mark.slow
def test_judge_with_the_embedded_model(tmp_path, capsys, refs):
    results = write_jsonl(tmp_path / "h.jsonl", [{"id": refs[0].id, "hypothesis": refs[0].reference_hypothesis}])
    small = write_jsonl(tmp_path / "refs.jsonl", [refs[0].model_dump()])
    assert cli("eval", "score", small, results, "--judge", "local", "--json") == 0
    q = json.loads(capsys.readouterr().out)["per_question"][0]
    assert 0 <= q["judge_score"] <= 5 and q["judge_reason"]


# ----------------------------------------------------------------------------- compare


def test_compare_gives_paired_bootstrap_intervals(tmp_path, capsys, monkeypatch, refs):
    monkeypatch.setenv("COLUMNS", "160")  # rich wraps the table to the terminal's width
    own = write_jsonl(tmp_path / "own.jsonl", [{"id": r.id, "hypothesis": r.reference_hypothesis} for r in refs])
    shifted = write_jsonl(
        tmp_path / "shifted.jsonl",
        [{"id": r.id, "hypothesis": refs[(i + 1) % len(refs)].reference_hypothesis} for i, r in enumerate(refs)],
    )
    a_scores, b_scores = tmp_path / "a.scores.jsonl", tmp_path / "b.scores.jsonl"
    assert cli("eval", "score", REFS, shifted, "--scores", a_scores, "--json") == 0
    assert cli("eval", "score", REFS, own, "--scores", b_scores, "--json") == 0
    capsys.readouterr()
    assert cli("eval", "compare", a_scores, b_scores, "--json") == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    kp = rows["keypoint_recall"]
    assert kp["n"] == len(refs) and kp["diff"] > 0.8 and 0 < kp["low"] <= kp["diff"] <= kp["high"]
    # results files work too, scored against --refs first; the table names the verdict
    assert cli("eval", "compare", shifted, own, "--refs", REFS) == 0
    table = capsys.readouterr().out
    assert "keypoint_recall" in table and "B better" in table
    assert cli("eval", "compare", shifted, own) == 2
    assert "pass --refs" in capsys.readouterr().err
