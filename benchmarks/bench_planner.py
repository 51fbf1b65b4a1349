"""How well does the evidence planner read defect questions? Precision and recall of host, species and property.

The question set (``benchmarks/data/planner_questions.jsonl``, 64 questions) holds point-defect questions
phrased many ways across all six hosts and their defect types, off-topic questions and near misses (vacancies
in bulk silicon, oxygen vacancies in SrTiO3, WS2, MoSe2, interstitials, grain boundaries, an untrained
dopant), HOMO, LUMO and magnetization questions and substitutions phrased every way ("replacing X by Y",
"X is replaced by Y", "Y in place of X"). Each line gives the expected host, defect species and property, and
whether predictor numbers are expected at all; the planned property's accuracy is also given per property. A reader's answer counts only where it would give numbers (planner: ``in_scope``; the
baseline, the previous release's text reader ``read_text``: a request read from the words).

    python benchmarks/bench_planner.py            # the table; --gather also predicts every plan and times it
    python benchmarks/bench_planner.py --show     # every question with both readings
    python benchmarks/bench_planner.py --pipeline # every question through `--model fake --contexts 2`: numbers in
                                                  # the contexts, matching host and defects (goal >= 90 %), none off-topic
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypofinder.bridge import gather, plan, read_text

DATA = Path(__file__).resolve().parent / "data" / "planner_questions.jsonl"
GOAL = 0.9


def planner(q: str) -> dict:
    e = plan(q)
    if not e.in_scope:
        return {"numbers": False, "host": None, "species": set(), "property": None, "why": e.reason}
    return {
        "numbers": True,
        "host": e.host,
        "species": set(e.species),
        "property": e.property or e.target,
        "why": e.reason,
    }


def baseline(q: str) -> dict:
    r = read_text(q)
    if not r.in_scope or r.request is None:
        return {"numbers": False, "host": None, "species": set(), "property": None, "why": r.reason}
    return {
        "numbers": True,
        "host": r.request.host,
        "species": set(r.request.defects),
        "property": r.request.target,
        "why": "",
    }


def scores(rows: list[dict], reader) -> dict[str, tuple[float, float]]:
    """(precision, recall) per field, micro-averaged; species as sets."""
    tp = {k: 0 for k in ("host", "species", "property", "numbers")}
    fp, fn = dict(tp), dict(tp)
    for row in rows:
        got = reader(row["query"])
        for k in ("host", "property"):
            g, p = row[k], got[k]
            tp[k] += bool(g and p == g)
            fp[k] += bool(p and p != g)
            fn[k] += bool(g and p != g)
        g, p = set(row["species"]) if row["numbers"] else set(), got["species"]
        tp["species"] += len(g & p)
        fp["species"] += len(p - g)
        fn["species"] += len(g - p)
        tp["numbers"] += row["numbers"] and got["numbers"]
        fp["numbers"] += got["numbers"] and not row["numbers"]
        fn["numbers"] += row["numbers"] and not got["numbers"]
    return {k: (tp[k] / max(tp[k] + fp[k], 1), tp[k] / max(tp[k] + fn[k], 1)) for k in tp}


def per_property(rows: list[dict]) -> dict[str, tuple[int, int, int]]:
    """Per expected property of the defect questions: (questions, planner right, read_text right)."""
    out: dict[str, list[int]] = {}
    for row in rows:
        if row["numbers"]:
            c = out.setdefault(row["property"], [0, 0, 0])
            c[0] += 1
            c[1] += planner(row["query"])["property"] == row["property"]
            c[2] += baseline(row["query"])["property"] == row["property"]
    return {k: tuple(v) for k, v in sorted(out.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", action="store_true", help="print every question with both readings")
    ap.add_argument("--gather", action="store_true", help="also predict every in-scope plan (loads the predictor)")
    ap.add_argument("--pipeline", action="store_true", help="run every question through the fake-model pipeline")
    ap.add_argument("--embedded", type=int, default=0, metavar="N", help="N defect questions with the embedded model")
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    n_def = sum(r["numbers"] for r in rows)
    print(
        f"{len(rows)} questions: {n_def} point-defect questions on the six hosts, {len(rows) - n_def} off-topic or "
        f"near misses\n"
    )
    t = time.perf_counter()
    new = scores(rows, planner)
    t_plan = (time.perf_counter() - t) / len(rows)
    old = scores(rows, baseline)
    print(f"{'field':10} {'planner P':>10} {'planner R':>10} {'read_text P':>12} {'read_text R':>12}   goal")
    for k in ("numbers", "host", "species", "property"):
        print(f"{k:10} {new[k][0]:10.0%} {new[k][1]:10.0%} {old[k][0]:12.0%} {old[k][1]:12.0%}   ≥ {GOAL:.0%}")
    print(f"\n{'property':26} {'questions':>9} {'planner':>8} {'read_text':>10}   (planned property right)")
    for prop, (n, a, b) in per_property(rows).items():
        print(f"{prop:26} {n:9d} {a / n:8.0%} {b / n:10.0%}")
    print(f"\nplanning time: {t_plan * 1000:.1f} ms per question (after the first)")
    if args.show:
        for r in rows:
            a, b = planner(r["query"]), baseline(r["query"])
            print(
                f"\n[{r['id']}] {r['query']}\n  expected: {r['host']} {r['species']} {r['property']}\n"
                f"  planner:  {a['host']} {sorted(a['species'])} {a['property']} — {a['why']}\n"
                f"  baseline: {b['host']} {sorted(b['species'])} {b['property']}"
            )
    if args.gather:
        t = time.perf_counter()
        with_numbers = 0
        for r in rows:
            with_numbers += bool(gather(plan(r["query"])).facts)
        print(
            f"gathered: {with_numbers} of {len(rows)} questions got predictor numbers "
            f"(expected {n_def}), {time.perf_counter() - t:.1f} s in all (predictor load included)"
        )
    if args.pipeline:
        pipeline(rows)
    if args.embedded:
        embedded(rows, args.embedded)


def pipeline(rows: list[dict]) -> None:
    """`--model fake --contexts 2`: do the contexts carry predictor numbers whose request matches the question?"""
    from hypofinder.pipeline import HypothesisFinder

    finder = HypothesisFinder("fake", contexts=2, cache=False)
    good = wrong = 0
    t = time.perf_counter()
    for r in rows:
        report = finder.find(r["query"])
        facts = [f for c in report.contexts if c.evidence for f in c.evidence.facts]
        ok = (
            bool(facts)
            and all(len(c.evidence.facts) > 0 for c in report.contexts)
            and all(f.request.host == r["host"] and set(f.request.defects) <= set(r["species"]) for f in facts)
        )
        if r["numbers"]:
            good += ok
            if not ok:
                print(
                    f"  no matching numbers: [{r['id']}] {[f.request.model_dump(include={'host', 'defects'}) for f in facts]}"
                )
        else:
            wrong += bool(facts)
            if facts:
                print(f"  numbers for an off-topic question: [{r['id']}]")
    n_def = sum(r["numbers"] for r in rows)
    print(
        f"\npipeline (--model fake --contexts 2): {good} of {n_def} defect questions = {good / n_def:.0%} have predictor "
        f"numbers in every context with matching host and defects (goal >= {GOAL:.0%}); "
        f"{wrong} of {len(rows) - n_def} off-topic / near-miss questions got numbers (goal 0); "
        f"{time.perf_counter() - t:.0f} s"
    )


def embedded(rows: list[dict], n: int) -> None:
    """The embedded model, 2 contexts, no revision or tournament, on the first ``n`` defect questions (one per
    host first): numbers in every context, and hypotheses that cite them ([E1] ...; goal >= 4 of 5). Then the
    seed question (multiscale modelling): its report must not name the six hosts."""
    import re

    from benchmarks.bench_pipeline import SEED_QUESTION
    from hypofinder.pipeline import HypothesisFinder

    host_names = re.compile(r"MoS2|WSe2|h-BN|\bBN\b|GaSe|InSe|phosphor", re.IGNORECASE)

    finder = HypothesisFinder("local", contexts=2, cache=False, rounds=0, tournament=False)
    picked, hosts = [], set()
    for r in [r for r in rows if r["numbers"]] * 2:  # one per host, then the rest in order
        if r not in picked and (r["host"] not in hosts or len(hosts) == 6):
            picked.append(r)
            hosts.add(r["host"])
    numbers = cited = 0
    t = time.perf_counter()
    for r in picked[:n]:
        report = finder.find(r["query"])
        has = all(c.evidence and c.evidence.facts for c in report.contexts)
        cites = all(
            re.search(r"\[E\d+\]", f"{c.hypothesis.statement} {c.hypothesis.rationale}") for c in report.contexts
        )
        numbers, cited = numbers + has, cited + (has and cites)
        print(f"  [{r['id']}] numbers {has}, cited {cites}: {report.contexts[0].hypothesis.rationale}")
    seed = finder.find(SEED_QUESTION)
    named = sorted(set(host_names.findall(seed.model_dump_json(exclude={"run"}))))
    print(
        f"\nembedded model (--contexts 2 --rounds 0 --no-tournament): {numbers} of {n} defect questions have numbers in "
        f"every context, {cited} of {n} also cite them in every hypothesis (goal >= 4 of 5); the seed question names "
        f"the hosts {named or 'nowhere'} (goal: nowhere); {time.perf_counter() - t:.0f} s"
    )


if __name__ == "__main__":
    main()
