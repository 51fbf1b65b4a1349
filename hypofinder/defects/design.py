"""Inverse design (Y -> X): which defects, how many and where, give a host a wanted property.

``design("MoS2", "homo_lumo_gap", value=1.2, tolerance=0.05, counts="1-6") -> DesignResult``.

Compositions (multisets of the host's 2DMD species, ``counts`` defects) and their arrangements are searched
together (``hypofinder.defects.design_space``):

- ``exhaustive``: every symmetry-distinct configuration of every composition (the enumeration of
  ``defects screen``), when their number fits the ``budget`` of predictor calls;
- ``ga`` otherwise: pymoo's genetic algorithm over the vector encoding of ``DesignSpace.decode``, on one
  lexicographic objective (the distance beyond the tolerance; within it, the formation energy per site)
  with "inside the training domain" as the constraint. NSGA-II on (distance, E_f, σ) stays available
  (``method="nsga2"``); the measurement that chose GA is in ``benchmarks/bench_design.py --compare``;
- ``random``: uniform vectors through the same decoder, the baseline.

The Pareto front (distance or value, formation energy per site, σ of the target) is taken over every
configuration predicted, whatever the method. Every candidate carries its predictions ± σ, the interval
ŷ ± 2σ (``COVERAGE_2SIGMA`` of the out-of-fold errors lie within it: the scale is the split-conformal
quantile of the normalised held-out errors, see ``hypofinder.defects.calibrate``), ``in_domain`` and its
CIF. Out-of-domain candidates are never ranked above in-domain ones nor put on the Pareto front while an
in-domain candidate exists.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from itertools import islice
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from hypofinder.defects.calibrate import COVERAGE_2SIGMA
from hypofinder.defects.design_options import (
    DEFAULT_BUDGET,
    DEFAULT_COUNTS,
    DEFAULT_LIMIT,
    DEFAULT_TOLERANCE,
    MAX_BUDGET,
    MAX_LIMIT,
    METHODS,
    WARM_START,
)
from hypofinder.defects.design_space import (
    Config,
    DesignSpace,
    Evaluator,
    parse_counts,
    parse_species,
    target_range,
)
from hypofinder.defects.placements import configurations, pinned_count
from hypofinder.defects.sites import label_of, pair_stats, site_space, structure_from_sites
from hypofinder.errors import BadInputError
from hypofinder.models import PropertyPrediction

TARGETS = PropertyPrediction.targets()
MAX_FRONT = 50  # Pareto candidates returned at most (the best first)
BATCH = 64  # configurations per predictor call (NSGA-II population, random-search batch)
STALL = 30  # batches in a row without a new configuration: the reachable space is exhausted
WORST = 1e9  # objective of a vector that decodes to nothing


class DesignCandidate(PropertyPrediction):
    """One designed configuration: defects, arrangement, predictions ± σ, interval, domain, CIF."""

    rank: int
    subset: str = Field(description="2DMD subset whose host and model were used, e.g. low_MoS2")
    defects: list[str] = Field(description="tokens in column order: 'vS' = S vacancy, 'W_Mo' = W on a Mo site")
    composition: dict[str, int]
    sites: list[int] = Field(description="pristine-supercell site of each token")
    label: str = Field(description="token@site")
    score: float = Field(description="distance to the target value, or the value itself when maximising/minimising")
    interval: tuple[float, float] = Field(description="target's prediction ± 2σ (calibrated on held-out errors)")
    within_tolerance: bool | None = None
    pareto: bool = False
    found_at: int = Field(description="predictor call at which the search first met this configuration")
    min_distance: float | None = Field(default=None, description="Å, smallest defect pair distance")
    cif: str | None = None
    cif_path: str | None = None


class DesignResult(BaseModel):
    host: str
    target: str
    unit: str
    goal: Literal["target", "maximize", "minimize"]
    value: float | None = None
    tolerance: float
    species: list[str]
    counts: tuple[int, int]
    density: str | None
    budget: int
    seed: int
    method: str
    n_space: int | None = Field(description="symmetry-distinct configurations, when enumerated")
    calls: int = Field(description="configurations predicted (distinct up to symmetry)")
    first_hit: int | None = Field(description="predictor calls until the first in-domain candidate in tolerance")
    n_in_domain: int
    n_within: int = Field(description="in-domain candidates within the tolerance")
    interval_coverage: float = Field(description="share of held-out errors inside prediction ± 2σ")
    wall_s: float
    pareto: list[DesignCandidate]
    best: list[DesignCandidate]


# --------------------------------------------------------------------------- objectives and the front


def pareto_front(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``F`` (minimisation of every column; pymoo's sort)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(NonDominatedSorting().do(F, only_non_dominated_front=True)).astype(np.int64)


class _Goal:
    """Objective arrays of the evaluated records for one target and goal."""

    def __init__(self, target: str, value: float | None, maximize: bool, tolerance: float):
        self.target, self.value, self.maximize, self.tolerance = target, value, maximize, tolerance

    def score(self, y: np.ndarray) -> np.ndarray:
        """Lower is better: the distance to the value, or the value itself (negated when maximising)."""
        score = np.abs(y - self.value) if self.value is not None else (-y if self.maximize else y)
        return np.where(np.isnan(score), np.inf, score)

    def arrays(self, ev: Evaluator) -> dict[str, np.ndarray]:
        y = ev.column(self.target)
        score = self.score(y)
        dom = np.array([bool(r.get("in_domain")) for r in ev.rows], dtype=bool)
        ef = np.nan_to_num(ev.column("formation_energy_per_site"), nan=np.inf)
        sig = np.nan_to_num(ev.column(self.target + "_std"), nan=np.inf)
        excess = np.maximum(score - self.tolerance, 0.0) if self.value is not None else score
        return {"y": y, "score": score, "excess": excess, "in_domain": dom, "ef": ef, "sigma": sig}

    def order(self, a: dict[str, np.ndarray]) -> np.ndarray:
        """Records best first: in domain, closest beyond the tolerance, cheapest to form, most confident."""
        return np.lexsort((a["sigma"], a["ef"], a["excess"], ~a["in_domain"]))


# --------------------------------------------------------------------------- the search


def design(
    host: str,
    target: str,
    value: float | None = None,
    maximize: bool | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    species: str | list[str] | None = None,
    counts: str | int | tuple[int, int] = DEFAULT_COUNTS,
    density: str | None = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    limit: int = DEFAULT_LIMIT,
    method: str = "auto",
    with_cif: bool = True,
    predictor=None,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
    warm_start: int = WARM_START,
    library_rows: dict[str, np.ndarray] | None = None,
) -> DesignResult | None:
    """Search compositions and arrangements of defects in ``host`` for ``target`` near ``value`` (or
    maximised / minimised); see the module text. ``dry_run``: check the inputs only (None). ``warm_start``: the
    GA's and NSGA-II's first population opens with this many labelled 2DMD structures of the space, nearest
    the goal by their DFT value first (``DesignSpace.library``; ``library_rows`` restricts it per subset, as a
    held-out benchmark must)."""
    from hypofinder.defects.predictor import DefectPredictor

    t0 = time.perf_counter()
    if target not in TARGETS:
        raise BadInputError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    if (value is None) == (maximize is None):
        raise BadInputError("give exactly one of a target value (target=value) or --maximize/--minimize")
    if not 1 <= int(budget) <= MAX_BUDGET:
        raise BadInputError(f"budget must be 1-{MAX_BUDGET:,} predictor calls, got {budget}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise BadInputError(f"limit must be 1-{MAX_LIMIT}, got {limit}")
    if not tolerance > 0:
        raise BadInputError(f"tolerance must be positive, got {tolerance}")
    if density not in (None, "low", "high"):
        raise BadInputError(f"density must be low or high, got {density!r}")
    if method not in METHODS:
        raise BadInputError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    predictor = predictor or DefectPredictor.load()
    space = DesignSpace(host, parse_species(host, species, predictor), parse_counts(counts), density)
    name = next(iter(space.hosts.values())).name
    for h in {h.subset: h for h in space.hosts.values()}.values():
        predictor.require(h.subset, target)
    if value is not None:
        _check_value(name, target, float(value), tolerance)
    goal = _Goal(target, None if value is None else float(value), bool(maximize), float(tolerance))
    ev = Evaluator(predictor)
    budget = int(budget)
    every = _enumerate(space, budget) if method in ("auto", "exhaustive") else None
    if method == "exhaustive" and every is None:
        raise BadInputError(f"the space does not fit a budget of {budget} predictor calls: raise --budget")
    if dry_run:  # the inputs checked, nothing predicted
        return None
    report = progress or (lambda done, total: None)
    if every is not None:
        used = "exhaustive"
        for lo in range(0, len(every), 4096):
            ev.evaluate(every[lo : lo + 4096])
            report(ev.calls, len(every))
    elif method == "random":
        used = "random"
        _random_loop(space, ev, budget, np.random.default_rng(seed), report)
    else:
        used = "ga" if method in ("auto", "ga") else "nsga2"
        start = _warm_start(space, goal, min(warm_start, budget), library_rows) if warm_start > 0 else None
        _pymoo_loop(space, ev, goal, budget, seed, used == "nsga2", report, start)
    return _result(space, ev, goal, used, every, budget, seed, limit, with_cif, time.perf_counter() - t0)


def _check_value(host: str, target: str, value: float, tol: float) -> None:
    span = target_range(host, target)
    if span is None:
        return
    lo, hi = span
    if not lo - tol <= value <= hi + tol:
        unit = PropertyPrediction.unit(target)
        raise BadInputError(
            f"{target}={value:g} {unit} is outside what the predictor covers for {host}: its 2DMD DFT values span "
            f"{lo:.3f} to {hi:.3f} {unit}"
        )


def _enumerate(space: DesignSpace, budget: int) -> list[Config] | None:
    """Every symmetry-distinct configuration, if their number fits ``budget`` (else None)."""
    from hypofinder.defects.design_space import _dset

    sets = []
    pinned = 0
    for k, toks in space.compositions():
        h = space.hosts[k]
        dset = _dset(h, toks)
        if dset is None:
            continue
        pinned += pinned_count(site_space(h), dset)
        if pinned > 50 * budget:  # the pinned placements exceed the distinct ones by the stabiliser (<= 12 here)
            return None
        sets.append((h, dset))
    out: list[Config] = []
    for h, dset in sets:
        rows, exhaustive, _ = configurations(site_space(h), dset, max_configs=10**9)
        if not exhaustive:
            return None
        out.extend(Config(h, dset, tuple(int(s) for s in r)) for r in rows)
        if len(out) > budget:
            return None
    return out


def _random_loop(space: DesignSpace, ev: Evaluator, budget: int, rng, report) -> None:
    stall = 0
    while ev.calls < budget and stall < STALL:
        before = ev.calls
        ev.evaluate(space.decode(rng.random((BATCH, space.dim))), limit=budget - ev.calls)
        stall = stall + 1 if ev.calls == before else 0
        report(ev.calls, budget)


def _warm_start(space: DesignSpace, goal: _Goal, n: int, rows) -> np.ndarray | None:
    """The encoded ``n`` labelled structures nearest the goal (by DFT value), padded with uniform vectors to a
    full population; None when the data folder holds none."""
    known = space.library(goal.target, rows)
    if not known:
        return None
    prior = goal.score(np.array([row[-1] for row in known]))
    configs = (space.config(*known[i][:3]) for i in np.argsort(prior, kind="stable"))
    X = np.array([space.encode(c) for c in islice((c for c in configs if c is not None), n)])
    pad = max(0, BATCH - len(X))
    return np.vstack([X, np.random.default_rng(len(known)).random((pad, space.dim))]) if pad else X


def _pymoo_loop(
    space: DesignSpace, ev: Evaluator, goal: _Goal, budget: int, seed: int, multi: bool, report, start=None
) -> None:
    """pymoo's ask-and-tell over the vector encoding: GA on one lexicographic objective (outside the tolerance:
    the distance beyond it; inside: -1 + 1e-3 * E_f, so the cheapest to form win), or NSGA-II on (distance
    beyond the tolerance, E_f, σ). Out-of-domain configurations violate the constraint."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.evaluator import Evaluator as PymooEvaluator
    from pymoo.core.problem import Problem
    from pymoo.core.termination import NoTermination
    from pymoo.problems.static import StaticProblem

    n_obj = 3 if multi else 1
    problem = Problem(n_var=space.dim, n_obj=n_obj, n_ieq_constr=1, xl=0.0, xu=1.0)
    sampling = {} if start is None else {"sampling": start}  # the first population: known structures first
    algo = NSGA2(pop_size=BATCH, **sampling) if multi else GA(pop_size=BATCH, **sampling)
    algo.setup(problem, termination=NoTermination(), seed=seed, verbose=False)
    rng = np.random.default_rng(seed + 1)
    stall, fresh = 0, 0
    while ev.calls < budget and stall < STALL:
        before = ev.calls
        pop = algo.ask()
        X = pop.get("X")
        if fresh:  # a converged population proposes configurations already predicted: random immigrants
            X[rng.choice(len(X), size=fresh, replace=False)] = rng.random((fresh, X.shape[1]))
            pop.set("X", X)
        idx = ev.evaluate(space.decode(X), limit=budget - ev.calls)
        a = goal.arrays(ev)
        F = np.full((len(idx), n_obj), WORST)
        G = np.full((len(idx), 1), WORST)
        for r, i in enumerate(idx):
            if i is None:
                continue
            ex = float(a["excess"][i])
            if multi:
                F[r] = (ex, a["ef"][i], a["sigma"][i])
            else:
                F[r, 0] = -1.0 + 1e-3 * a["ef"][i] if goal.value is not None and ex == 0 else ex
            G[r, 0] = 0.0 if a["in_domain"][i] else 1.0 + min(abs(ex), WORST)
        PymooEvaluator().eval(StaticProblem(problem, F=np.clip(F, -WORST, WORST), G=G), pop)
        algo.tell(infills=pop)
        stall = stall + 1 if ev.calls == before else 0
        fresh = len(X) // 2 if ev.calls - before < len(X) // 4 else 0
        report(ev.calls, budget)


