"""A plan -> predictor numbers, as numbered facts for the generator ([E1], [E2] ...).

    gather(plan) -> Evidence                      # the planned requests predicted
    evidence_for(question) -> Evidence            # plan + gather, once per question (cached per process)
    for_context(evidence, concept) -> Evidence    # the context's concept may choose the property
    prompt_block(evidence) -> str                 # the generator's evidence block ('' without numbers)

Trends (over pair distance or defect count) are the bridge's own requests (``validate_request``),
judged against the question's claimed direction where it states one; comparisons predict each
species (or same vs different layers); screens rank every symmetry-distinct arrangement
(``hypofinder.defects.screening``) and keep the best and worst.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hypofinder.bridge.evidence import judge
from hypofinder.bridge.planner import HOST_NAMES, is_sided, plan, read_property
from hypofinder.models import (
    ConfigurationPrediction,
    Evidence,
    Validation,
    ValidationRequest,
)
from hypofinder.prediction import registry, spec

MAX_FACTS = 4
SCREEN_KEEP = 3  # best and worst configurations kept from a screen


def _request(ev: Evidence, defects: list[str], variable: str, **kw) -> ValidationRequest:
    return ValidationRequest(
        host=ev.host, defects=defects, target=ev.target, variable=variable, direction=ev.direction or "no_change", **kw
    )


def _names(tokens: list[str]) -> str:
    return "+".join(tokens)


def _span(v: Validation, target: str) -> str:
    """'HOMO level 1.23 ± 0.04 eV' (one configuration) or its range and mean, in the property's unit."""
    ps = spec(target)
    values = [ps.of(p) for p in v.predictions]
    if len(values) == 1:
        return f"{ps.title} {ps.value(*values[0])}"
    y = np.array([x for x, _ in values], dtype=float)
    return (
        f"{ps.title} {ps.value(np.nanmin(y), unit=False)} to {ps.value(np.nanmax(y))} "
        f"(mean {ps.value(np.nanmean(y), unit=False)})"
    )


def _other(target: str, host: str | None) -> str:
    """The property given beside the target in a fact (formation energy, or the gap beside it)."""
    return registry().companion(target, host).name


def _trend(ev: Evidence, defects: list[str], variable: str) -> Validation:
    from hypofinder.bridge import validate_request

    v = validate_request(_request(ev, defects, variable), claim=ev.direction is not None)
    if v.predictions:
        what = f"{_names(defects)} in {HOST_NAMES[ev.host]}"
        v.summary = f"{what}: {v.summary}; {_span(v, _other(ev.target, ev.host))}"
    return v


def _numbers(ev: Evidence, defects: list[str], what: str, **kw) -> Validation:
    from hypofinder.bridge import validate_request

    v = validate_request(_request(ev, defects, "none", **kw), claim=False)
    if v.predictions:
        inside = sum(p.in_domain for p in v.predictions)
        v.summary = (
            f"{what}: {_span(v, ev.target)}, {_span(v, _other(ev.target, ev.host))} "
            f"({len(v.predictions)} configuration{'s' if len(v.predictions) > 1 else ''}, {inside} in the training domain)"
        )
    return v


def _screen(ev: Evidence, defects: list[str]) -> Validation:
    from hypofinder.defects.screening import screen

    req = _request(ev, defects, "pair_distance")
    low = screen(ev.host, defects, target=ev.target, maximize=False, limit=SCREEN_KEEP, with_cif=False)
    high = screen(ev.host, defects, target=ev.target, maximize=True, limit=SCREEN_KEEP, with_cif=False)
    preds, seen = [], set()
    for tag, res in (("lowest", low), ("highest", high)):
        for c in res.best:
            if c.label in seen:
                continue
            seen.add(c.label)
            preds.append(
                ConfigurationPrediction(
                    label=f"{tag} #{c.rank}: {c.label}",
                    defects=c.defects,
                    variable_value=c.mean_distance,
                    **c.properties(),
                )
            )
    ps = spec(ev.target)
    name = ps.title
    lo, hi = low.best[0], high.best[0]

    def at(c) -> str:
        d = f", mean pair distance {c.mean_distance:.1f} Å" if c.mean_distance is not None else ""
        return f"{ps.value(*ps.of(c))}{d}"

    summary = (
        f"{_names(defects)} in {HOST_NAMES[ev.host]}, {low.n_distinct} symmetry-distinct arrangements screened: "
        f"lowest {name} {at(lo)}; highest {at(hi)} ({low.n_in_domain} in the training domain)"
    )
    return Validation(request=req, predictions=preds, verdict="inconclusive", summary=summary)


