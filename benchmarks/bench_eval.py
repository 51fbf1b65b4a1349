"""Evaluation harness: is the metric sound, how fast is it, and what do the fake and embedded models score?

    .venv/bin/python benchmarks/bench_eval.py [--questions 16] [--contexts 1] [--no-local] [--keep DIR]

1. Calibration: the key-point threshold the labelled pairs (tests/data/keypoint_pairs.jsonl) give, beside
   the shipped KEYPOINT_THRESHOLD, with its balanced accuracy.
2. Soundness on the project's reference set (benchmarks/data/eval_refs.jsonl): each reference scored against
   itself (goal >= 0.9), against every other question's reference (goal: mean <= 0.05, at most 2 % of pairs
   above 0.35: neighbouring questions such as two on MoS2 vacancies share points), and the question itself
   offered as the hypothesis (a parrot; goal 0).
3. Speed: `hypofinder eval score` on 50 questions of full reports (3 contexts each), end to end in a fresh
   process (imports, model loading included); goal <= 60 s on 2 cores. The load average is printed beside it.
4. Models: the reference questions mined with the fake model and the embedded SmolLM2-135M, each scored
   (pick: top), then compared with paired bootstrap intervals (B - A, B = local).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from hypofinder.evaluation import (  # noqa: E402
    KEYPOINT_THRESHOLD,
    Generated,
    calibrate,
    compare,
    mine_references,
    read_references,
    score,
)

REFS = ROOT / "benchmarks" / "data" / "eval_refs.jsonl"
PAIRS = ROOT / "tests" / "data" / "keypoint_pairs.jsonl"
METRICS = ("keypoint_recall", "concept_recall", "junk_rate", "evidence_coverage", "score_recall_spearman")


def fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def calibration() -> None:
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    threshold, acc = calibrate([(p["key_point"], p["sentence"], p["match"]) for p in pairs])
    print(f"\n1. calibration on {len(pairs)} labelled pairs ({sum(p['match'] for p in pairs)} matching)")
    print(
        f"   calibrated threshold {threshold:.3f}   shipped KEYPOINT_THRESHOLD {KEYPOINT_THRESHOLD:.3f}   "
        f"balanced accuracy {acc:.3f}"
    )


def soundness(refs) -> None:
    pairs = [r.model_copy(update={"id": f"{r.id}|{s.id}"}) for r in refs for s in refs]
    text = {r.id: r.reference_hypothesis for r in refs}
    t0 = time.perf_counter()
    scored = score(pairs, {p.id: Generated(id=p.id, hypothesis=text[p.id.split("|")[1]]) for p in pairs})
    own = [q.keypoint_recall for q in scored.per_question if q.id.split("|")[0] == q.id.split("|")[1]]
    other = [q.keypoint_recall for q in scored.per_question if q.id.split("|")[0] != q.id.split("|")[1]]
    parrot = score(refs, {r.id: Generated(id=r.id, hypothesis=r.query) for r in refs})
    print(
        f"\n2. soundness on {len(refs)} reference questions ({len(pairs)} pairs scored in "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    print(f"   against itself:        min {min(own):.3f}  mean {sum(own) / len(own):.3f}   goal: each >= 0.9")
    over = sum(r > 0.35 for r in other)
    print(
        f"   against another's:     max {max(other):.3f}  mean {sum(other) / len(other):.3f}  above 0.35: {over} of "
        f"{len(other)}   goal: mean <= 0.05, at most 2 % above 0.35 (neighbouring questions share points)"
    )
    print(f"   the question itself:   mean {parrot.keypoint_recall:.3f}   goal: 0 (no credit for restating it)")


def speed(refs, folder: Path, generated: dict[str, Generated]) -> None:
    """50 questions: the reference set cycled under new ids, each with a full 3-context report."""
    reports = [g for g in generated.values() if g.report is not None]
    ref_lines, res_lines = [], []
    for i in range(50):
        ref, gen = refs[i % len(refs)], reports[i % len(reports)]
        ref_lines.append(json.dumps({**ref.model_dump(), "id": f"q{i}"}))
        res_lines.append(json.dumps({"id": f"q{i}", **gen.report.model_dump(mode="json")}))
    (folder / "refs50.jsonl").write_text("\n".join(ref_lines) + "\n")
    (folder / "results50.jsonl").write_text("\n".join(res_lines) + "\n")
    load = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypofinder.cli",
            "eval",
            "score",
            folder / "refs50.jsonl",
            folder / "results50.jsonl",
            "--pick",
            "best",
            "--json",
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    n = json.loads(proc.stdout)["n"] if proc.returncode == 0 else f"failed: {proc.stderr.strip()[-200:]}"
    print(
        f"\n3. speed: `hypofinder eval score` on 50 questions x 3 contexts (fresh process): {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU (n = {n}; load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)   goal: <= 60 s"
    )


def models(refs, folder: Path, model_names: list[str], contexts: int) -> dict[str, dict[str, Generated]]:
    refset = read_references(REFS)
    refset.items = refs
    out: dict[str, dict[str, Generated]] = {}
    for name in model_names:
        t0 = time.perf_counter()
        n_ctx = 3 if name == "fake" else contexts
        out[name] = mine_references(refset, out=folder / f"{name}.results.jsonl", model=name, contexts=n_ctx, seed=42)
        print(
            f"   mined {len(refs)} questions with {name} (--contexts {n_ctx}) in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=16, help="reference questions mined per model (default: 16)")
    ap.add_argument("--contexts", type=int, default=1, help="contexts per question for the embedded model")
    ap.add_argument("--no-local", action="store_true", help="skip the embedded SmolLM2 model")
    ap.add_argument("--keep", type=Path, help="keep results files here (rerun resumes)")
    args = ap.parse_args()
    refs = read_references(REFS).items
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-eval-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"reference set: {REFS.relative_to(ROOT)} ({len(refs)} questions); results in {folder}")
    calibration()
    soundness(refs)
    print("\n4. models (mining the reference questions, answer cache on)", flush=True)
    names = ["fake"] + ([] if args.no_local else ["local"])
    mined = models(refs[: args.questions], folder, names, args.contexts)
    speed(refs, folder, mined["fake"])
    print("\n4. models (continued): metrics, pick = top; the row 'reference' scores each reference against itself")
    asked = refs[: args.questions]
    rows = {name: score(asked, gen) for name, gen in mined.items()}
    rows["reference"] = score(asked, {r.id: Generated(id=r.id, hypothesis=r.reference_hypothesis) for r in asked})
    print(f"   {'model':<10}" + "".join(f"{m:>23}" for m in ("n", *METRICS)))
    for name, s in rows.items():
        print(f"   {name:<10}" + "".join(f"{fmt(getattr(s, m)):>23}" for m in ("n", *METRICS)))
    if "local" in rows:
        cmp = compare(rows["fake"].per_question, rows["local"].per_question, name_a="fake", name_b="local")
        print("\n   local - fake, paired bootstrap (95 %):")
        for r in cmp.rows:
            if r.n:
                print(
                    f"   {r.metric:<17} n={r.n:<3} fake {fmt(r.a):>6}  local {fmt(r.b):>6}  diff {r.diff:+.3f}  "
                    f"[{r.low:+.3f}, {r.high:+.3f}]  {r.verdict}"
                )


if __name__ == "__main__":
    main()