# --------------------------------------------------------------------------- the result


def _result(space, ev, goal, used, every, budget, seed, limit, with_cif, wall) -> DesignResult:
    a = goal.arrays(ev)
    order = goal.order(a)
    dom = a["in_domain"]
    hit = dom & (a["score"] <= goal.tolerance) if goal.value is not None else np.zeros(len(dom), dtype=bool)
    pool = np.nonzero(dom)[0] if dom.any() else np.arange(len(dom))
    pool = pool[np.isfinite(a["score"][pool]) & np.isfinite(a["ef"][pool]) & np.isfinite(a["sigma"][pool])]
    front = pool[pareto_front(np.c_[a["score"][pool], a["ef"][pool], a["sigma"][pool]])] if len(pool) else pool
    on_front = set(front.tolist())
    rank_of = {int(i): r for r, i in enumerate(order, 1)}
    front = sorted(on_front, key=rank_of.get)[:MAX_FRONT]
    best = [int(i) for i in order[:limit]]
    cands: dict[int, DesignCandidate] = {}
    for i in dict.fromkeys(best + front):
        cands[i] = _candidate(ev, goal, a, i, rank_of[i], i in on_front, with_cif)
    return DesignResult(
        host=space.hosts[space.counts[0]].name,
        target=goal.target,
        unit=PropertyPrediction.unit(goal.target),
        goal="target" if goal.value is not None else ("maximize" if goal.maximize else "minimize"),
        value=goal.value,
        tolerance=goal.tolerance,
        species=list(space.species),
        counts=space.counts,
        density=space.density,
        budget=budget,
        seed=seed,
        method=used,
        n_space=None if every is None else len(every),
        calls=ev.calls,
        first_hit=int(np.argmax(hit)) + 1 if hit.any() else None,
        n_in_domain=int(dom.sum()),
        n_within=int(hit.sum()),
        interval_coverage=COVERAGE_2SIGMA,
        wall_s=wall,
        pareto=[cands[i] for i in front],
        best=[cands[i] for i in best],
    )


