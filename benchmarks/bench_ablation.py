"""Ablation: does the pipeline beat one plain call of the same model? (variants of `hypofinder eval`)

    .venv/bin/python benchmarks/bench_ablation.py --model local [--variants raw,full,...] [--questions N]
    .venv/bin/python benchmarks/bench_ablation.py --base-url http://127.0.0.1:8000/v1 --model NAME \\
        [--judge NAME --judge-base-url URL]
    nohup .venv/bin/python benchmarks/bench_ablation.py --model local > ablation.log 2>&1 &   # in the background

Every variant of hypofinder.evaluation.variants (raw, full, no-contexts, no-evidence, no-refine,
synthesis-only) runs on the held-out half of benchmarks/data/eval_refs.jsonl with the same model, seed,
contexts and questions. Each run writes its results file under --out (default .cache/ablation/) as it goes,
one fsynced line per question, like `hypofinder mine`: a killed run resumes where it stopped. The answer
cache is off unless --cache, so seconds and calls per report are what a user pays; synthesis-only shares
full's run.

Printed per variant: key-point recall under the word budget (every variant scored on its hypothesis,
rationale and steps, first 150 words) with its paired difference from raw and the 95 % bootstrap interval,
the same scored whole, words scored, concept recall, the judge's 0-5 score (with --judge), junk rate,
seconds and LLM calls per report. With a judge, its Spearman agreement with key-point recall. Beside them:
the issue's probe (served Qwen2.5-Coder-1.5B, 12 questions of a published benchmark, 2 contexts, no revision).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from hypofinder.evaluation import (  # noqa: E402
    VARIANTS,
    WORD_BUDGET,
    compare,
    evaluate_variants,
    parse_variants,
    read_references,
)
from hypofinder.evaluation.metrics import spearman  # noqa: E402

REFS = ROOT / "benchmarks" / "data" / "eval_refs.jsonl"
# The issue's first probe: served Qwen2.5-Coder-1.5B, 12 held-out physics questions, 2 contexts, no revision.
PROBE = {
    "raw": "kp 0.67, concepts 0.42, 180-300 words, 1 call, 28 s",
    "full": "kp 0.25 (top context), concepts 0.23, 30-64 words, 5-6 calls, ~120 s; -0.42 [-0.65, -0.19] vs raw",
    "synthesis-only": "best of contexts and synthesis 0.39; -0.29 [-0.53, -0.06] vs raw",
}


def fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def held_out(questions: int | None, folder: Path) -> Path:
    """The held-out references (``questions`` of them, spread evenly over the file: defect and other questions)
    as a file of their own: a stable input to resume."""
    refs = read_references(REFS).only("held-out").items
    if questions and questions < len(refs):
        refs = [refs[i * len(refs) // questions] for i in range(questions)]
    path = folder / f"refs.held-out.{len(refs)}.jsonl"
    text = "".join(r.model_dump_json(exclude_none=True) + "\n" for r in refs)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def diff(base, other, metric: str = "keypoint_recall") -> str:
    row = next(r for r in compare(base.per_question, other.per_question).rows if r.metric == metric)
    if row.diff is None:
        return "-"
    return f"{row.diff:+.3f} [{row.low:+.2f}, {row.high:+.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="local", help="'local' (embedded SmolLM2) or a served model's name")
    ap.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint of a served model")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated (default: all)")
    ap.add_argument("--questions", type=int, default=None, help="N held-out questions, spread evenly (default: all)")
    ap.add_argument("--contexts", type=int, default=2, help="contexts per report (default 2)")
    ap.add_argument("--words", type=int, default=WORD_BUDGET, help=f"word budget (default {WORD_BUDGET})")
    ap.add_argument("--judge", default=None, help="judge model (0-5 matched score)")
    ap.add_argument("--judge-base-url", default=None, help="judge endpoint (default: --base-url)")
    ap.add_argument("--cache", action="store_true", help="use the answer cache (seconds are then not a user's)")
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "ablation", help="results folder (resumable)")
    args = ap.parse_args()

    from hypofinder.settings import settings

    variants = parse_variants(args.variants)
    if "raw" not in [v.name for v in variants]:
        variants = [*parse_variants("raw"), *variants]  # every difference is taken from raw
    args.out.mkdir(parents=True, exist_ok=True)
    refs = held_out(args.questions, args.out)
    config = settings().run.merged(model=args.model, base_url=args.base_url, contexts=args.contexts, cache=args.cache)
    judge = None
    if args.judge:
        from hypofinder.evaluation.judge import Judge

        judge = Judge(args.judge, args.judge_base_url or args.base_url)
    tag = args.model.replace("/", "_")
    out = args.out / f"{tag}.{refs.stem.split('.', 1)[1]}.c{args.contexts}.jsonl"
    n = len(read_references(refs).items)
    print(f"ablation: model {args.model}{f' at {args.base_url}' if args.base_url else ''}, {n} held-out questions,")
    print(
        f"  {args.contexts} contexts, seed {config.seed}, word budget {args.words}, cache {'on' if args.cache else 'off'}"
    )
    print(f"  results: {out.parent}/{out.stem}.<variant>.jsonl (rerun to resume)", flush=True)

    t0 = time.perf_counter()

    def done(result) -> None:
        state = "error: " + (result.error or "")[:80] if result.error else f"{result.report.run.seconds:.0f} s"
        print(f"  [{time.perf_counter() - t0:6.0f} s] {result.extra.get('variant')} {result.id}: {state}", flush=True)

    common = dict(out=out, config=config, on_note=lambda line: print(f"  note: {line}"))
    budget = evaluate_variants(refs, variants, judge=judge, words=args.words, on_result=done, **common)
    whole = evaluate_variants(refs, variants, words=0, **common)  # nothing left to mine: scored again, whole

    raw = budget["raw"]
    head = f"{'variant':15} {'kp recall':>9} {'vs raw [95 %]':>24} {'kp whole':>8} {'vs raw [95 %]':>24}"
    head += f" {'words':>6} {'concepts':>8} {'judge':>5} {'junk':>5} {'s/report':>8} {'calls':>5}"
    print(f"\n{head}")
    for v in variants:
        b, w = budget[v.name], whole[v.name]
        print(
            f"{v.name:15} {fmt(b.keypoint_recall):>9} {diff(raw, b) if v.name != 'raw' else '-':>24} "
            f"{fmt(w.keypoint_recall):>8} {diff(whole['raw'], w) if v.name != 'raw' else '-':>24} "
            f"{fmt(b.words_scored, '.0f'):>6} {fmt(b.concept_recall):>8} {fmt(b.judge_score, '.2f'):>5} "
            f"{fmt(b.junk_rate, '.2f'):>5} {fmt(b.seconds_per_report, '.1f'):>8} {fmt(b.calls_per_report, '.1f'):>5}"
        )
    failed = {name: s.failed for name, s in budget.items() if s.failed}
    if failed:
        print(f"failed questions (scored 0): {json.dumps(failed)}")
    if judge is not None:
        pairs = [
            (q.judge_score, q.keypoint_recall)
            for s in budget.values()
            for q in s.per_question
            if q.judge_score is not None
        ]
        print(f"judge vs key-point recall: Spearman {fmt(spearman(pairs))} over {len(pairs)} hypotheses")
    print("\nreference (the issue's probe: served Qwen2.5-Coder-1.5B, 12 questions, 2 contexts, no revision):")
    for name, line in PROBE.items():
        print(f"  {name:15} {line}")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
