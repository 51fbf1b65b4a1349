"""`hypofinder ask` on the seed question with the embedded local model: cold, then cached.

Goal (issue 3): cold <= 30 s on 2 cores; the same call again served from cache, no LLM call, < 1 s.
Run: .venv/bin/python benchmarks/bench_pipeline.py [--contexts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

SEED_QUESTION = (
    "How can I model a material properties like magnetic resistivity and electronic bands that depend on material "
    "atomic structure as well as higher-level mesoscopic configuration like phase domains and its walls in a unified "
    "holistic way. Such computational model should be able to generalize descriptions between different scales and "
    "help to reason about exhibited properties."
)


def ask(args: list[str], env: dict) -> tuple[float, dict]:
    t = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "ask", SEED_QUESTION, "--format", "json", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - t
    if res.returncode != 0:
        sys.exit(f"ask failed: {res.stderr.strip()}")
    return wall, json.loads(res.stdout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contexts", type=int, default=3)
    p.add_argument("--validate", action="store_true", help="include predictor validation")
    a = p.parse_args()
    env = dict(os.environ)
    env.setdefault("HYPOFINDER_CACHE_DIR", tempfile.mkdtemp(prefix="hf-bench-"))
    seed = str(random.randint(1, 10**6))
    common = ["--contexts", str(a.contexts), "--seed", seed, "--validate" if a.validate else "--no-validate"]
    # warm the ontology index once (its cold build is measured by bench_ontology.py)
    subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "ontology", "search", "warm up", "--json"],
        capture_output=True,
        env=env,
    )
    cold, report = ask(common, env)
    warm, cached = ask(common, env)
    run = report["run"]
    rows = [
        ("cold ask, wall (s)", f"{cold:.1f}", "<= 30"),
        ("  pipeline seconds", f"{run['seconds']:.1f}", ""),
        *[(f"    {k}", f"{v:.1f}", "") for k, v in run["step_seconds"].items()],
        ("  LLM calls", str(run["llm_calls"]), ""),
        ("  tokens prompt+completion", f"{run['prompt_tokens']}+{run['completion_tokens']}", ""),
        (
            "  completion tok/s",
            f"{run['completion_tokens'] / max(run['step_seconds'].get('generate', 0) + run['step_seconds'].get('review', 0) + run['step_seconds'].get('synthesize', 0), 1e-9):.1f}",
            "",
        ),
        ("cached ask, wall (s)", f"{warm:.2f}", "< 1"),
        ("  served from cache / LLM calls", f"{cached['run']['cached']} / {cached['run']['llm_calls']}", "True / 0"),
    ]
    print(f"model {run['model']} ({run['provider']}), contexts {a.contexts}, {os.cpu_count()} cores")
    print(f"{'measure':34s} {'value':>12s} {'goal':>8s}")
    for name, value, goal in rows:
        print(f"{name:34s} {value:>12s} {goal:>8s}")


if __name__ == "__main__":
    main()
