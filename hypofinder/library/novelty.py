"""Novelty of a text against a library, calibrated on the library's own papers.

Density of a text = 0.5 x its similarity to the closest paper + 0.5 x the mean similarity to its
``NEIGHBOURS`` closest papers (one best passage per paper): how crowded its neighbourhood is.

Calibration (after every ``library add``): for up to ``CALIBRATION_PAPERS`` papers, the title is a
claim (titles read like hypothesis statements and, of title, first, middle or last sentence, they
separate best). Scored next to the rest of its paper's first passage plus the other papers, it is a
claim the library already holds (label 0); scored next to the other papers only, it is a claim new
to the library (label 1). A logistic fit of label on density (small ridge penalty)
turns any density into P(new): the novelty in [0, 1]. With under ``MIN_PAPERS`` papers there is
nothing to calibrate on and novelty is 1 - similarity to the closest paper.
"""

from __future__ import annotations

import numpy as np

from hypofinder.library.citations import strip_citations
from hypofinder.library.models import Calibration
from hypofinder.library.search import as_library, nearest_papers
from hypofinder.library.store import Library, embed
from hypofinder.models import Novelty

NEIGHBOURS = 5
CALIBRATION_PAPERS = 60
MIN_PAPERS = 3
RIDGE = 0.01


def density(scores: list[float]) -> float:
    top = sorted(scores, reverse=True)[:NEIGHBOURS]
    return 0.5 * top[0] + 0.5 * float(np.mean(top)) if top else 0.0


def _split(text: str, title: str) -> tuple[str, str] | None:
    """(the title as the paper's claim, the rest of its first passage), or None when there is no rest."""
    body = text[len(title) :].lstrip(". ") if text.startswith(title) else text
    return (title, body) if len(body.split()) >= 10 and title else None


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> tuple[float, float]:
    """Newton's method for P(y=1|x) = sigmoid(a + b x), ridge on b (keeps separable data finite)."""
    a, b = 0.0, 0.0
    X = np.stack([np.ones_like(x), x], axis=1)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(X @ np.array([a, b]))))
        grad = X.T @ (p - y) + np.array([0.0, ridge * b])
        hess = X.T @ (X * (p * (1 - p))[:, None]) + np.diag([1e-9, ridge])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def calibrate(lib: Library) -> Calibration | None:
    res = lib.collection.get(where={"chunk": 0}, limit=CALIBRATION_PAPERS, include=["metadatas", "documents"])
    probes = [(m, s) for m, t in zip(res["metadatas"], res["documents"]) if (s := _split(t, m["title"]))]
    if len(probes) < MIN_PAPERS:
        return None
    vectors = embed([s[0] for _, s in probes] + [s[1] for _, s in probes], batch=True)
    claims, rests = vectors[: len(probes)], vectors[len(probes) :]
    found = nearest_papers(lib, claims, NEIGHBOURS + 1)
    own, other = [], []
    for (meta, _), claim, rest, rows in zip(probes, claims, rests, found):
        others = [r["score"] for r in rows if r["doc"] != meta["doc"]][:NEIGHBOURS]
        if not others:
            continue
        other.append(density(others))
        own.append(density([float(claim @ rest), *others]))
    if len(own) < MIN_PAPERS:
        return None
    a, b = fit_logistic(np.array(own + other), np.array([0.0] * len(own) + [1.0] * len(other)))
    return Calibration(
        a=round(a, 5),
        b=round(b, 5),
        papers=len(own),
        own=round(float(np.median(own)), 4),
        other=round(float(np.median(other)), 4),
    )


def novelty(library: Library | str, text: str) -> Novelty:
    """Novelty of ``text`` in [0, 1] with the closest paper named (see the module docstring)."""
    lib = as_library(library)
    text = strip_citations(text)
    rows = nearest_papers(lib, embed([text]), NEIGHBOURS)[0] if text else []
    if not rows:
        return Novelty(score=1.0)
    closest, cal = rows[0], lib.manifest.calibration
    if cal is not None:
        score = 1.0 / (1.0 + np.exp(-(cal.a + cal.b * density([r["score"] for r in rows]))))
    else:
        score = 1.0 - closest["score"]
    return Novelty(
        score=round(float(min(1.0, max(0.0, score))), 4),
        closest_id=closest["doc"],
        closest_title=closest["title"],
        similarity=round(closest["score"], 4),
    )
