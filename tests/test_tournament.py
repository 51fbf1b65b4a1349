"""The tournament's rules with scripted judges: position-swapped votes, Elo, bootstrap, Swiss, de-duplication."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pytest

from hypofinder import tournament as T
from hypofinder.models import Match


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
    assert m.winner == "H2" and m.votes == ["H2", "H2"] and m.reason == "H2 again.", "the reason given with the winner shown first"
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
        sides = [s for m in matches[4 * r: 4 * r + 4] for s in (m.a, m.b)]
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
        played = {s for m in matches[3 * r: 3 * r + 3] for s in (m.a, m.b)}
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
    from hypofinder.pipeline import embed_texts

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
