"""Substance of the reports (issue 25): are hypotheses about the question, built on real methods, and does the
score follow what can be checked? This version beside the previous one (unpacked from git) in the same run.

For each question (20 from across physics + 10 point-defect questions) runs ``hypofinder ask --contexts N
--no-cache --format json`` with each tree, then judges every context against the plan this version's planner
makes for it (``hypofinder.ontology.plan``), so both versions are held to the same facts:

- copy rate: contexts with a field sharing a run of 4 words with that tree's prompt files that is not in the
  question or the plan (goal 0);
- system+property: statements naming the planned system and property (goal >= 90 %);
- technique: hypotheses with a step naming a planned PhySH technique (goal >= 90 %);
- testable: statements with a measurable quantity and a direction (goal >= 80 %);
- Spearman(score, checks): the review score against the count of the three checks above (goal >= 0.5);
- seconds per report (goal: embedded model <= 30 s).

    python benchmarks/bench_substance.py -n 6                       # a subset while iterating
    python benchmarks/bench_substance.py --model qwen-0.5b --skip-baseline
    python benchmarks/bench_substance.py --model qwen2.5-coder-1.5b --base-url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_text_quality import QUESTIONS, baseline_tree  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from hypofinder.ontology.plan import (  # noqa: E402
    QUANTITY,  # noqa: E402
    names,
    plan_for,
)
from hypofinder.quality import word_runs  # noqa: E402
from hypofinder.scoring import DIRECTION, NUMBER  # noqa: E402
from hypofinder.settings import settings  # noqa: E402

BASELINE_REV = "676a47b"  # main before issue 25 (prompts with the graphene example, no plan)
DEFECT_QUESTIONS = [
    json.loads(line)["query"]
    for line in (ROOT / "benchmarks/data/planner_questions.jsonl").read_text().splitlines()
    if json.loads(line).get("numbers")
][:10]
GOALS = {"copy": "0", "system+property": ">= 90 %", "technique": ">= 90 %", "testable": ">= 80 %", "spearman": ">= 0.5"}
# issue 25's figures for the version before it (8-14 questions, embedded model, 2 contexts)
ISSUE = {"copy": "15/28", "system+property": "13/16 (loose)", "technique": "12/16", "spearman": "-0.14"}


def ask(tree: Path, question: str, args) -> dict | None:
    cfg = settings()
    env = {**os.environ, "PYTHONPATH": str(tree), "HYPOFINDER_DATA_DIR": str(cfg.data_dir)}
    env |= {"HYPOFINDER_CACHE_DIR": str(cfg.cache_dir), "HYPOFINDER_MODELS_DIR": str(cfg.models_dir)}
    cmd = [sys.executable, "-m", "hypofinder.cli", "ask", question, "--model", args.model, "--contexts"]
    cmd += [str(args.contexts), "--no-cache", "--format", "json"]
    cmd += ["--base-url", args.base_url] if args.base_url else []
    res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"  failed: {res.stderr.strip()[-200:]}", file=sys.stderr)
        return None
    return json.loads(res.stdout)


def judge(report: dict, tree: Path) -> list[dict]:
    prompt_runs = set().union(*(word_runs(p.read_text()) for p in (tree / "prompts").glob("*.yaml")))
    rows = []
    for c in report["contexts"]:
        h, concept = c["hypothesis"], c["concepts"][0]["label"]
        plan = plan_for(report["query"], concept)
        allowed = word_runs(" ".join([report["query"], concept, *(f"{f.label} {f.note}" for f in plan.facts)]))
        fields = [h["summary"], h["statement"], h["rationale"], *h["steps"], c["review"]["text"]]
        copied = any((word_runs(t) & prompt_runs) - allowed for t in fields)
        sp = [f.label for f in plan.systems + plan.properties]
        named = all(names(h["statement"], label) for label in sp) if sp else None
        techniques = [f.label for f in plan.techniques]
        technique = any(names(s, t) for s in h["steps"] for t in techniques) if techniques else None
        st = h["statement"]
        testable = bool(NUMBER.search(st) or QUANTITY.search(st)) and bool(DIRECTION.search(st))
        checks = sum(bool(x) for x in (not copied, named, technique, testable))
        rows.append(dict(copied=copied, named=named, technique=technique, testable=testable, checks=checks,
                         score=c["review"]["score"], model_score=c["review"].get("model_score")))  # fmt: skip
    return rows


def summary(rows: list[dict], seconds: list[float]) -> dict:
    def share(key):
        vals = [r[key] for r in rows if r[key] is not None]
        return f"{sum(vals)}/{len(vals)}" if vals else "-"

    rho = spearmanr([r["score"] for r in rows], [r["checks"] for r in rows]).statistic if len(rows) > 2 else None
    return {
        "copy": share("copied"),
        "system+property": share("named"),
        "technique": share("technique"),
        "testable": share("testable"),
        "spearman": "-" if rho is None or rho != rho else f"{rho:+.2f}",
        "s/report": f"{sum(seconds) / len(seconds):.1f}" if seconds else "-",
    }


def run(tree: Path, questions: list[str], args, label: str) -> dict:
    rows, seconds = [], []
    for i, q in enumerate(questions, 1):
        print(f"[{label} {i}/{len(questions)}] {q}", file=sys.stderr)
        report = ask(tree, q, args)
        if report is not None:
            rows += judge(report, tree)
            seconds.append(report["run"]["seconds"])
    return summary(rows, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30, help="questions: the first n/3 defect ones, the rest general")
    ap.add_argument("--contexts", type=int, default=2)
    ap.add_argument("--model", default="local")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    n_defect = min(len(DEFECT_QUESTIONS), args.n // 3)
    questions = DEFECT_QUESTIONS[:n_defect] + QUESTIONS[: args.n - n_defect]
    results = {"this version": run(ROOT, questions, args, "this")}
    if not args.skip_baseline:
        results[f"previous ({args.baseline_rev})"] = run(baseline_tree(args.baseline_rev), questions, args, "prev")
    print(f"\nbench_substance: {len(questions)} questions, {args.contexts} contexts, model {args.model}")
    keys = [*GOALS, "s/report"]
    print(f"{'':22}" + "".join(f"{k:>18}" for k in keys))
    for name, res in results.items():
        print(f"{name:22}" + "".join(f"{res[k]:>18}" for k in keys))
    print(f"{'goal':22}" + "".join(f"{GOALS.get(k, '<= 30 (local)'):>18}" for k in keys))
    print(f"{'issue 25 (before)':22}" + "".join(f"{ISSUE.get(k, '-'):>18}" for k in keys))


if __name__ == "__main__":
    main()
