"""Ontology room benchmark: retrieval quality per variant, index build, cold start, warm latency.

    .venv/bin/python benchmarks/bench_ontology.py [--split heldout|tune|all] [--cache-dir DIR] [--queries 50]

Quality: the labelled paraphrased questions in benchmarks/data/ontology_questions.jsonl (each with
the PhySH concepts an expert accepts; a tuning half and a held-out half). For each retrieval variant
it reports hit@10 (an accepted concept in the top 10), concept recall@10 (share of the accepted
concepts in the top 10) and MRR (first accepted concept), beside the label-only baseline.
Speed: the cold index build in a fresh cache dir (or reuse ``--cache-dir``), a fresh process running
``ontology contexts`` on a built index (and whether it imported torch), and warm search latency.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypofinder import ontology  # noqa: E402
from hypofinder.ontology.engine import EMBEDDING_ONLY, HYBRID, LABEL_ONLY, Options  # noqa: E402
from hypofinder.settings import configure  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "data" / "ontology_questions.jsonl"
GOAL = {"hit": 0.9, "recall": 0.6, "build_s": 60.0, "query_ms": 100.0, "cold_s": 3.0}
MOS2 = "How do sulfur vacancies change the band gap of monolayer MoS2?"


def seed_question() -> str:
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("SEED_QUESTION :="):
            return line.split(":=", 1)[1].strip()
    raise SystemExit("SEED_QUESTION not found in the Makefile")


VARIANTS: list[tuple[str, Options]] = [
    ("embedding only, labels (whole query)", EMBEDDING_ONLY),
    ("label-only index + boosts (baseline)", LABEL_ONLY),
    ("+ alt-label vectors", Options(documents=False, w_hier=0.1)),
    ("+ description vectors (max of both)", Options(w_hier=0.1)),
    ("+ stronger hierarchy boost", HYBRID),
    ("+ BM25 fused by rank (RRF)", Options(lexical=True)),
    ("documents, no clause split", Options(clauses=False)),
]


def load_questions(split: str) -> list[dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split == "all" or r["split"] == split]


def quality(engine, questions: list[dict], options: Options, k: int = 10) -> tuple[float, float, float]:
    hit = rec = rr = 0.0
    for q in questions:
        accept = {a["id"] for a in q["accept"]}
        ranked = [node.id for _, node, _ in engine.scored(q["question"], options=options)]
        top = ranked[:k]
        hit += bool(accept & set(top))
        rec += len(accept & set(top)) / len(accept)
        first = next((i for i, cid in enumerate(ranked) if cid in accept), None)
        rr += 0.0 if first is None else 1.0 / (first + 1)
    n = len(questions)
    return hit / n, rec / n, rr / n


def rank_of(engine, query: str, label: str, options: Options) -> int | None:
    labels = [node.label for _, node, _ in engine.scored(query, options=options)]
    return labels.index(label) + 1 if label in labels else None


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fresh_process(cache: str, args: list[str]) -> tuple[float, float, bool]:
    """Wall and CPU seconds for a new Python process to run ``hypofinder ontology ARGS``; did it import torch?"""
    code = (
        "import sys\nfrom hypofinder.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules or 'sentence_transformers' in sys.modules else 'NO-TORCH', file=sys.stderr)"
    )
    t0, c0 = time.perf_counter(), _children_cpu()
    res = subprocess.run(
        [sys.executable, "-c", code, "ontology", *args],
        env={**os.environ, "HYPOFINDER_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - t0, _children_cpu() - c0, "NO-TORCH" not in res.stderr


def old_query_model_load() -> tuple[float, float]:
    """Wall and CPU seconds for a new process to load the query model the old way (sentence-transformers)."""
    from hypofinder.ontology.embedder import model_path

    code = f"from sentence_transformers import SentenceTransformer\nSentenceTransformer({str(model_path())!r}, device='cpu')"
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, check=True
    )
    return time.perf_counter() - t0, _children_cpu() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="heldout", choices=["heldout", "tune", "all"])
    ap.add_argument("--cache-dir", help="reuse this cache dir (its index) instead of a cold build in a temp dir")
    ap.add_argument("--queries", type=int, default=50, help="how many warm queries to time")
    ap.add_argument("--timing-only", action="store_true", help="skip the retrieval-quality table")
    args = ap.parse_args()
    questions = load_questions(args.split)
    seed = seed_question()

    with tempfile.TemporaryDirectory(prefix="hypofinder-bench-") as tmp:
        cache = args.cache_dir or tmp
        configure(cache_dir=cache)
        load_before = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        info = ontology.build_index()
        build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
        engine = ontology._engine()
        cold = {
            what: fresh_process(cache, a)
            for what, a in (("search", ["search", MOS2, "--json"]), ("contexts", ["contexts", seed, "-n", "3"]))
        }
        before = old_query_model_load()

        pool = [q["question"] for q in load_questions("all")]
        timed = (pool * (1 + args.queries // len(pool)))[: args.queries]
        ontology.search("warm-up query", k=10)
        times, cpu = [], []
        for q in timed:
            t0, c0 = time.perf_counter(), time.process_time()
            ontology.search(q, k=10)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        median = statistics.median(times)
        p95 = sorted(times)[min(len(times) - 1, round(0.95 * (len(times) - 1)))]

        variants = [] if args.timing_only else VARIANTS
        rows = [
            (name, *quality(engine, questions, opts), rank_of(engine, seed, "Multiscale modeling", opts))
            for name, opts in variants
        ]
        mos2 = [h.label for h in ontology.search(MOS2, k=10)]

    line = lambda name, value, goal="": print(f"{name:<58}{value:>10}{goal:>12}")  # noqa: E731
    print(f"PhySH {info.physh_version} | {info.count} concepts, {info.entries} vectors | {info.model} via onnxruntime")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        "(wall times grow with load on a shared machine; CPU times do not)"
    )
    print()
    print(f"{'measure':<58}{'value':>10}{'goal':>12}")
    print("-" * 80)
    if info.built:
        line("index build, fresh cache, incl. ONNX export (s)", f"{build:.1f}", f"<= {GOAL['build_s']:.0f}")
        line("  same, CPU time of this process (s)", f"{build_cpu:.1f}", "")
    else:
        line("index reused from --cache-dir (s)", f"{build:.2f}", "")
    for what, (sec, sec_cpu, torch) in cold.items():
        line(f"new process: `ontology {what}`, built index (s)", f"{sec:.2f}", f"<= {GOAL['cold_s']:.0f}")
        line("  same, CPU time (s)", f"{sec_cpu:.2f}", "")
        line("  imported torch / sentence-transformers", "yes" if torch else "no", "no")
    line("before: new process just loading sentence-transformers + model (s)", f"{before[0]:.2f}", "")
    line("  same, CPU time (s)", f"{before[1]:.2f}", "")
    line(f"warm search median over {len(times)} queries (ms)", f"{median:.0f}", f"<= {GOAL['query_ms']:.0f}")
    line(f"warm search p95 over {len(times)} queries (ms)", f"{p95:.0f}", "")
    line("warm search median CPU time (ms)", f"{statistics.median(cpu):.0f}", f"<= {GOAL['query_ms']:.0f}")
    if args.timing_only:
        return 0
    print()
    print(
        f"{len(questions)} {args.split} questions ({QUESTIONS.name}); seed: rank of 'Multiscale modeling' (goal <= 3)"
    )
    print(f"{'variant':<40}{'hit@10':>8}{'recall@10':>11}{'MRR':>8}{'seed':>6}")
    print("-" * 73)
    for name, hit, rec, mrr, seed_rank in rows:
        mark = "  <- default" if name == next(n for n, o in VARIANTS if o == HYBRID) else ""
        print(f"{name:<40}{hit:>8.2f}{rec:>11.2f}{mrr:>8.3f}{seed_rank or '-':>6}{mark}")
    print(f"{'goal (held-out)':<40}{GOAL['hit']:>8.2f}{GOAL['recall']:>11.2f}")
    print()
    print(f"MoS2 question, default top 10: {', '.join(mos2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
