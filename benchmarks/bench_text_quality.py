"""Text quality of the embedded model's reports (issue 17): this version beside the previous prompt version.

For each question (20, from across physics) runs ``hypofinder ask --model local --contexts N --no-cache
--format json`` twice, in the same conditions: once with this tree, once with the previous version of the
whole pipeline (prompts, schemas and code) unpacked from git (``--baseline-rev``, default the commit before
issue 17). Prints per version:

- prose share: text fields passing ``hypofinder.quality.prose_problems`` (goal: >= 90 %);
- on-topic share: hypotheses whose statement names something from the question or the concept (goal: 100 %);
- flagged fields (new version only: ``quality_flags``), seconds per report, completion tokens per report.

    python benchmarks/bench_text_quality.py                 # all 20 questions, 2 contexts (hours on 2 cores)
    python benchmarks/bench_text_quality.py -n 5            # a subset while iterating
    python benchmarks/bench_text_quality.py --skip-baseline # only this version
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypofinder.proofread import mentions_subject, subject_words  # noqa: E402
from hypofinder.quality import prose_problems  # noqa: E402
from hypofinder.settings import settings  # noqa: E402

BASELINE_REV = "e2d1a6b"  # main before issue 17: prompts 1.0.0, length-bounded free strings
QUESTIONS = [
    "How do sulfur vacancies change the band gap of monolayer MoS2?",  # 2D defects
    "Do selenium vacancy pairs in WSe2 trap excitons?",
    "What limits the critical temperature of cuprate superconductors?",  # superconductivity
    "Can strain raise the superconducting transition temperature of iron selenide films?",
    "How does spin-orbit coupling stabilise skyrmions in thin magnetic multilayers?",  # magnetism
    "Why do domain walls in ferromagnets increase electrical resistivity?",
    "How does strain change the Curie temperature of ferroelectric thin films?",  # ferroelectrics
    "Can domain walls in bismuth ferrite conduct electricity?",
    "Why is the thermal conductivity of graphene so high?",  # thermal transport
    "How do grain boundaries reduce phonon heat transport in silicon?",
    "What sets the efficiency of thermoelectric materials at room temperature?",
    "How do topological insulators keep their surface states conducting?",  # topology
    "Can twisted bilayer graphene host correlated insulating states?",
    "How does hydrogen diffuse through palladium membranes?",  # diffusion
    "What controls the lifetime of excitons in perovskite solar cells?",  # optics
    "Why do metallic glasses resist crystallisation?",  # soft / amorphous
    "How do polymer chains entangle in a melt under shear?",
    "Can machine learning potentials predict phase transitions in alloys?",  # computation
    "How do quantum dots emit single photons?",  # quantum optics
    "What limits the coherence time of superconducting qubits?",  # quantum information
]


def text_fields(report: dict) -> list[tuple[str, str]]:
    out = []
    for i, c in enumerate(report["contexts"]):
        h = c["hypothesis"]
        summary = h.get("summary", c.get("summary"))  # the previous version kept it beside the hypothesis
        out += [(f"c{i}.summary", summary), (f"c{i}.statement", h["statement"]), (f"c{i}.rationale", h["rationale"])]
        out += [(f"c{i}.step{j}", s) for j, s in enumerate(h["steps"])]
        out.append((f"c{i}.review", c["review"]["text"]))
    s = report["synthesis"]
    out += [("representation", s["representation"]), ("hypothesis", s["hypothesis"])]
    out += [(f"synthesis.step{j}", x) for j, x in enumerate(s["steps"])]
    return out


def score(report: dict) -> dict:
    fields = text_fields(report)
    prose = sum(not prose_problems(t, source=report["query"]) for _, t in fields)
    on_topic = 0
    for c in report["contexts"]:
        subject = subject_words(report["query"], c["concepts"][0]["label"])
        on_topic += mentions_subject(c["hypothesis"]["statement"], subject)
    flagged = sum(
        len(c["hypothesis"].get("quality_flags", {})) + len(c["review"].get("quality_flags", {}))
        for c in report["contexts"]
    ) + len(report["synthesis"].get("quality_flags", {}))
    return {
        "fields": len(fields),
        "prose": prose,
        "hypotheses": len(report["contexts"]),
        "on_topic": on_topic,
        "flagged": flagged,
        "seconds": report["run"]["seconds"],
        "tokens": report["run"]["completion_tokens"],
    }


def baseline_tree(rev: str) -> Path:
    """The previous version's files (code and prompts), unpacked from git into a temporary folder."""
    tree = Path(tempfile.mkdtemp(prefix=f"hypofinder-{rev}-"))
    data = subprocess.run(
        ["git", "archive", rev, "hypofinder", "prompts", "ontology"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    tarfile.open(fileobj=BytesIO(data)).extractall(tree)
    return tree


def ask(tree: Path, question: str, contexts: int) -> dict:
    cfg = settings()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "HYPOFINDER_DATA_DIR": str(cfg.data_dir),
        "HYPOFINDER_CACHE_DIR": str(cfg.cache_dir),
        "HYPOFINDER_MODELS_DIR": str(cfg.models_dir),
    }
    t = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypofinder.cli",
            "ask",
            question,
            "--model",
            "local",
            "--contexts",
            str(contexts),
            "--no-cache",
            "--no-validate",
            "--format",
            "json",
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        return {"error": res.stderr.strip()[-300:], "seconds": time.perf_counter() - t}
    return json.loads(res.stdout)


def summarize(name: str, rows: list[dict]) -> str:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return f"{name:>9}: no report ({len(rows)} errors)"
    f, p = sum(r["fields"] for r in ok), sum(r["prose"] for r in ok)
    h, t = sum(r["hypotheses"] for r in ok), sum(r["on_topic"] for r in ok)
    return (
        f"{name:>9}: prose {p}/{f} = {p / f:.0%} (goal >= 90 %), on topic {t}/{h} = {t / h:.0%} (goal 100 %), "
        f"flagged {sum(r['flagged'] for r in ok)}, {sum(r['seconds'] for r in ok) / len(ok):.0f} s/report, "
        f"{sum(r['tokens'] for r in ok) / len(ok):.0f} tokens/report, errors {len(rows) - len(ok)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=len(QUESTIONS), help="number of questions (from the top)")
    ap.add_argument("--contexts", type=int, default=2)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--out", type=Path, help="write every report and score here (JSON lines)")
    args = ap.parse_args()
    versions = {"this": ROOT}
    if not args.skip_baseline:
        versions[f"{args.baseline_rev}"] = baseline_tree(args.baseline_rev)
    rows: dict[str, list[dict]] = {v: [] for v in versions}
    out = args.out.open("w") if args.out else None
    for q in QUESTIONS[: args.n]:
        for name, tree in versions.items():  # interleaved: both versions see the same machine load
            report = ask(tree, q, args.contexts)
            row = report if "error" in report else score(report)
            rows[name].append(row)
            print(f"[{name}] {q[:60]}: {row}", flush=True)
            if out:
                out.write(json.dumps({"version": name, "question": q, "score": row, "report": report}) + "\n")
    print(f"\n{min(args.n, len(QUESTIONS))} questions, {args.contexts} contexts, embedded model, --no-cache")
    for name in versions:
        print(summarize(name, rows[name]))


if __name__ == "__main__":
    main()
