"""Cold start of the CLI: each part timed in a fresh process, beside the machine's plain llama.cpp tok/s.

Goal (issue 15): everything that is not LLM decoding <= 5 s per cold run; a cached ask < 1 s.
Run: .venv/bin/python benchmarks/bench_cold_start.py [--contexts 3] [--skip-local]

Parts (each a new interpreter, so nothing is warm but the OS file cache and the built ontology index):
  interpreter, CLI import, ontology contexts (embedder + index), predictor load, embedded-model load,
  cached ask (fake model), cold ask (fake model: all but decoding), cold ask (local model) split into
  decoding (completion tokens / plain tok/s) and the rest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import SEED_QUESTION, ask  # noqa: E402

TIMED = "import time as _t; _t0 = _t.perf_counter()\n{code}\nprint('SECONDS', _t.perf_counter() - _t0)"
PLAIN_TOKS = """
from hypofinder.llm.providers import load_llama, local_model_path
from hypofinder.settings import settings
cfg = settings()
llm = load_llama(local_model_path(), cfg.local_n_ctx, cfg.local_n_threads)
t = _t.perf_counter()
out = llm.create_completion("Point defects in two-dimensional materials are", max_tokens=128, temperature=0.0)
print('TOKS', out['usage']['completion_tokens'] / (_t.perf_counter() - t))
"""


def python(code: str, env: dict) -> tuple[float, float, str]:
    """(wall of the whole process, seconds inside the timed code, stdout) for ``code`` in a new interpreter."""
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        sys.exit(f"failed: {code!r}: {res.stderr.strip()[-500:]}")
    inner = float(next(x for x in res.stdout.splitlines() if x.startswith("SECONDS")).split()[1])
    return wall, inner, res.stdout


class Rows(list):
    """Rows printed as they are measured: part, seconds, goal."""

    def append(self, row: tuple[str, str, str]) -> None:
        super().append(row)
        print(f"{row[0]:<62}  {row[1]:>8}  {row[2]}", flush=True)

    def __iadd__(self, rows):
        for row in rows:
            self.append(row)
        return self


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contexts", type=int, default=3)
    p.add_argument("--skip-local", action="store_true", help="skip the cold ask with the embedded model")
    a = p.parse_args()
    env = dict(os.environ)
    env.setdefault("HYPOFINDER_CACHE_DIR", tempfile.mkdtemp(prefix="hf-bench-"))
    # the ontology index is built once per cache folder (bench_ontology.py measures that build)
    subprocess.run([sys.executable, "-m", "hypofinder.cli", "ontology", "build"], capture_output=True, env=env)
    n = str(a.contexts)
    seed = str(time.time_ns() % 10**6)  # a new seed: the cold asks miss the report cache
    rows = Rows()

    print(f"{'part':<62}  {'seconds':>8}  goal", flush=True)
    wall, _, _ = python("pass", env)
    rows.append(("interpreter start", f"{wall:.2f}", ""))
    wall, inner, _ = python("import hypofinder.cli", env)
    rows.append(("import hypofinder.cli (typer, rich, settings)", f"{inner:.2f}", ""))
    _, inner, _ = python(f"from hypofinder.ontology import contexts_for; contexts_for({SEED_QUESTION!r}, {n})", env)
    rows.append((f"contexts step, cold ({n} contexts: embedder + index)", f"{inner:.2f}", ""))
    _, inner, _ = python("from hypofinder.defects.predictor import DefectPredictor; DefectPredictor.load()", env)
    rows.append(("defect predictor load", f"{inner:.2f}", ""))
    _, inner, out = python(PLAIN_TOKS, env)
    toks = float(next(x for x in out.splitlines() if x.startswith("TOKS")).split()[1])
    rows.append(("embedded model load + 128 plain tokens", f"{inner:.2f}", ""))

    fake = ["--model", "fake", "--contexts", n, "--seed", seed]
    cold_fake, report = ask(fake, env)
    rows.append(("cold ask --model fake, wall (all but decoding)", f"{cold_fake:.2f}", "<= 5"))
    rows += [(f"  {k}", f"{v:.2f}", "") for k, v in report["run"]["step_seconds"].items()]
    cached, again = ask(fake, env)
    rows.append(("cached ask --model fake, wall", f"{cached:.2f}", "< 1"))
    assert again["run"]["cached"], "the second ask was not served from the cache"

    if not a.skip_local:
        cold, report = ask(["--contexts", n, "--seed", seed], env)
        run = report["run"]
        decoding = run["completion_tokens"] / toks
        rows.append(("cold ask --model local, wall", f"{cold:.1f}", ""))
        rows += [(f"  {k}", f"{v:.1f}", "") for k, v in run["step_seconds"].items()]
        rows.append(
            (f"  decoding alone at plain tok/s ({run['completion_tokens']} completion tokens)", f"{decoding:.1f}", "")
        )
        rows.append(
            (
                f"  inside the model: {run['llm_calls']} calls, {run['prompt_tokens']} prompt tokens evaluated + decoding",
                f"{run['llm_seconds']:.1f}",
                "",
            )
        )
        rows.append(("  everything outside the model (wall - inside)", f"{cold - run['llm_seconds']:.1f}", "<= 5"))
        rows.append(("  total", f"{cold:.1f}", "<= 30 at ~80 tok/s"))
        cached, _ = ask(["--contexts", n, "--seed", seed], env)
        rows.append(("cached ask --model local, wall", f"{cached:.2f}", "< 1"))

    print(
        f"plain llama.cpp generation on this machine: {toks:.1f} tok/s ({os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
