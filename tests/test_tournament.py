"""The tournament's rules with scripted judges: position-swapped votes, Elo, bootstrap, Swiss, de-duplication."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pytest

from hypofinder import tournament as T
from hypofinder.models import Match
from hypofinder.pipeline import HypothesisFinder
from hypofinder.render import contexts_csv, to_markdown
from tests.scripted import scripted_model
from tests.servers import scripted_server


@dataclass
class Vote:
    better: str
    reason: str = "Because it is more specific."


def prefers(order: list[str]):
    """A consistent judge: the candidate earlier in ``order`` is better, whatever the position."""

    def judge(first: str, second: str) -> Vote:
        if order.index(first) < order.index(second):
            return Vote("first", f"{first} is sharper than {second}.")
        return Vote("second", f"{second} is sharper than {first}.")

    return judge


def always_first(first: str, second: str) -> Vote:
    return Vote("first", "The first one.")


IDS = ["H1", "H2", "H3", "H4"]


def test_consistent_votes_give_a_winner_split_votes_a_draw():
    m = T.decide("H1", "H2", Vote("second", "H2 is testable."), Vote("first", "H2 again."))
    assert m.winner == "H2" and m.votes == ["H2", "H2"] and m.reason == "H2 again.", (
        "the reason given with the winner shown first"
    )
    m = T.decide("H1", "H2", Vote("first", "H1 wins."), Vote("second", "H1 still."))
    assert m.winner == "H1" and m.reason == "H1 wins."
    m = T.decide("H1", "H2", Vote("first", "x"), Vote("first", "y"))
    assert m.winner == T.DRAW and m.votes == ["H1", "H2"] and "Split decision" in m.reason


def test_position_biased_judge_produces_only_draws_and_equal_ratings():
    matches, ratings, pairing, rounds = T.run(IDS, always_first)
    assert pairing == "all pairs" and rounds == 1 and len(matches) == 6
    assert all(m.winner == T.DRAW for m in matches)
    assert {r.elo for r in ratings} == {T.ELO_START}
    assert all(r.draws == 3 and r.wins == r.losses == 0 for r in ratings)


def test_scripted_judge_ranks_its_favourite_first_and_every_match_has_a_side_and_reason():
    calls = []

    def judge(first, second):
        calls.append((first, second))
        return prefers(["H3", "H1", "H4", "H2"])(first, second)

    matches, ratings, _, _ = T.run(IDS, judge)
    assert len(matches) == 6 and len(calls) == 12
    assert {frozenset(c) for c in calls} == {frozenset(p) for p in combinations(IDS, 2)}
    assert all((a, b) in calls and (b, a) in calls for a, b in combinations(IDS, 2)), "both orders judged"
    for m in matches:
        assert m.winner in (m.a, m.b) and m.reason
    assert [r.id for r in ratings] == ["H3", "H1", "H4", "H2"]
    top = ratings[0]
    assert top.wins == 3 and top.losses == 0 and top.elo > T.ELO_START
    assert ratings[-1].losses == 3 and ratings[-1].elo < T.ELO_START


def test_elo_update_is_k_over_two_for_equal_ratings_and_zero_sum():
    m = Match(a="H1", b="H2", winner="H1", reason="r")
    r = T.elo(["H1", "H2"], [m], k=32, start=1200)
    assert r == {"H1": 1216.0, "H2": 1184.0}
    r2 = T.elo(["H1", "H2"], [m, m], k=32, start=1200)
    assert 1216 < r2["H1"] < 1232 and r2["H1"] + r2["H2"] == pytest.approx(2400)
    draw = Match(a="H1", b="H2", winner=T.DRAW, reason="r")
    assert T.elo(["H1", "H2"], [draw]) == {"H1": T.ELO_START, "H2": T.ELO_START}


def test_bootstrap_std_is_reproducible_and_reflects_disagreement():
    ids = ["H1", "H2"]
    clear = [Match(a="H1", b="H2", winner="H1", reason="r")] * 6
    mixed = [Match(a="H1", b="H2", winner=w, reason="r") for w in ("H1", "H2", "H1", "H2", "H1", "H2")]
    s_clear = T.bootstrap_std(ids, clear, seed=3)
    s_mixed = T.bootstrap_std(ids, mixed, seed=3)
    assert max(s_clear.values()) < 1e-6, "unanimous results: every resample gives the same ratings"
    assert s_mixed["H1"] > 5 and s_mixed == T.bootstrap_std(ids, mixed, seed=3)
    assert T.bootstrap_std(ids, []) == {"H1": 0.0, "H2": 0.0}


def test_swiss_above_six_fewer_matches_no_early_rematch_and_a_sensible_order():
    ids = [f"H{i}" for i in range(1, 9)]
    truth = ["H5", "H2", "H8", "H1", "H7", "H3", "H6", "H4"]
    matches, ratings, pairing, rounds = T.run(ids, prefers(truth))
    assert pairing == "swiss" and rounds == T.swiss_rounds(8) == 4
    assert len(matches) == 16 < len(list(combinations(ids, 2)))
    for r in range(rounds):  # each round: everyone plays exactly once
        sides = [s for m in matches[4 * r : 4 * r + 4] for s in (m.a, m.b)]
        assert sorted(sides) == sorted(ids)
    first3 = {frozenset((m.a, m.b)) for m in matches[:12]}
    assert len(first3) == 12, "no rematch in the first three rounds"
    assert ratings[0].id == "H5" and ratings[0].wins == 4
    assert ratings[-1].id == "H4"


def test_swiss_odd_field_gives_each_bye_once():
    ids = [f"H{i}" for i in range(1, 8)]
    matches, ratings, pairing, rounds = T.run(ids, prefers(ids))
    assert pairing == "swiss" and rounds == 4 and len(matches) == 4 * 3
    sat_out = []
    for r in range(rounds):
        played = {s for m in matches[3 * r : 3 * r + 3] for s in (m.a, m.b)}
        (bye,) = set(ids) - played
        sat_out.append(bye)
    assert len(set(sat_out)) == rounds
    assert ratings[0].id == "H1"


def test_mapper_receives_all_votes_of_a_round_at_once():
    batches = []

    def mapper(fn, items):
        batches.append(len(items))
        return [fn(x) for x in items]

    T.run(IDS, prefers(IDS), mapper=mapper)
    assert batches == [12]


def test_near_duplicates_merge_greedily_into_the_most_similar_kept():
    v = np.array([[1, 0, 0], [0.99, 0.14, 0], [0, 1, 0], [0.1, 0.995, 0], [0, 0, 1]], dtype=float)
    merges = T.near_duplicates(["H1", "H2", "H3", "H4", "H5"], v, threshold=0.95)
    assert [(m.id, m.into) for m in merges] == [("H2", "H1"), ("H4", "H3")]
    assert all(m.similarity >= 0.95 for m in merges)
    assert T.near_duplicates(["H1", "H2", "H3", "H4", "H5"], v, threshold=0.999) == []


def test_rank_score_rule():
    assert T.rank_score(70, None) == 70.0
    assert T.rank_score(70, "supported") == 80.0 and T.rank_score(20, "contradicted") == 0.0
    assert T.rank_score(50, None, rating=T.ELO_START) == 50.0
    # a tournament winner with a modest review beats a loser with a high one
    assert T.rank_score(50, None, rating=T.ELO_START + 48) > T.rank_score(80, None, rating=T.ELO_START - 48)
    assert T.rank_score(100, "supported", rating=T.ELO_START + 400) == 100.0


def test_real_embeddings_merge_a_paraphrase_but_not_a_different_hypothesis():
    from hypofinder.refine import embed_texts

    texts = [
        "Sulfur vacancies in monolayer MoS2 narrow the band gap as their pair distance decreases.",
        "In monolayer MoS2, sulfur vacancy pairs narrow the band gap as the distance between them decreases.",
        "Domain walls in multiferroic thin films pin the magnetoresistance at low temperature.",
        "Tungsten substitution on molybdenum sites raises the formation energy of MoS2 monolayers.",
        "Sulfur vacancies in monolayer MoS2 widen the band gap as their pair distance decreases.",
    ]
    vectors = embed_texts(texts)
    assert float(vectors[0] @ vectors[4]) > T.DEDUP_THRESHOLD, "the embedding alone misses the flipped claim"
    merges = T.near_duplicates(["H1", "H2", "H3", "H4", "H5"], vectors, texts=texts)
    assert [(m.id, m.into) for m in merges] == [("H2", "H1")]


def test_opposite_directions_are_not_duplicates():
    assert T.opposite_claims("Vacancies narrow the gap.", "Vacancies widen the gap.")
    assert not T.opposite_claims("Vacancies reduce the gap.", "Vacancies lower the gap.")
    assert not T.opposite_claims("Domain walls pin resistivity.", "Vacancies lower the gap.")


# ----------------------------------------------------------------------------- in the pipeline (fake model, real ontology)

QUESTION = "How do sulfur vacancies change the band gap of monolayer MoS2?"
# names every scripted statement's subject, so the proofreader finds each statement on topic (no re-asks)
MIXED_QUESTION = (
    "Which matters most: sulfur vacancy pairs in MoS2, multiferroic domain walls, phonon softening in "
    "dichalcogenides, surfactant monolayers, twisted bilayer graphene or proton conductivity in perovskite oxides?"
)
DISTINCT_STATEMENTS = [
    "Sulfur vacancy pairs in monolayer MoS2 narrow the band gap as they approach each other.",
    "Domain walls in multiferroic thin films pin the magnetoresistance at low temperature.",
    "Phonon softening near the transition drives the charge density wave in layered dichalcogenides.",
    "Surfactant monolayers at the water interface order into stripes under lateral compression.",
    "Interlayer twist angle controls flat electronic bands and superconductivity in bilayer graphene.",
    "Hydrogen bonding networks set the proton conductivity of hydrated perovskite oxides.",
]

DISTINCT_MORE = [
    ("Spin ice pyrochlores host emergent magnetic monopoles whose density follows the applied field.", None),
    ("Quantum dot size sets the exciton binding energy through dielectric confinement.", None),
    ("Grain boundaries in polycrystalline copper scatter electrons and raise resistivity.", None),
    ("Ferroelectric vortices in oxide superlattices show negative capacitance under bias.", None),
    ("Ionic liquid gating induces superconductivity at the surface of strontium titanate.", None),
    ("Magnetic skyrmions in chiral magnets move at low current density along racetracks.", None),
]


def generated(statement: str) -> dict:
    return {
        "summary": "A physicist frames the question through one mechanism and its test.",
        "statement": statement,
        "rationale": "Earlier measurements and simple models point this way.",
        "steps": [
            "Compute the structures with DFT.",
            "Measure the samples by spectroscopy.",
            "Compare the trends across samples.",
        ],
        "validation_request": None,
    }


def judge_preferring(marker: str):
    """A scripted judge: prefers the hypothesis containing ``marker`` wherever it is shown, else the first."""

    def answer(prompt: str) -> dict:
        first = prompt.split("Hypothesis first:")[1].split("Hypothesis second:")[0]
        return {
            "reason": f"One of them mentions {marker}.",
            "better": "first" if marker in first or marker not in prompt else "second",
        }

    return answer


def test_fake_four_contexts_have_matches_elo_revisions_and_are_sorted_by_rank_score():
    finder = HypothesisFinder("fake", contexts=4, validate=False, cache=False, rounds=1, tournament=True)
    report = finder.find(QUESTION)
    t = report.tournament
    assert t is not None and len(t.matches) >= 4 and t.pairing == "all pairs"
    assert (t.k, t.start) == (T.ELO_K, T.ELO_START)
    ids = {c.id for c in report.contexts}
    for m in t.matches:
        assert {m.a, m.b} <= ids and m.a != m.b and m.winner in (m.a, m.b, T.DRAW) and m.reason
    for c in report.contexts:
        assert c.elo is not None and len(c.revisions) == 1
        assert c.revisions[0].statement != c.hypothesis.statement and c.revisions[0].critique
    assert [c.rank_score for c in report.contexts] == sorted((c.rank_score for c in report.contexts), reverse=True)
    assert report.run.rounds == 1 and report.run.tournament_enabled
    prompts = finder.llm.chat_model.prompts
    # the reviser saw its own first draft and the critique of it
    for c in report.contexts:
        assert any(
            c.revisions[0].statement in p and c.revisions[0].critique in p and "revise the hypothesis" in p
            for p in prompts
        )


def test_fast_path_is_todays_pipeline():
    finder = HypothesisFinder("fake", contexts=3, validate=False, cache=False, rounds=0, tournament=False)
    report = finder.find(QUESTION)
    assert report.tournament is None and report.run.llm_calls == 7
    assert all(c.elo is None and not c.revisions for c in report.contexts)
    assert {"revise", "tournament"}.isdisjoint(k for k, v in report.run.step_seconds.items() if v > 0.05)


def scripted_finder(responses: dict, n: int = 4, **kwargs) -> HypothesisFinder:
    review = {
        "text": "Clear and testable, but the mechanism needs a control.",
        "rubric": {"novelty": 60, "plausibility": 60, "testability": 60, "specificity": 60},
        "score": 60,
    }
    with scripted_model({"ReviewAnswer": review, **responses}) as model:
        return HypothesisFinder(  # scripted answers follow no PhySH plan
            model, contexts=n, validate=False, cache=False, rounds=0, tournament=True, plan=False, **kwargs
        )


def test_scripted_judge_that_prefers_one_hypothesis_ranks_it_first():
    statements = DISTINCT_STATEMENTS[:4]
    finder = scripted_finder(
        {"GeneratedHypothesis": [generated(s) for s in statements], "JudgeAnswer": judge_preferring("multiferroic")}
    )
    report = finder.find(MIXED_QUESTION)
    assert "multiferroic" in report.contexts[0].hypothesis.statement
    top = report.tournament.ratings[0]
    assert top.id == report.contexts[0].id and top.wins == 3 and top.losses == 0
    assert all(m.winner == top.id for m in report.tournament.matches if top.id in (m.a, m.b))


def test_judge_that_always_answers_first_produces_draws():
    finder = scripted_finder(
        {
            "GeneratedHypothesis": [generated(s) for s in DISTINCT_STATEMENTS[:4]],
            "JudgeAnswer": {"reason": "The first one is better.", "better": "first"},
        }
    )
    report = finder.find(MIXED_QUESTION)
    assert len(report.tournament.matches) == 6
    assert all(m.winner == T.DRAW for m in report.tournament.matches)
    assert {c.elo for c in report.contexts} == {T.ELO_START}


def test_near_identical_hypotheses_are_merged_before_the_tournament_and_reported():
    statements = [
        DISTINCT_STATEMENTS[0],
        "In monolayer MoS2, pairs of sulfur vacancies narrow the band gap as they come closer together.",
        DISTINCT_STATEMENTS[1],
    ]
    finder = scripted_finder({"GeneratedHypothesis": [generated(s) for s in statements]}, n=3)
    report = finder.find(QUESTION)
    (merge,) = report.tournament.merged
    assert merge.similarity >= T.DEDUP_THRESHOLD and merge.statement in statements[:2]
    assert merge.into in {c.id for c in report.contexts} and merge.id not in {c.id for c in report.contexts}
    assert len(report.contexts) == 2 and len(report.tournament.matches) == 1
    assert "Merged" in to_markdown(report)


def test_markdown_and_csv_show_the_ranking_and_history():
    report = HypothesisFinder("fake", contexts=3, validate=False, cache=False, rounds=1, tournament=True).find(QUESTION)
    md = to_markdown(report)
    assert "## Tournament" in md and md.count("Version 1 (score") == 3 and "Elo K 32, start 1200" in md
    assert all(m.reason in md for m in report.tournament.matches)
    rows = contexts_csv(report).strip().splitlines()
    assert rows[0].endswith("id,elo,elo_std,wins,draws,losses,revisions") and all(r.endswith(",1") for r in rows[1:])


def test_server_revisions_and_matches_run_concurrently():
    from hypofinder.llm.providers import _FakeFiller
    from hypofinder.prompts import (
        GeneratedHypothesis,
        JudgeAnswer,
        ReviewAnswer,
        SynthesisAnswer,
    )

    def example(model):
        schema = model.model_json_schema()
        return _FakeFiller("Concept: domain walls", schema).value(schema, "answer")

    base = {
        **example(GeneratedHypothesis),
        **example(ReviewAnswer),
        **example(SynthesisAnswer),
        **example(JudgeAnswer),
        "validation_request": None,
    }
    base["steps"] = base["steps"][:3]
    statements = [*DISTINCT_STATEMENTS, *(s for s, _ in DISTINCT_MORE)]
    replies = [json.dumps({**base, "statement": statements[i % len(statements)]}) for i in range(40)]
    with scripted_server(replies, delay_s=0.5) as (url, requests):
        report = HypothesisFinder(
            "scripted", base_url=url, contexts=3, validate=False, cache=False, rounds=1, tournament=True
        ).find(QUESTION)
    steps = report.run.step_seconds
    # generate, review, revise + review, 3 matches x 2 orders, synthesis (+ re-asks of off-topic scripted text)
    assert len(requests) >= 3 + 3 + 6 + 6 + 1
    assert steps["revise"] < 2.4, "3 revisions + 3 reviews of 0.5 s each would take 3 s one by one"
    assert steps["tournament"] < 2.5, "6 votes of 0.5 s each would take 3 s one by one"
    assert len(report.tournament.matches) == 3 and all(c.elo is not None for c in report.contexts)


def test_rounds_and_tournament_default_per_provider_and_are_bounded():
    from hypofinder.errors import BadInputError
    from hypofinder.llm.registry import get
    from hypofinder.profiles import PROFILES
    from hypofinder.settings import RunConfig

    tiny, capable = PROFILES["tiny"].model_dump(), PROFILES["capable"].model_dump()
    assert RunConfig().refinement(capable, {}) == (1, True)
    assert RunConfig().refinement(tiny, get("local").options) == (0, False)
    assert RunConfig().refinement(capable, get("openai").options) == (1, True)
    assert RunConfig(rounds=2).refinement(tiny, get("local").options) == (2, False)
    assert RunConfig(rounds=0, tournament=True).refinement(tiny, {}) == (0, True)
    with pytest.raises(BadInputError, match="rounds must be 0-3"):
        RunConfig().merged(rounds=4)
