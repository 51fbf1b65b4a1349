"""Decode speed of the portable llama.cpp build against a native one, in the same run (issue 24).

The project's build (``make install``: AVX2/FMA/F16C/BMI2, no AVX-512, no AMX) is compared with a native
build (``-march=native``) installed elsewhere, e.g.::

    CMAKE_ARGS="-DGGML_NATIVE=ON" pip wheel --no-deps --no-cache-dir --no-binary llama-cpp-python \\
        llama_cpp_python==0.3.36 -w /tmp/native-wheel
    pip install --no-deps --target /tmp/native-site /tmp/native-wheel/llama_cpp_python-*.whl
    python benchmarks/bench_llama_build.py --native-site /tmp/native-site

Each round decodes the same tokens with the embedded model in a child process (``hypofinder.llm.smoke``),
alternating the builds so that load on the machine hits both alike; prints the median tok/s of each and the
ratio against the goal (portable >= 90 % of native on a machine without AMX). ``--model PATH`` times another
GGUF (e.g. ``.cache/models/qwen2.5-coder-0.5b.gguf``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def decode(site: str | None, tokens: int, model: str | None) -> tuple[float, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (site, str(ROOT)) if p)
    if model:
        env["HYPOFINDER_LOCAL_MODEL"] = model
    out = subprocess.run(
        [sys.executable, "-m", "hypofinder.llm.smoke", "--child", str(tokens)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = json.loads(out.strip().splitlines()[-1])
    return row["tokens"] / row["seconds"], row["system_info"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--native-site", required=True, help="folder holding a natively built llama_cpp package")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--model", default=None, help="GGUF to time (default: the embedded SmolLM2)")
    args = ap.parse_args()
    speeds: dict[str, list[float]] = {"portable": [], "native": []}
    infos = {}
    for _ in range(args.rounds):
        for name, site in (("portable", None), ("native", args.native_site)):
            tok_s, infos[name] = decode(site, args.tokens, args.model)
            speeds[name].append(tok_s)
    print(f"bench_llama_build: {args.tokens} tokens x {args.rounds} rounds, {args.model or 'SmolLM2-135M Q4_1'}")
    for name, values in speeds.items():
        feats = " ".join(f.split("=")[0].split(":")[-1].strip() for f in infos[name].split("|") if "= 1" in f)
        print(f"  {name:9} median {statistics.median(values):7.1f} tok/s  (min {min(values):.1f}, max "
              f"{max(values):.1f})  [{feats}]")  # fmt: skip
    ratio = statistics.median(speeds["portable"]) / statistics.median(speeds["native"])
    print(f"  portable / native = {ratio:.2f}   (goal: >= 0.90 on a machine without AMX)")


if __name__ == "__main__":
    main()
