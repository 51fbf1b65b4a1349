"""Pairwise tournament among hypotheses: position-swapped matches, Elo ratings with bootstrap
uncertainty, Swiss pairing for larger fields, de-duplication by embedding similarity.

Pure math and control flow: the judge (an LLM call in the pipeline) and the mapper (concurrent for
servers) are passed in, so every rule here is testable with scripted judges.

Rules (stated once, used by the pipeline and the README):

- A match ``a`` vs ``b`` is judged twice, ``(a, b)`` then ``(b, a)``. Both votes for one side: it
  wins; a split decision (the judge followed the position, not the content) is a draw.
- Elo: every candidate starts at ``ELO_START``; after each match in played order
  ``r_a += K (s_a - E_a)`` with ``E_a = 1 / (1 + 10^((r_b - r_a) / 400))`` and ``s_a`` 1 / 0.5 / 0.
- Uncertainty: standard deviation of the ratings over ``BOOTSTRAP`` resamples of the match list
  (drawn with replacement, played in the drawn order; fixed seed, so reports are reproducible).
- Pairing: all pairs up to ``ALL_PAIRS_MAX`` candidates; above, ``ceil(log2 n) + 1`` Swiss rounds
  (standings by points, then Elo; pair neighbours that have not met; odd field: the lowest-ranked
  candidate without a bye sits the round out).
- rank_score (0-100) = ``ELO_WEIGHT`` x elo_score + (1 - ``ELO_WEIGHT``) x review score + evidence
  bonus, clipped, where elo_score = 50 + (Elo - start) / 2 clipped to 0-100. Without a tournament:
  review score + evidence bonus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, Protocol

import numpy as np

from hypofinder.models import Match, Merge, Rating, Verdict

ELO_START = 1200.0
ELO_K = 32.0
ALL_PAIRS_MAX = 6
BOOTSTRAP = 200
ELO_WEIGHT = 0.6
DEDUP_THRESHOLD = 0.9  # measured: benchmarks/bench_tournament.py (paraphrase vs distinct hypotheses)
EVIDENCE_BONUS: dict[str, float] = {"supported": 10.0, "contradicted": -25.0, "inconclusive": 0.0, "out of scope": 0.0}
DRAW = "draw"


class Vote(Protocol):
    """What a judge returns: which of the two shown hypotheses is better, and why."""

    better: Literal["first", "second"]
    reason: str


Judge = Callable[[str, str], Vote]  # (id shown first, id shown second) -> vote
Mapper = Callable[[Callable, Sequence], list]


def in_order(fn: Callable, items: Sequence) -> list:
    return [fn(x) for x in items]


# --------------------------------------------------------------------------- matches


def decide(a: str, b: str, first: Vote, second: Vote) -> Match:
    """Combine the two votes of one match: ``first`` judged (a, b), ``second`` judged (b, a)."""
    pick1 = a if first.better == "first" else b
    pick2 = b if second.better == "first" else a
    if pick1 == pick2:
        # both votes chose the winner: keep the reason given when it was shown first
        reason = first.reason if pick1 == a else second.reason
        return Match(a=a, b=b, winner=pick1, reason=reason, votes=[pick1, pick2])
    return Match(
        a=a,
        b=b,
        winner=DRAW,
        votes=[pick1, pick2],
        reason=f"Split decision: each order favoured the hypothesis shown {first.better}, a draw.",
    )


def play(pairs: Sequence[tuple[str, str]], judge: Judge, mapper: Mapper = in_order) -> list[Match]:
    """Judge every pair in both orders (all calls through ``mapper``, so a server gets them concurrently)."""
    calls = [(a, b) for a, b in pairs] + [(b, a) for a, b in pairs]
    votes = mapper(lambda ab: judge(*ab), calls)
    n = len(pairs)
    return [decide(a, b, votes[i], votes[n + i]) for i, (a, b) in enumerate(pairs)]


# --------------------------------------------------------------------------- Elo


def expected(r_a: float, r_b: float) -> float:
    return 1.0 / (1.0 + 10.0 ** ((r_b - r_a) / 400.0))


def elo(
    ids: Iterable[str], matches: Iterable[Match], *, k: float = ELO_K, start: float = ELO_START
) -> dict[str, float]:
    """Sequential Elo over ``matches`` in the given order."""
    r = {i: start for i in ids}
    for m in matches:
        s_a = 0.5 if m.winner == DRAW else float(m.winner == m.a)
        delta = k * (s_a - expected(r[m.a], r[m.b]))
        r[m.a] += delta
        r[m.b] -= delta
    return r


def bootstrap_std(
    ids: Sequence[str],
    matches: Sequence[Match],
    *,
    k: float = ELO_K,
    start: float = ELO_START,
    samples: int = BOOTSTRAP,
    seed: int = 0,
) -> dict[str, float]:
    """Std of each rating over ``samples`` resamples (with replacement) of the matches."""
    if not matches or samples < 2:
        return {i: 0.0 for i in ids}
    rng = np.random.default_rng(seed)
    draws = np.empty((samples, len(ids)))
    for s in range(samples):
        pick = rng.integers(0, len(matches), len(matches))
        r = elo(ids, (matches[j] for j in pick), k=k, start=start)
        draws[s] = [r[i] for i in ids]
    return {i: float(v) for i, v in zip(ids, draws.std(axis=0, ddof=1))}


def ratings(
    ids: Sequence[str],
    matches: Sequence[Match],
    *,
    k: float = ELO_K,
    start: float = ELO_START,
    samples: int = BOOTSTRAP,
    seed: int = 0,
) -> list[Rating]:
    """Elo, its bootstrap std and the win/draw/loss record of every candidate, best first."""
    r = elo(ids, matches, k=k, start=start)
    std = bootstrap_std(ids, matches, k=k, start=start, samples=samples, seed=seed)
    out = []
    for i in ids:
        mine = [m for m in matches if i in (m.a, m.b)]
        wins = sum(m.winner == i for m in mine)
        draws = sum(m.winner == DRAW for m in mine)
        out.append(
            Rating(
                id=i, elo=round(r[i], 1), std=round(std[i], 1), wins=wins, draws=draws, losses=len(mine) - wins - draws
            )
        )
    return sorted(out, key=lambda x: -x.elo)


# --------------------------------------------------------------------------- pairing


def all_pairs(ids: Sequence[str]) -> list[tuple[str, str]]:
    return [(ids[i], ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids))]


def swiss_rounds(n: int) -> int:
    return math.ceil(math.log2(n)) + 1 if n > 1 else 0


def swiss_pairs(
    ids: Sequence[str], matches: Sequence[Match], byes: set[str], *, k: float = ELO_K, start: float = ELO_START
) -> tuple[list[tuple[str, str]], str | None]:
    """One Swiss round: (pairs, the candidate given a bye or None). ``ids`` order breaks ties (seed order)."""
    points = {i: 0.0 for i in ids}
    met: set[frozenset] = set()
    for m in matches:
        met.add(frozenset((m.a, m.b)))
        for side in (m.a, m.b):
            points[side] += 0.5 if m.winner == DRAW else float(m.winner == side)
    r = elo(ids, matches, k=k, start=start)
    seed = {i: n for n, i in enumerate(ids)}
    order = sorted(ids, key=lambda i: (-points[i], -r[i], seed[i]))
    bye = None
    if len(order) % 2:
        bye = next((i for i in reversed(order) if i not in byes), order[-1])
        order.remove(bye)
    pairs, free = [], list(order)
    while free:
        top = free.pop(0)
        mate = next((o for o in free if frozenset((top, o)) not in met), free[0])  # rematch only when forced
        free.remove(mate)
        pairs.append((top, mate))
    return pairs, bye


# --------------------------------------------------------------------------- the tournament


def run(
    ids: Sequence[str],
    judge: Judge,
    *,
    mapper: Mapper = in_order,
    k: float = ELO_K,
    start: float = ELO_START,
    all_pairs_max: int = ALL_PAIRS_MAX,
    samples: int = BOOTSTRAP,
    seed: int = 0,
) -> tuple[list[Match], list[Rating], str, int]:
    """Play the tournament: (matches in played order, ratings best first, pairing name, rounds)."""
    ids = list(ids)
    if len(ids) <= all_pairs_max:
        matches = play(all_pairs(ids), judge, mapper) if len(ids) > 1 else []
        pairing, rounds = "all pairs", 1 if matches else 0
    else:
        matches, byes = [], set()
        pairing, rounds = "swiss", swiss_rounds(len(ids))
        for _ in range(rounds):
            pairs, bye = swiss_pairs(ids, matches, byes, k=k, start=start)
            if bye:
                byes.add(bye)
            matches += play(pairs, judge, mapper)
    return matches, ratings(ids, matches, k=k, start=start, samples=samples, seed=seed), pairing, rounds


# --------------------------------------------------------------------------- de-duplication


_UP = re.compile(r"\b(increas|rais|widen|enlarg|enhanc|higher|larger|grow|strengthen|stabiliz)\w*", re.IGNORECASE)
_DOWN = re.compile(
    r"\b(decreas|lower|reduc|narrow|shrink|smaller|suppress|weaken|destabiliz|diminish)\w*", re.IGNORECASE
)


def polarity(text: str) -> tuple[bool, bool]:
    """(says something goes up, says something goes down)."""
    return bool(_UP.search(text)), bool(_DOWN.search(text))


def opposite_claims(a: str, b: str) -> bool:
    """Sentence embeddings barely see a flipped direction ("narrow" vs "widen": cosine 0.997), so a pair
    whose directional words disagree is never merged."""
    pa, pb = polarity(a), polarity(b)
    return any(pa) and any(pb) and pa != pb


def near_duplicates(
    ids: Sequence[str], vectors: np.ndarray, threshold: float = DEDUP_THRESHOLD, texts: Sequence[str] | None = None
) -> list[Merge]:
    """Greedy merge in ``ids`` order (best first): a candidate whose cosine similarity to an already kept
    one is at least ``threshold`` is merged into the most similar such one (never across opposite claims
    when ``texts`` are given)."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T
    kept: list[int] = []
    merges = []
    for j, i in enumerate(ids):
        twins = [q for q in kept if not (texts and opposite_claims(texts[j], texts[q]))]
        best = max(twins, key=lambda q: sim[j, q], default=None)
        if best is not None and sim[j, best] >= threshold:
            merges.append(Merge(id=i, into=ids[best], similarity=round(float(sim[j, best]), 3)))
        else:
            kept.append(j)
    return merges


# --------------------------------------------------------------------------- rank score


def elo_score(rating: float, start: float = ELO_START) -> float:
    return max(0.0, min(100.0, 50.0 + (rating - start) / 2.0))


def rank_score(
    review_score: float, verdict: Verdict | None, rating: float | None = None, start: float = ELO_START
) -> float:
    """The one ranking rule (module docstring): Elo and review score weighted, plus the evidence bonus."""
    base = (
        float(review_score)
        if rating is None
        else (ELO_WEIGHT * elo_score(rating, start) + (1 - ELO_WEIGHT) * review_score)
    )
    bonus = EVIDENCE_BONUS[verdict] if verdict else 0.0
    return round(max(0.0, min(100.0, base + bonus)), 2)
