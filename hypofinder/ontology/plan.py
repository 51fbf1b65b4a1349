"""The plan of a question: what PhySH says it is about, picked deterministically before any model writes.

For each context the planner picks, by hybrid search restricted to a facet:

- the physical system ([Y1]): the best "Physical Systems" concept, when it is close to the question;
- the property ([P1]): the best "Properties" or "Research Areas" concept whose label the question names
  (PhySH files most properties under research areas: "Electrical conductivity", "Band gap");
- 2-3 techniques ([T1]...): the best concepts of the technique facets for question + context concept, at least
  one experimental and one theoretical or computational where both come close.

Each pick carries its PhySH scope note where there is one. The generator gets them as numbered facts; the
checker verifies that the statement names the system and the property, and each step a planned technique.
"""

from __future__ import annotations

import re

from hypofinder.models import Plan, PlanFact

EXPERIMENTAL = ("Experimental Techniques",)
THEORETICAL = ("Theoretical Techniques", "Computational Techniques", "Theoretical & Computational Techniques")
MIN_SYSTEM, MIN_TECHNIQUE = 0.40, 0.33  # hybrid scores below these were mostly unrelated (six probe questions)
TECHNIQUES = 3
_WORD = re.compile(r"[a-z][a-z0-9]+")
# Words that name a measurable quantity: a property the question names is preferred when it is one of these
# ("Band gap" over "Vacancies"); hypofinder.scoring reads it for testability.
QUANTITY = re.compile(
    r"\b(gap|temperature|conductivity|resistivity|resistance|energy|energies|lifetime|mobility|magnetization|"
    r"susceptibility|coercivity|modulus|strength|density|rate|length|frequency|velocity|efficiency|"
    r"coherence|current|field|pressure|spectrum|absorption|emission|capacity|barrier|width|"
    r"constant|coefficient|ratio|time|phase|order|curie|transition|conduction|transport|magnetoresistance)",
    re.I,
)
_STOP = frozenset("and the of in on for with to by from a an or methods method theory techniques".split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _stem(word: str) -> str:
    return word[: max(5, len(word) - 3)] if len(word) > 6 else word


def named_share(text: str, label: str) -> float:
    """The share of ``label``'s content words (by stem) that appear in ``text``."""
    want = {_stem(w) for w in _words(label)}
    return len(want & {_stem(w) for w in _words(text)}) / len(want) if want else 0.0


def names(text: str, label: str) -> bool:
    """Does ``text`` name ``label``: at least half of the label's content words (by stem) appear in it?"""
    return named_share(text, label) >= 0.5


_PREFIX = {"system": "Y", "property": "P", "technique": "T"}


def _fact(hit, kind: str, n: int, facet: str) -> PlanFact:
    from hypofinder.ontology import get_concept

    note = " ".join((get_concept(hit.id).scope_note or "").split())
    note = note if len(note) >= 40 else ""  # a few scope notes are editorial ("From ...'s list"), not definitions
    return PlanFact(
        id=f"{_PREFIX[kind]}{n}", kind=kind, label=hit.label, concept_id=hit.id, facet=facet, note=note[:200]
    )


def plan_for(query: str, concept: str = "") -> Plan:
    """The plan of ``query`` seen from the context whose lead concept is ``concept``."""
    from hypofinder.ontology import search

    systems = [h for h in search(query, 3, facet="Physical Systems") if h.score >= MIN_SYSTEM][:1]
    props = [
        (h, facet)
        for facet in ("Properties", "Research Areas")
        for h in search(query, 8, facet=facet)
        if names(query, h.label)
    ]
    # a quantity first, then the label the question names most fully ("Band gap" over "Superconducting gap")
    props = sorted(
        props, key=lambda hf: (not QUANTITY.search(hf[0].label), -named_share(query, hf[0].label), -hf[0].score)
    )[:1]
    taken = {h.label.lower() for h in systems} | {h.label.lower() for h, _ in props} | {concept.lower()}
    pool: dict[str, tuple] = {}
    for facet in EXPERIMENTAL + THEORETICAL:
        for h in search(f"{query} {concept}".strip(), 4, facet=facet):
            if (
                h.score >= MIN_TECHNIQUE
                and h.label.lower() not in taken
                and h.score > pool.get(h.label, (h, ""))[0].score - (h.label not in pool)
            ):
                pool[h.label] = (h, facet)
    ranked = sorted(pool.values(), key=lambda hf: -hf[0].score)
    picked = [hf for hf in ranked if hf[1] in EXPERIMENTAL][:1] + [hf for hf in ranked if hf[1] in THEORETICAL][:1]
    picked += [hf for hf in ranked if hf not in picked][: TECHNIQUES - len(picked)]
    picked.sort(key=lambda hf: -hf[0].score)
    return Plan(
        systems=[_fact(h, "system", 1, "Physical Systems") for h in systems],
        properties=[_fact(h, "property", 1, facet) for h, facet in props],
        techniques=[_fact(h, "technique", i, facet) for i, (h, facet) in enumerate(picked, 1)],
    )
