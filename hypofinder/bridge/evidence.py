"""Predictions -> trend, verdict and the one-sentence reason.

Trend: least-squares slope of the target against the claimed variable; its uncertainty adds the
uncertainty of the predictions (propagated) and the scatter of the points about the
line (ordinary least-squares standard error). A trend counts when |slope| > 2 sigma and the
fitted change over the sampled range is at least the property's ``resolution``; 'no change' is supported
when a change of its ``no_change`` would have been resolved (both in the property's own unit:
``hypofinder.prediction.PropertySpec``).
"""

from __future__ import annotations

import numpy as np

from hypofinder.models import ConfigurationPrediction, ValidationRequest, Verdict
from hypofinder.prediction import PropertySpec, spec

MIN_IN_DOMAIN = 0.5  # below this share of in-domain configurations the evidence is inconclusive


def fit(x: np.ndarray, y: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    """(slope, its 1-sigma uncertainty, intercept) of y = a + b x."""
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    b = float(((x - xm) * (y - y.mean())).sum() / sxx)
    a = float(y.mean() - b * xm)
    se_prop = float(np.sqrt(((x - xm) ** 2 * s**2).sum()) / sxx)
    res = y - (a + b * x)
    se_ols = float(np.sqrt((res**2).sum() / (len(x) - 2) / sxx)) if len(x) > 2 else 0.0
    return b, float(np.hypot(se_prop, se_ols)), a


def judge(
    req: ValidationRequest,
    preds: list[ConfigurationPrediction],
    notes: list[str] | None = None,
    pair_name: str = "pair distance",
    claim: bool = True,
) -> tuple[Verdict, str, float | None]:
    """(verdict, one-sentence reason with numbers, slope or None); ``claim=False``: numbers only."""
    ps = spec(req.target)
    y_all = np.array([ps.of(p)[0] for p in preds], dtype=float)
    span = (
        f"predicted {ps.title} {ps.value(np.nanmin(y_all), unit=False)}-{ps.value(np.nanmax(y_all))} "
        f"over {len(preds)} configurations"
    )
    inside = [p for p in preds if p.in_domain]
    if len(inside) < max(1, MIN_IN_DOMAIN * len(preds)):
        why = f" ({notes[0]})" if notes else ""
        return (
            "inconclusive",
            (
                f"only {len(inside)} of {len(preds)} configurations are inside the predictor's "
                f"training domain{why}: {span}, not trusted"
            ),
            None,
        )
    use = inside
    x = np.array([np.nan if p.variable_value is None else p.variable_value for p in use], dtype=float)
    y = np.array([ps.of(p)[0] for p in use], dtype=float)
    s = np.array([ps.of(p)[1] for p in use], dtype=float)
    verdicts: list[str] = []
    clauses: list[str] = []
    slope = None
    if req.variable != "none":
        ok = ~np.isnan(x)
        if ok.sum() < 2 or np.ptp(x[ok]) == 0:
            verdicts.append("inconclusive")
            clauses.append(f"{span}, too few distinct {req.variable.replace('_', ' ')} values for a trend")
        else:
            v, clause, slope = _trend(req, x[ok], y[ok], s[ok], ps, pair_name, claim)
            verdicts.append(v)
            clauses.append(clause)
    if claim and (req.claimed_min is not None or req.claimed_max is not None):
        v, clause = _range(req, y, s, ps)
        verdicts.append(v)
        clauses.append(clause)
    if not verdicts:
        return "inconclusive", f"{span}; the request names no variable or range to check", None
    if not claim:
        return "inconclusive", "; ".join(clauses), slope
    verdict = (
        "contradicted"
        if "contradicted" in verdicts
        else ("supported" if all(v == "supported" for v in verdicts) else "inconclusive")
    )
    return verdict, "; ".join(clauses), slope


def _trend(req, x, y, s, ps: PropertySpec, pair_name: str, claim: bool = True) -> tuple[str, str, float]:
    tname, u, f = ps.title, ps.unit, ps.fmt
    b, se, a = fit(x, y, s)
    x0, x1 = float(x.min()), float(x.max())
    y0, y1 = a + b * x0, a + b * x1
    change, resolvable = b * (x1 - x0), 2 * se * (x1 - x0)
    if req.variable == "pair_distance":
        grows, per = f"the {pair_name} grows {x0:.1f}→{x1:.1f} Å", f"{u}/Å"
    else:
        grows, per = f"the number of defects grows {x0:g}→{x1:g}", f"{u} per defect"
    fitline = f"(least-squares slope {b:+.3f} ± {se:.3f} {per}, {len(x)} configurations)"
    significant = abs(b) > 2 * se and abs(change) >= ps.resolution
    said = f"'{req.direction}'"
    if significant:
        seen = "increases" if b > 0 else "decreases"
        verdict = "supported" if req.direction == seen else "contradicted"
        verb = "rises" if b > 0 else "falls"
        text = f"{tname} {verb} from {y0:{f}} to {y1:{f}} {u} as {grows} {fitline}"
        if not claim:
            return "inconclusive", text, b
        return verdict, text + (": supports " if verdict == "supported" else ": contradicts ") + said, b
    if req.direction == "no_change" and resolvable <= ps.no_change:
        verdict, tail = "supported", f"supports {said}"
    else:
        verdict, tail = "inconclusive", f"cannot settle {said}"
    text = (
        f"{tname} changes by {change:+{f}} {u} ({y0:{f}}→{y1:{f}} {u}, within the "
        f"±{max(resolvable, ps.resolution):{f}} {u} resolution) as {grows} {fitline}"
    )
    return (verdict, f"{text}: {tail}", b) if claim else ("inconclusive", text, b)


def _range(req, y, s, ps: PropertySpec) -> tuple[str, str]:
    tname, u = ps.title, ps.unit
    lo = -np.inf if req.claimed_min is None else req.claimed_min
    hi = np.inf if req.claimed_max is None else req.claimed_max
    tol = np.maximum(2 * s, ps.resolution)
    inside = (y + tol >= lo) & (y - tol <= hi)
    claimed = (
        f"{req.claimed_min:g}-{req.claimed_max:g} {u}"
        if np.isfinite(lo) and np.isfinite(hi)
        else f"≥ {lo:g} {u}"
        if np.isfinite(lo)
        else f"≤ {hi:g} {u}"
    )
    text = (
        f"{int(inside.sum())} of {len(y)} predicted {tname} values ({ps.value(y.min(), unit=False)}-"
        f"{ps.value(y.max())}) "
        f"lie in the claimed {claimed}"
    )
    verdict = "supported" if inside.all() else "contradicted" if not inside.any() else "inconclusive"
    return verdict, text


__all__ = ["fit", "judge"]
