"""Mining throughput: questions/min vs --concurrency against a real llama.cpp server, and the embedded model.

    .venv/bin/python benchmarks/bench_mining.py [--queries 3] [--levels 1,2,4] [--no-local]

Each setting mines the same questions with --contexts 1, no answer cache and no validation (LLM work only;
the same seed gives the same tokens, so tok/s compares like with like),
after one warm-up question (ontology index, server prompt cache). The server is ``python -m llama_cpp.server``
with the embedded SmolLM2 GGUF on 127.0.0.1 (tests/servers.py), 2 threads. Reference: concurrency 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from hypofinder.mining import mine  # noqa: E402

QUESTIONS = [
    "How do sulfur vacancies change the band gap of monolayer MoS2?",
    "Can antisite defects in WSe2 create localized magnetic moments?",
    "How do grain boundaries in hexagonal boron nitride affect thermal transport?",
    "Which point defects in InSe shift its optical absorption edge?",
    "How do vacancy clusters alter the formation energy of phosphorene?",
    "Can strain engineering suppress defect formation in GaSe monolayers?",
    "How do domain walls affect electronic transport in layered magnets?",
    "What controls charge trapping at defects in 2D semiconductors?",
]


def run(questions: list[str], **kw) -> dict:
    items = [(f"b{i}", q) for i, q in enumerate(questions)]
    t0 = time.perf_counter()
    job = mine(items, contexts=1, cache=False, validate=False, **kw)
    results = list(job)
    wall = time.perf_counter() - t0
    s = job.stats
    return dict(
        n=len(results),
        done=s.done,
        failed=s.failed,
        wall=wall,
        per_min=60 * len(results) / wall,
        tok_s=s.completion_tokens / wall,
        load=os.getloadavg()[0],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=3, help="questions per setting (default 3)")
    ap.add_argument("--levels", default="1,2,4", help="concurrency levels against the server")
    ap.add_argument("--no-local", action="store_true", help="skip the embedded in-process model")
    args = ap.parse_args()
    questions = (QUESTIONS * 4)[: args.queries]
    levels = [int(x) for x in args.levels.split(",")]
    rows = []

    from tests.servers import llama_server

    print(
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}; {len(questions)} questions per setting",
        flush=True,
    )
    with llama_server(n_threads=2) as url:
        run(QUESTIONS[-1:], model="smollm2", base_url=url, concurrency=1)  # warm-up, not counted
        for k in levels:
            r = run(questions, model="smollm2", base_url=url, concurrency=k)
            rows.append(("llama.cpp server (2 threads)", k, r))
            print(f"  server, concurrency {k}: {r['per_min']:.2f} questions/min", flush=True)
    if not args.no_local:
        run(QUESTIONS[-1:], model="local", concurrency=1)  # loads the GGUF once
        r = run(questions, model="local", concurrency=1)
        rows.append(("embedded SmolLM2 (in-process)", 1, r))

    base = rows[0][2]["per_min"] or 1.0
    print(
        f"\n{'setting':32} {'conc':>4} {'done':>4} {'fail':>4} {'wall s':>8} {'q/min':>7} {'tok/s':>6} {'vs c=1':>7}"
        f" {'load':>5}"
    )
    for name, k, r in rows:
        print(
            f"{name:32} {k:>4} {r['done']:>4} {r['failed']:>4} {r['wall']:>8.1f} {r['per_min']:>7.2f} "
            f"{r['tok_s']:>6.1f} {r['per_min'] / base:>6.2f}x {r['load']:>5.1f}"
        )
    print(f"(load average now {os.getloadavg()[0]:.1f}; the machine is shared, absolute numbers are noisy)")


if __name__ == "__main__":
    main()
