"""The bridge: a hypothesis' defect claim -> defect-predictor evidence (``Validation``).

    validate(request: ValidationRequest | dict | None, text: str = "", include_cif=False) -> Validation
    build(request) -> list[Configuration]     # the concrete supercells validate() predicts
    read_text(text) -> TextReading            # scope + request read from free text
    plan(question) -> Evidence                # the planner: which defect space a question asks about
    evidence_for(question) -> Evidence        # ... and its predictor numbers, before generation ([E1], [E2] ...)

``validate`` never raises: bad or impossible requests give verdict "out of scope" with the
reason in ``summary``; a text without a request is read for scope and, where its words allow
it, a request (said so in the summary). The predictor and host supercells are cached per process.
"""

from __future__ import annotations

from pydantic import ValidationError

from hypofinder.bridge.configs import Configuration, build, check_request
from hypofinder.bridge.evidence import judge
from hypofinder.bridge.facts import evidence_for, for_context, gather, prompt_block
from hypofinder.bridge.planner import plan
from hypofinder.bridge.text import TextReading, read_text
from hypofinder.errors import BadInputError, HypofinderError, one_line
from hypofinder.models import ConfigurationPrediction, Validation, ValidationRequest


def validate(request: ValidationRequest | dict | None, text: str = "", include_cif: bool = False) -> Validation:
    """Evidence for one hypothesis: predictions of concrete configurations, a verdict and its reason."""
    try:
        if request is None:
            return _from_text(text or "", include_cif)
        if not isinstance(request, ValidationRequest):
            try:
                request = ValidationRequest.model_validate(request)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "request"
                return Validation(verdict="out of scope", summary=f"malformed request ({where}: {err['msg']})")
        return validate_request(request, include_cif)
    except HypofinderError as exc:  # DataNotFoundError (no weights) and the like: a reason, not a crash
        return Validation(
            request=request if isinstance(request, ValidationRequest) else None,
            verdict="inconclusive",
            summary=f"predictor unavailable: {exc}",
        )
    except Exception as exc:  # noqa: BLE001 - one bad hypothesis must never sink the whole query
        msg = one_line(exc, 200)
        return Validation(
            request=request if isinstance(request, ValidationRequest) else None,
            verdict="inconclusive",
            summary=f"validation failed ({type(exc).__name__}: {msg})",
        )


def validate_request(req: ValidationRequest, include_cif: bool = False, claim: bool = True) -> Validation:
    """Predict the configurations of one structured request and judge the claim (numbers only: claim=False)."""
    from hypofinder.defects.predictor import DefectPredictor

    try:
        configs = build(req)
    except BadInputError as exc:
        return Validation(request=req, verdict="out of scope", summary=str(exc))
    predictor = DefectPredictor.load()
    try:
        for subset in dict.fromkeys(c.host.subset for c in configs):
            predictor.require(subset, req.target)
    except BadInputError as exc:
        return Validation(request=req, verdict="out of scope", summary=str(exc))
    results = predictor.predict([c.structure for c in configs], host=configs[0].host.name)
    preds, notes, failed = [], [], []
    for c, r in zip(configs, results):
        if r.error:
            failed.append(f"{c.label}: {r.error}")
            continue
        notes += [n for n in r.domain_notes if n not in notes]
        preds.append(
            ConfigurationPrediction(
                label=c.label,
                defects=r.defects,
                variable_value=c.variable_value,
                cif=str(c.structure.to(fmt="cif")) if include_cif else None,
                **r.properties(),
            )
        )
    if not preds:
        return Validation(request=req, verdict="inconclusive", summary=f"no prediction succeeded ({failed[0]})")
    pair = _pair_name(req)
    verdict, summary, slope = judge(req, preds, notes, pair, claim=claim)
    return Validation(request=req, predictions=preds, verdict=verdict, summary=summary, trend=slope)


def _pair_name(req: ValidationRequest) -> str:
    toks = list(dict.fromkeys(req.defects))
    if len(req.defects) == 2:
        return f"{req.defects[0]}–{req.defects[1]} distance"
    return f"mean pair distance of {', '.join(toks)}"


def _from_text(text: str, include_cif: bool) -> Validation:
    reading: TextReading = read_text(text)
    if not reading.in_scope:
        return Validation(verdict="out of scope", summary=reading.reason)
    if reading.request is None:
        return Validation(verdict="inconclusive", summary=f"no structured request emitted: {reading.reason}")
    req = reading.request
    parsed = (
        f"no structured request emitted; read from the text as {req.host} {'+'.join(req.defects)}, "
        f"{req.target} vs {req.variable}"
    )
    v = validate_request(req, include_cif, claim=reading.direction_stated)
    if v.verdict == "out of scope":
        return Validation(
            request=req, verdict="inconclusive", summary=f"{parsed}, which cannot be tested ({v.summary})"
        )
    said = f", '{req.direction}'" if reading.direction_stated else " (no direction stated, numbers only)"
    return v.model_copy(update={"summary": f"{parsed}{said}: {v.summary}"})


__all__ = [
    "Configuration",
    "TextReading",
    "build",
    "check_request",
    "evidence_for",
    "for_context",
    "gather",
    "plan",
    "prompt_block",
    "read_text",
    "validate",
    "validate_request",
]
