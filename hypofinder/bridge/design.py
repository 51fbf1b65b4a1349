"""Inverse questions ("which defects would give MoS2 a gap near 1.2 eV?", "how to reach a gap of 0.8 eV in WSe2",
"lowest formation energy configuration with vS in MoS2") -> a design run (``hypofinder.defects.design``) ->
evidence whose facts are the best candidates: [E1] "vS×2 + W_Mo, d_min 3.2 Å: HOMO-LUMO gap 1.21 ± 0.01 eV ...".

    read_inverse(question) -> InverseAsk | None     # what the words ask for; None: not an inverse question
    design_evidence(question) -> Evidence | None    # the design run as evidence ([E1], [E2] ...)

Deterministic like the planner (regular expressions; the host, species and property words are the planner's).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from hypofinder.bridge.vocabulary import HOST_NAMES, host_domain
from hypofinder.models import (
    ConfigurationPrediction,
    Evidence,
    PropertyPrediction,
    Target,
    Validation,
    ValidationRequest,
)

BUDGET = 1000  # predictor calls per design run planned from a question (a few seconds)
TOLERANCE = 0.05  # eV (μB for magnetization): "near" a stated value
KEEP = 3  # candidates kept as facts: the best of each of the first KEEP compositions
POOL = 100  # best candidates read to find them
MAX_COUNT = 6  # defects per configuration at most, as in the planner's configurations

_ASK = re.compile(
    r"\bwhich\s+(?:point\s+)?(?:defects?|vacanc\w+|dopants?|substitutions?|configurations?|arrangements?|"
    r"combinations?)\s+(?:\w+\s+){0,2}?(?:would|could|should|will|can|might|to)\s+(?:\w+\s+){0,2}?"
    r"(?:give|gives|yield|produce|lead\s+to|result\s+in|reach|achieve|get|open|set)\b"
    r"|\bhow\s+(?:to|can|could|should|would|do|does|might)\s+(?:\w+\s+){0,4}?"
    r"(?:reach|get|achieve|obtain|attain|tune|engineer|design|mix)\b"
    r"|\b(?:lowest|highest|smallest|largest|minimum|maximum)[\s-]+(?:[\w-]+\s+){0,3}?"
    r"(?:configurations?|arrangements?|structures?|combinations?)\b"
    r"|\binverse\s+design\b",
    re.IGNORECASE,
)
_VALUE = re.compile(
    r"(?:near|around|about|of|to|at|close\s+to|≈|~|=|reach(?:ing)?|exactly)\s*(-?\d+(?:\.\d+)?)\s*(?:eV|μB|muB)\b",
    re.IGNORECASE,
)
_MAX = re.compile(r"\b(?:highest|largest|maximi[sz]\w*|maximum|widest|biggest|most)\b", re.IGNORECASE)
_MIN = re.compile(r"\b(?:lowest|smallest|minimi[sz]\w*|minimum|narrowest|least|cheapest)\b", re.IGNORECASE)


class InverseAsk(BaseModel):
    """What an inverse question asks for: host, species (empty: all), target and value or direction."""

    host: str
    species: list[str]
    target: Target
    value: float | None = None
    maximize: bool | None = None
    notes: list[str] = []


def read_inverse(question: str) -> InverseAsk | None:
    """The design a question asks for, or None when it is not an inverse question about a known host."""
    from hypofinder.bridge.planner import find_host, find_species, read_property

    text = " ".join((question or "").split())
    if not _ASK.search(text):
        return None
    host = find_host(text)
    if host is None:
        return None
    notes: list[str] = []
    species, _ = find_species(text, host, notes)
    species = [s for s in species if s in host_domain()[host]["types"]]
    prop, target, note = read_property(text, host)
    if note:
        notes.append(note)
    m = _VALUE.search(text)
    if m:
        return InverseAsk(host=host, species=species, target=target, value=float(m.group(1)), notes=notes)
    hi, lo = _MAX.search(text), _MIN.search(text)
    if not hi and not lo:
        return None
    maximize = bool(hi) and (not lo or hi.start() < lo.start())
    return InverseAsk(host=host, species=species, target=target, maximize=maximize, notes=notes)


def design_evidence(question: str) -> Evidence | None:
    """The design run an inverse question asks for, as evidence; None for other questions. Never raises."""
    ask = read_inverse(question)
    if ask is None:
        return None
    from hypofinder.defects.design import design

    name = HOST_NAMES[ask.host]
    lo = max(1, int(host_domain()[ask.host]["n_min"]))
    counts = (lo, max(lo, MAX_COUNT))
    goal = (
        f"{PropertyPrediction.title(ask.target)} near {ask.value:g} {PropertyPrediction.unit(ask.target)}"
        if ask.value is not None
        else f"{'largest' if ask.maximize else 'smallest'} {PropertyPrediction.title(ask.target)}"
    )
    species = ask.species or None
    base = dict(
        in_scope=True,
        host=ask.host,
        species=ask.species,
        property=ask.target,
        target=ask.target,
        variable="none",
        kind="screen",
        assumptions=[
            *ask.notes,
            f"an inverse question: a design search over {counts[0]}-{counts[1]} defects of "
            f"{', '.join(ask.species) if ask.species else 'every trained species'} in {name}, {BUDGET} predictor calls",
        ],
    )
    try:
        res = design(
            ask.host,
            ask.target,
            value=ask.value,
            maximize=ask.maximize,
            tolerance=TOLERANCE,
            species=species,
            counts=counts,
            budget=BUDGET,
            limit=POOL,
            with_cif=False,
        )
    except Exception as exc:  # noqa: BLE001 - evidence must never sink the query
        msg = " ".join(str(exc).split())[:200]
        return Evidence(**base, reason=f"inverse design of {goal} in {name}", summary=f"no predictor numbers: {msg}")
    seen: set[tuple] = set()
    keep = []
    for c in sorted({x.label: x for x in res.best + res.pareto}.values(), key=lambda x: x.rank):
        # the best candidate of each composition: distinct facts
        comp = tuple(sorted(c.composition.items()))
        if c.in_domain and c.within_tolerance is not False and comp not in seen and len(keep) < KEEP:
            seen.add(comp)
            keep.append(c)
    facts = [_fact(res, c) for c in keep]
    base["species"] = list(res.species)
    found = f"{res.n_within} within ±{res.tolerance:g} {res.unit}" if res.value is not None else f"{res.calls} ranked"
    summary = (
        f"{len(facts)} design candidate{'s' if len(facts) != 1 else ''} for {goal} in {name} "
        f"({res.calls} configurations predicted, {found})"
        if facts
        else "no predictor numbers: no candidate inside the training domain (and the tolerance)"
    )
    return Evidence(**base, reason=f"inverse design of {goal} in {name}", facts=facts, summary=summary)


def _fact(res, c) -> Validation:
    t = res.target
    comp = " + ".join(f"{k}×{n}" if n > 1 else k for k, n in c.composition.items())
    d = f", d_min {c.min_distance:.1f} Å" if c.min_distance is not None else ""
    y, s = getattr(c, t), getattr(c, t + "_std")
    ef = c.formation_energy_per_site
    other = (
        f", formation energy {ef:.2f} ± {c.formation_energy_per_site_std:.2f} eV per defect"
        if t != "formation_energy_per_site"
        else ""
    )
    summary = (
        f"{comp}{d}: {PropertyPrediction.title(t)} {y:.2f} ± {s:.2f} {res.unit} (±2σ {c.interval[0]:.2f} to {c.interval[1]:.2f})"
        f"{other}; rank {c.rank} of {res.calls} designed configurations of {HOST_NAMES[res.host]}"
    )
    req = ValidationRequest(host=res.host, defects=c.defects, target=t, variable="none", direction="no_change")
    pred = ConfigurationPrediction(label=c.label, defects=c.defects, variable_value=c.min_distance, **c.properties())
    return Validation(request=req, predictions=[pred], verdict="inconclusive", summary=summary)


__all__ = ["InverseAsk", "design_evidence", "read_inverse"]