def gather(ev: Evidence) -> Evidence:
    """Run the plan: one Validation per fact (request, predictions, one sentence); never raises."""
    if not ev.in_scope:
        return ev
    facts: list[Validation] = []
    try:
        sp, n = ev.species, ev.copies
        if ev.kind == "screen":
            facts.append(_screen(ev, (sp * n)[: max(n, len(sp))]))
        elif ev.kind == "trend" and ev.variable == "pair_distance":
            facts.append(_trend(ev, (sp * n)[: max(n, len(sp))], "pair_distance"))
        elif ev.kind == "trend":
            facts += [_trend(ev, [s], "defect_count") for s in sp[:MAX_FACTS]]
        elif ev.variable == "layer":
            for s in [s for s in sp if is_sided(ev.host, s)][:2]:
                for same in (True, False):
                    where = "in the same layer" if same else "in different layers"
                    facts.append(
                        _numbers(ev, [s] * n, f"{_names([s] * n)} {where} of {HOST_NAMES[ev.host]}", same_layer=same)
                    )
        else:
            for s in sp[:MAX_FACTS]:
                count = "one" if n == 1 else str(n)
                facts.append(_numbers(ev, [s] * n, f"{count} {s} in {HOST_NAMES[ev.host]}"))
    except Exception as exc:  # noqa: BLE001 - evidence must never sink the query
        msg = " ".join(str(exc).split())[:200]
        return ev.model_copy(update={"summary": f"no predictor numbers: the planned prediction failed ({msg})"})
    facts = [f for f in facts if f.predictions]
    if not facts:
        return ev.model_copy(update={"summary": "no predictor numbers: no planned configuration could be predicted"})
    return ev.model_copy(update={"facts": facts, "summary": _summary(ev, facts)})


def _summary(ev: Evidence, facts: list[Validation]) -> str:
    n = sum(len(f.predictions) for f in facts)
    verdicts = [f.verdict for f in facts if f.verdict in ("supported", "contradicted")]
    claim = f"; the question's claim '{ev.direction}' is {verdicts[0]}" if ev.direction and verdicts else ""
    return (
        f"{len(facts)} predictor fact{'s' if len(facts) > 1 else ''} ({n} configurations) on "
        f"{_names(ev.species)} in {HOST_NAMES[ev.host]}, {spec(ev.target).title}{claim}"
    )


@lru_cache(maxsize=32)
def evidence_for(question: str) -> Evidence:
    """Plan once per question, predict once, share across contexts (cached per process). An inverse question
    ("which defects would give ...") gets a design run instead (``hypofinder.bridge.design``)."""
    from hypofinder.bridge.design import design_evidence

    return design_evidence(question) or gather(plan(question))


def for_context(ev: Evidence, concept: str | None) -> Evidence:
    """The question named no property but the context's concept does: the same predictions, re-judged."""
    if not ev.facts or ev.property is not None or not concept:
        return ev
    cprop, target, note = read_property(concept, ev.host)
    if cprop is None or note or target == ev.target:
        return ev
    facts = []
    for f in ev.facts:
        req = f.request.model_copy(update={"target": target})
        if req.variable == "none" or ev.kind == "screen":
            v = f.model_copy(update={"request": req})
        else:
            verdict, summary, slope = judge(req, f.predictions, claim=False)
            what = f"{_names(req.defects)} in {HOST_NAMES[ev.host]}"
            v = f.model_copy(
                update={
                    "request": req,
                    "verdict": verdict,
                    "trend": slope,
                    "summary": f"{what}: {summary}; {_span(f, _other(target, ev.host))}",
                }
            )
        facts.append(v)
    note = f"no property named: {spec(target).title} from the context's concept '{concept}'"
    upd = {
        "target": target,
        "facts": facts,
        "assumptions": [a for a in ev.assumptions if not a.startswith("no property")] + [note],
    }
    out = ev.model_copy(update=upd)
    return out.model_copy(update={"summary": _summary(out, facts)})


def prompt_block(ev: Evidence | None) -> str:
    """The generator's evidence block: numbered facts and how to use them; '' for other questions."""
    if ev is None or not ev.facts:
        return ""
    cite = ", ".join(f"[{i}]" for i in ev.fact_ids())
    lines = [
        "Predictor evidence (defect-property model trained on DFT data; build the hypothesis on these numbers "
        f"and cite them as {cite}; end the rationale with one):"
    ]
    lines += [f"[E{i}] {f.summary}" for i, f in enumerate(ev.facts, 1)]
    if ev.assumptions:
        lines.append("Assumed: " + "; ".join(ev.assumptions) + ".")
    toks = ", ".join(ev.species)
    lines.append(
        f'Also give "validation_request" for your claim: host {ev.host}, defects as tokens (here {toks}; '
        f"vX = X vacancy, A_B = A on a B site), target (here {ev.target}; one of {', '.join(s.name for s in registry() if s.carried_by(ev.host))}), "
        "variable "
        "(pair_distance or defect_count) and direction (increases, decreases, no_change)."
    )
    return "\n".join(lines)


__all__ = ["evidence_for", "for_context", "gather", "prompt_block"]