def _candidate(ev: Evaluator, goal: _Goal, a: dict, i: int, rank: int, pareto: bool, with_cif: bool):
    c = ev.configs[i]
    sp = site_space(c.host)
    row = np.array([c.row], dtype=np.int64)
    dmin = pair_stats(sp, row)[0][0]
    y, s = ev.rows[i].get(goal.target), ev.rows[i].get(goal.target + "_std")
    lo_hi = (y - 2 * s, y + 2 * s) if y is not None and s is not None else (float("nan"), float("nan"))
    cif = str(structure_from_sites(c.host, c.row, c.dset.z_to).to(fmt="cif")) if with_cif else None
    notes: list[str] = []
    if not ev.rows[i].get("in_domain"):  # say why, as defects predict does
        from hypofinder.defects.bundle import out_of_domain
        from hypofinder.defects.graph import graph_from_sites

        g = graph_from_sites(c.host, c.host.supercell, c.row, c.dset.z_to)
        notes = out_of_domain(g, ev.predictor.metadata.get("domain", {}).get(c.host.subset))
    return DesignCandidate(
        **ev.rows[i],
        domain_notes=notes,
        rank=rank,
        subset=c.host.subset,
        defects=list(c.dset.tokens),
        composition=dict(Counter(c.dset.tokens)),
        sites=list(c.row),
        label=label_of(sp, c.dset, c.row),
        score=float(a["score"][i]),
        interval=lo_hi,
        within_tolerance=None if goal.value is None else bool(a["score"][i] <= goal.tolerance),
        pareto=pareto,
        found_at=i + 1,
        min_distance=None if np.isnan(dmin) else round(float(dmin), 4),
        cif=cif,
    )


__all__ = ["DesignCandidate", "DesignResult", "design", "pareto_front"]
