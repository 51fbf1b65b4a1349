"""Screening throughput: configurations per second, predicted from graphs and end to end, and where the time goes.

Goals: >= 10^4 configurations/s predicted from graphs (``predict_graphs``, full ensemble) and >= 10^4
configurations/s end to end (placement + symmetry reduction + graph building + prediction), with the
share of time spent generating placements and building graphs.

    python benchmarks/bench_screening.py            # four cases, up to 50,000 configurations each
    python benchmarks/bench_screening.py --quick    # smaller caps
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypofinder.defects import DefectPredictor  # noqa: E402
from hypofinder.defects.screening import screen  # noqa: E402

GOAL = 1e4  # configurations per second predicted from graphs
CASES = [
    ("MoS2", "vS,vS,W_Mo"),  # low density, enumerated exhaustively
    ("MoS2", "vS,vS,vS,vS,W_Mo,W_Mo"),  # high density, sampled
    ("BN", "vB,vN,C_N,C_N"),
    ("P", "vP,vP,vP,N_P"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-configs", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true", help="cap at 5,000 configurations")
    args = ap.parse_args()
    cap = 5_000 if args.quick else args.max_configs

    t = time.perf_counter()
    predictor = DefectPredictor.load()
    print(
        f"predictor loaded in {time.perf_counter() - t:.1f} s (members: {', '.join(predictor.metadata.get('members', []))})"
    )
    screen("MoS2", "vS,vS", limit=1, predictor=predictor)  # warm-up: symmetry tables, first model call

    head = (
        f"{'host':6} {'defects':24} {'subset':10} {'distinct':>9} {'exh':>4} {'gen s':>7} {'graph s':>8} "
        f"{'pred s':>7} {'pred/s':>9} {'gen+graph %':>11} {'all/s':>8} {'best gap':>9}"
    )
    print(head)
    print("-" * len(head))
    rates, overall = [], []
    for host, defects in CASES:
        r = screen(host, defects, max_configs=cap, limit=3, predictor=predictor)
        tm = r.timing
        share = 100 * (tm.generate_s + tm.graphs_s) / tm.total_s
        rates.append(r.configs_per_s)
        overall.append(r.overall_per_s)
        print(
            f"{host:6} {defects:24} {r.subset:10} {r.n_distinct:>9,} {'yes' if r.exhaustive else 'no':>4} "
            f"{tm.generate_s:>7.2f} {tm.graphs_s:>8.2f} {tm.predict_s:>7.2f} {r.configs_per_s:>9,.0f} "
            f"{share:>10.0f}% {r.overall_per_s:>8,.0f} {r.best[0].homo_lumo_gap:>9.3f}"
        )
    for what, r in (("predicted from graphs", rates), ("end to end (all stages)", overall)):
        print(
            f"{what}: {min(r):,.0f}-{max(r):,.0f} configurations/s; goal >= {GOAL:,.0f}/s: "
            f"{'met' if min(r) >= GOAL else 'NOT met'} (2 shared CPU cores)"
        )


if __name__ == "__main__":
    main()
