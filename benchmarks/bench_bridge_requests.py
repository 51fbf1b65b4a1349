"""How often does the default local model emit a usable validation request, and what evidence reaches the report?

On one defect question, the generator step of ``HypothesisFinder("local", contexts=1, cache=False, seed=i)``
runs for 20 seeds. A request is *usable* when it parses, names a known host and its tokens are valid for
that host (elements present, counts fit the supercell). For each answer it also records whether the
bridge's text fallback (``validate(None, statement)``) finds a testable claim. Then the whole query runs once
and the evidence shown to the reviewer is printed, with the time of one validation after loading.

    python benchmarks/bench_bridge_requests.py              # 20 seeds + one full query
    python benchmarks/bench_bridge_requests.py --runs 5
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypofinder.bridge import validate  # noqa: E402
from hypofinder.defects import DefectPredictor  # noqa: E402
from hypofinder.defects.hosts import canonical_host, host_info  # noqa: E402
from hypofinder.defects.sites import defect_set  # noqa: E402
from hypofinder.errors import HypofinderError  # noqa: E402
from hypofinder.ontology import contexts_for  # noqa: E402
from hypofinder.pipeline import HypothesisFinder  # noqa: E402
from hypofinder.prompts import evidence_text as _evidence_text  # noqa: E402

QUESTION = "Do sulfur vacancy pairs in monolayer MoS2 lower the HOMO-LUMO gap more when they are close together?"


def usable(req) -> tuple[bool, str]:
    """(usable?, why not): parses, known host, tokens valid for the host."""
    if req is None:
        return False, "no request (null)"
    try:
        name = canonical_host(req.host)
    except HypofinderError:
        return False, f"unknown host {req.host!r}"
    try:
        defect_set(host_info(name, n_defects=len(req.defects)), list(req.defects))
    except HypofinderError as exc:
        return False, f"bad tokens ({str(exc)[:60]})"
    return True, "usable"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-full", action="store_true", help="skip the full query")
    args = ap.parse_args()

    t = time.perf_counter()
    DefectPredictor.load()
    validate({"host": "MoS2", "defects": ["vS", "vS"], "direction": "increases"})
    print(f"predictor loaded + first validation: {time.perf_counter() - t:.1f} s")
    reqs = [
        {"host": "MoS2", "defects": ["vS", "vS"], "direction": "increases"},
        {"host": "MoS2", "defects": ["vS", "vS", "W_Mo"], "direction": "decreases"},
        {"host": "WSe2", "defects": ["vSe"], "variable": "defect_count", "direction": "decreases"},
        {"host": "BN", "defects": ["C_N", "C_N", "vB"], "arrangement": "clustered", "direction": "increases"},
    ]
    t = time.perf_counter()
    for r in reqs:
        validate(r)
    print(
        f"one validation after loading: {(time.perf_counter() - t) / len(reqs) * 1000:.0f} ms (mean of {len(reqs)})\n"
    )

    ctx = contexts_for(QUESTION, 1)[0]
    print(f"question: {QUESTION}\ncontext: {ctx.title}\n")
    reasons: Counter[str] = Counter()
    fallback = wide = 0
    secs = []
    for seed in range(args.runs):
        finder = HypothesisFinder("local", contexts=1, cache=False, seed=seed)
        t = time.perf_counter()
        try:
            gen = finder.generate(QUESTION, ctx)
        except HypofinderError as exc:
            secs.append(time.perf_counter() - t)
            reasons["generation failed"] += 1
            print(f"seed {seed:2d}: generation failed: {exc}")
            continue
        secs.append(time.perf_counter() - t)
        ok, why = usable(gen.validation_request)
        reasons[why.split(" (")[0] if not ok else "usable"] += 1
        text_v = validate(None, gen.statement)
        fallback += bool(text_v.predictions)
        wide += bool(validate(None, f"{gen.summary} {gen.statement} {gen.rationale}").predictions)
        req = gen.validation_request.model_dump(exclude_defaults=True) if gen.validation_request else None
        print(
            f"seed {seed:2d} ({secs[-1]:.1f} s): {why:28.28} request={req} | text fallback: {text_v.verdict}"
            f"{' with numbers' if text_v.predictions else ''} | statement: {gen.statement[:90]!r}"
        )
    n = args.runs
    print(
        f"\nusable requests: {reasons['usable']}/{n} = {reasons['usable'] / n:.0%}   "
        f"(why not: {dict((k, v) for k, v in reasons.items() if k != 'usable')})"
    )
    print(
        f"text fallback on the statement (what the pipeline passes) gave predictions: {fallback}/{n} = {fallback / n:.0%}"
    )
    print(f"text fallback on summary + statement + rationale would give predictions: {wide}/{n} = {wide / n:.0%}")
    q = validate(None, QUESTION)
    print(f"text fallback on the question itself: {q.verdict}, {len(q.predictions)} configurations: {q.summary}")
    print(f"generate step: {sum(secs) / max(len(secs), 1):.1f} s mean per call (SmolLM2-135M, local)")

    if args.no_full:
        return
    print("\n== full query (local model, contexts=1, seed=0, no cache)")
    t = time.perf_counter()
    report = HypothesisFinder("local", contexts=1, cache=False, seed=0).find(QUESTION)
    print(f"done in {time.perf_counter() - t:.1f} s")
    for c in report.contexts:
        print(
            f"- {c.title}\n  hypothesis: {c.hypothesis.statement}\n  request: "
            f"{c.hypothesis.validation_request.model_dump(exclude_defaults=True) if c.hypothesis.validation_request else None}"
            f"\n  evidence shown to the reviewer: {_evidence_text(c.validation)}\n  review score {c.review.score}, "
            f"rank score {c.rank_score}"
        )
    s = report.synthesis
    print(f"- synthesis: {s.hypothesis}\n  evidence: {_evidence_text(s.validation)}")


if __name__ == "__main__":
    main()
