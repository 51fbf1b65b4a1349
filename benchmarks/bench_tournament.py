"""Revise + tournament: the de-duplication threshold, and what the extra steps cost with the embedded model.

1. Threshold: cosine similarity (all-MiniLM-L6-v2) of labelled hypothesis pairs, near-duplicates (the same
   claim reworded, as a model re-drafting it would) vs distinct hypotheses on the same topic. The threshold
   in hypofinder.tournament.DEDUP_THRESHOLD must separate them.
2. Time (issue 11): embedded model, 3 contexts, cold (no cache): ``--rounds 1 --tournament`` at most 2.5x
   ``--rounds 0 --no-tournament``; with ``--baseline PATH`` (e.g. /work/main) the fast path is also timed
   against that checkout in the same run. Also reported: how often the judge split (position bias -> draw).
Run: .venv/bin/python benchmarks/bench_tournament.py [--contexts 3] [--repeats 1] [--baseline /work/main]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SEED_QUESTION  # noqa: E402

DUPLICATES = [
    (
        "Sulfur vacancies in monolayer MoS2 narrow the band gap as their pair distance decreases.",
        "In monolayer MoS2, sulfur vacancy pairs narrow the band gap as the distance between them decreases.",
    ),
    (
        "Domain walls in multiferroic films pin the magnetoresistance at low temperature.",
        "Magnetoresistance in multiferroic thin films is pinned by domain walls at low temperatures.",
    ),
    (
        "A multiscale graph network can predict magnetic resistivity from atomic structure and domain configuration.",
        "Magnetic resistivity can be predicted from atomic structure and domain configuration by a multiscale graph network.",
    ),
    (
        "Tungsten substitution on molybdenum sites raises the formation energy of MoS2 monolayers.",
        "Substituting tungsten on Mo sites increases the formation energy of monolayer MoS2.",
    ),
    (
        "Phase-field models coupled to DFT band structures explain resistivity anomalies near domain walls.",
        "Coupling phase-field models with DFT band structures explains the resistivity anomalies close to domain walls.",
    ),
    (
        "Electronic band structure of a magnetic material depends on its atomic structure and phase domains.",
        "The electronic band structure of magnetic materials depends on atomic structure and on phase domains.",
    ),
    (
        "Selenium vacancy clusters in WSe2 reduce the HOMO-LUMO gap more than dispersed vacancies.",
        "Clustered selenium vacancies in WSe2 lower the HOMO-LUMO gap more than dispersed ones do.",
    ),
    (
        "Spin-orbit coupling at domain walls controls the anisotropic magnetoresistance of thin ferromagnets.",
        "The anisotropic magnetoresistance of thin ferromagnets is controlled by spin-orbit coupling at domain walls.",
    ),
]
DISTINCT = [
    (
        "Sulfur vacancies in monolayer MoS2 narrow the band gap as their pair distance decreases.",
        "Sulfur vacancies in monolayer MoS2 widen the band gap as their pair distance decreases.",
    ),
    (
        "Sulfur vacancies in monolayer MoS2 narrow the band gap as their pair distance decreases.",
        "Selenium vacancy clusters in WSe2 reduce the HOMO-LUMO gap more than dispersed vacancies.",
    ),
    (
        "Domain walls in multiferroic films pin the magnetoresistance at low temperature.",
        "Spin-orbit coupling at domain walls controls the anisotropic magnetoresistance of thin ferromagnets.",
    ),
    (
        "A multiscale graph network can predict magnetic resistivity from atomic structure and domain configuration.",
        "Phase-field models coupled to DFT band structures explain resistivity anomalies near domain walls.",
    ),
    (
        "Tungsten substitution on molybdenum sites raises the formation energy of MoS2 monolayers.",
        "Tungsten substitution on molybdenum sites lowers the band gap of MoS2 monolayers.",
    ),
    (
        "Electronic band structure of a magnetic material depends on its atomic structure and phase domains.",
        "A multiscale graph network can predict magnetic resistivity from atomic structure and domain configuration.",
    ),
    (
        "Machine-learned interatomic potentials trained on DFT reproduce domain-wall energies in ferroelectrics.",
        "Domain-wall energies in ferroelectrics can be computed by DFT on large supercells.",
    ),
    (
        "Strain gradients at twin boundaries induce flexoelectric polarization in perovskite oxides.",
        "Oxygen vacancies at twin boundaries induce conductivity in perovskite oxides.",
    ),
]


def threshold_table() -> None:
    import numpy as np

    from hypofinder.refine import embed_texts
    from hypofinder.tournament import DEDUP_THRESHOLD, near_duplicates

    def sims(pairs):
        a = embed_texts([x for x, _ in pairs])
        b = embed_texts([y for _, y in pairs])
        return np.sum(a * b, axis=1)

    def merged(pairs):
        return sum(bool(near_duplicates(["a", "b"], embed_texts(list(p)), texts=p)) for p in pairs)

    dup, dis = sims(DUPLICATES), sims(DISTINCT)
    print("de-duplication threshold (cosine, all-MiniLM-L6-v2)")
    print(f"  near-duplicates: min {dup.min():.3f}  median {np.median(dup):.3f}  ({len(dup)} pairs)")
    print(f"  distinct:        max {dis.max():.3f}  median {np.median(dis):.3f}  ({len(dis)} pairs)")
    print(f"  distinct, same direction words: max {max(s for s, p in zip(dis, DISTINCT) if not opposite(p)):.3f}")
    print(
        f"  cosine >= {DEDUP_THRESHOLD} alone: merges {int((dup >= DEDUP_THRESHOLD).sum())}/{len(dup)} duplicates, "
        f"{int((dis >= DEDUP_THRESHOLD).sum())}/{len(dis)} distinct"
    )
    print(
        f"  with the opposite-direction guard: merges {merged(DUPLICATES)}/{len(dup)} duplicates, "
        f"{merged(DISTINCT)}/{len(dis)} distinct (goal: all / none)"
    )


def opposite(pair) -> bool:
    from hypofinder.tournament import opposite_claims

    return opposite_claims(*pair)


def ask(python_path: Path, args: list[str], env: dict) -> tuple[float, float, dict]:
    """(wall s, CPU s of the child, report): CPU time is the fairer clock on a shared machine."""
    t, cpu0 = time.perf_counter(), _child_cpu()
    res = subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "ask", SEED_QUESTION, "--format", "json", "--no-cache", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=python_path,
        env={**env, "PYTHONPATH": str(python_path)},
    )
    wall, cpu = time.perf_counter() - t, _child_cpu() - cpu0
    if res.returncode != 0:
        sys.exit(f"ask failed: {res.stderr.strip()[-400:]}")
    return wall, cpu, json.loads(res.stdout)


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timing(contexts: int, repeats: int, baseline: Path | None) -> None:
    env = dict(os.environ)
    env.setdefault("HYPOFINDER_CACHE_DIR", tempfile.mkdtemp(prefix="hf-bench-"))
    subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "ontology", "search", "warm up", "--json"],
        check=False,
        capture_output=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    runs: dict[str, list[tuple[float, float]]] = {"fast": [], "full": [], "baseline": []}
    full_report = None
    for _ in range(repeats):
        seed = str(random.randint(1, 10**6))
        common = ["--model", "local", "--contexts", str(contexts), "--seed", seed, "--no-validate"]
        runs["fast"].append(ask(ROOT, [*common, "--rounds", "0", "--no-tournament"], env)[:2])
        wall, cpu, full_report = ask(ROOT, [*common, "--rounds", "1", "--tournament"], env)
        runs["full"].append((wall, cpu))
        if baseline:
            runs["baseline"].append(ask(baseline, common, env)[:2])
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items() if v}
    (fast, fast_cpu), (full, full_cpu) = med["fast"], med["full"]
    print(
        f"\nembedded model, {contexts} contexts, cold (--no-cache), median of {repeats}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'measure':40s} {'wall s':>8s} {'CPU s':>8s} {'reference':>14s}")
    if baseline:
        b, b_cpu = med["baseline"]
        print(f"{'baseline checkout ask':40s} {b:8.1f} {b_cpu:8.1f} {baseline.name:>14s}")
    print(f"{'--rounds 0 --no-tournament':40s} {fast:8.1f} {fast_cpu:8.1f} {'= baseline':>14s}")
    print(f"{'--rounds 1 --tournament':40s} {full:8.1f} {full_cpu:8.1f} {'<= 2.5 x fast':>14s}")
    print(f"{'  ratio':40s} {full / fast:8.2f} {full_cpu / fast_cpu:8.2f} {'<= 2.5':>14s}")
    for k, v in full_report["run"]["step_seconds"].items():
        print(f"{'    ' + k + ' (wall s)':40s} {v:8.1f}")
    t = full_report.get("tournament") or {}
    matches = t.get("matches", [])
    draws = sum(m["winner"] == "draw" for m in matches)
    print(f"{'  matches / split decisions (draws)':40s} {f'{len(matches)} / {draws}':>8s}")
    print(f"{'  merged near-duplicates':40s} {len(t.get('merged', [])):8d}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contexts", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--baseline", type=Path, default=None, help="another checkout to time the fast path against")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--skip-threshold", action="store_true")
    a = p.parse_args()
    if not a.skip_threshold:
        threshold_table()
    if not a.skip_timing:
        timing(a.contexts, a.repeats, a.baseline)


if __name__ == "__main__":
    main()
