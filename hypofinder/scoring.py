"""The review score, computed from what can be checked; the model's own numbers are one input.

For each rubric dimension (novelty, plausibility, testability, specificity), with ``w`` the model weight of the
run's capability profile (tiny 0.2, capable 0.5, ``hypofinder.profiles``)::

    dimension = w x (the model's rubric value) + (1 - w) x (the checked value)
    score     = round(mean of the four dimensions)

Checked values, 0-100:

- specificity: the share of the plan's facts the hypothesis uses: the planned system and property named in
  the statement or rationale, each planned technique named in a step (no plan: 50);
- testability: 40 for a measurable quantity in the statement (a number, a unit, or a property word), 30 for a
  direction or comparison ("lowers", "than", ...), 30 x the share of steps that name a planned technique;
- plausibility: the predictor's verdict on the claim, supported 90 / inconclusive 50 / contradicted 10 (no
  verdict: 50), minus 20 for each citation that does not hold;
- novelty: 100 x the novelty against the library in grounded runs; otherwise the model's value alone.

The report keeps the model's score and rubric (``Review.model_score``, ``Review.model_rubric``) and the
checked values (``Review.checks``); ``Review.rubric`` holds the blended dimensions, so the score is their mean.
"""

from __future__ import annotations

import re

from hypofinder.models import CitationFlag, Hypothesis, Novelty, Plan, Review, Rubric, Validation
from hypofinder.ontology.plan import QUANTITY, names

VERDICT_VALUE = {"supported": 90, "inconclusive": 50, "contradicted": 10}
NUMBER = re.compile(r"\b\d+(\.\d+)?\s?(%|[a-zA-Zμ°]{1,4}\b)?")
DIRECTION = re.compile(
    r"\b(increase[sd]?|decrease[sd]?|raise[sd]?|lower(s|ed)?|reduce[sd]?|enhance[sd]?|suppress(es|ed)?|"
    r"higher|lower|larger|smaller|more|less|than|shift(s|ed)?|narrow(s|ed)?|widen(s|ed)?|grow(s|n)?|drop(s|ped)?|"
    r"rise[sd]?|doubl(e|es|ed)|halv(e|es|ed)|peak(s|ed)?|scal(e|es|ed)|proportional|linear(ly)?)\b",
    re.I,
)


def specificity(h: Hypothesis, plan: Plan | None) -> int:
    if plan is None or not plan.facts:
        return 50
    claim = f"{h.statement} {h.rationale}"
    used = [names(claim, f.label) for f in plan.systems + plan.properties]
    used += [any(names(step, f.label) for step in h.steps) for f in plan.techniques]
    return round(100 * sum(used) / len(used))


def testability(h: Hypothesis, plan: Plan | None) -> int:
    props = [f.label for f in plan.properties] if plan else []
    measurable = bool(NUMBER.search(h.statement) or QUANTITY.search(h.statement)) or any(
        names(h.statement, p) for p in props
    )
    direction = bool(DIRECTION.search(h.statement))
    techniques = [f.label for f in plan.techniques] if plan else []
    named = sum(any(names(s, t) for t in techniques) for s in h.steps) / len(h.steps) if techniques else 0.0
    return round(40 * measurable + 30 * direction + 30 * named)


def plausibility(validation: Validation | None, citation_flags: list[CitationFlag] = ()) -> int:
    base = VERDICT_VALUE.get(validation.verdict, 50) if validation is not None and validation.applies else 50
    return max(0, base - 20 * len(citation_flags))


def scored(
    review: Review,
    h: Hypothesis,
    *,
    plan: Plan | None,
    validation: Validation | None,
    weight: float,
    citation_flags: list[CitationFlag] = (),
    novelty: Novelty | None = None,
) -> Review:
    """``review`` with its score and rubric computed (see the module), the model's kept beside them."""
    model = review.model_rubric or review.rubric
    checks = {
        "specificity": specificity(h, plan),
        "testability": testability(h, plan),
        "plausibility": plausibility(validation, citation_flags),
    }
    if novelty is not None:
        checks["novelty"] = round(100 * novelty.score)
    blended = {
        k: round(weight * getattr(model, k) + (1 - weight) * checks[k]) if k in checks else getattr(model, k)
        for k in Rubric.model_fields
    }
    return review.model_copy(
        update={
            "rubric": Rubric(**blended),
            "score": round(sum(blended.values()) / len(blended)),
            "model_rubric": model,
            "model_score": review.model_score if review.model_score is not None else review.score,
            "checks": checks,
        }
    )
