"""A real decode of the embedded model in a child process: ``make install`` ends with it, ``hypofinder doctor``
shows it.

A llama.cpp built for the wrong CPU (ggml's AMX path on Sapphire Rapids-class Xeons) dies on a signal inside
``llama_decode``; in a child process that becomes one line for a person instead of a segfault mid-demo.

``python -m hypofinder.llm.smoke`` prints the result and exits 1 when the decode failed. The child is
``python -m hypofinder.llm.smoke --child N``; ``HYPOFINDER_SMOKE_FAULT=segv`` makes it die on SIGSEGV before
decoding (the test hook for the failure path).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from pydantic import BaseModel

REBUILD_HINT = "rebuild with: make rebuild-llama"


class SmokeDecode(BaseModel):
    """What one decode in a child process gave."""

    ok: bool
    tokens: int = 0
    seconds: float = 0.0
    system_info: str = ""
    error: str = ""

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def system_info() -> str:
    """llama.cpp's CPU feature line (``AVX2 = 1 | ... | AMX_INT8 = 0``), as compiled into this build."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode()


def _child(n_tokens: int) -> None:
    if os.environ.get("HYPOFINDER_SMOKE_FAULT") == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    from llama_cpp import Llama

    from hypofinder.llm.providers import local_model_path

    llm = Llama(model_path=local_model_path(), n_ctx=256, n_threads=os.cpu_count(), verbose=False)
    prompt = llm.tokenize(b"The lattice constant of silicon is", add_bos=True)
    llm.eval(prompt)  # prompt processing: not timed
    start, done = time.perf_counter(), 0
    for _ in range(n_tokens):
        token = llm.sample(temp=0.0)
        llm.eval([token])
        done += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"tokens": done, "seconds": seconds, "system_info": system_info()}))


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def decode(n_tokens: int = 32, timeout_s: float = 300.0) -> SmokeDecode:
    """Decode ``n_tokens`` with the embedded model in a child process; never raises for a crash of the child."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hypofinder.llm.smoke", "--child", str(n_tokens)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return SmokeDecode(ok=False, error=f"the embedded model did not decode {n_tokens} tokens in {timeout_s:.0f} s")
    if proc.returncode < 0:
        name = _signal_name(proc.returncode)
        return SmokeDecode(
            ok=False, error=f"the embedded model crashed on this CPU ({name} in llama.cpp); {REBUILD_HINT}"
        )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return SmokeDecode(ok=False, error=f"the embedded model failed to decode ({last}); {REBUILD_HINT}")
    return SmokeDecode(ok=True, **json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        _child(int(argv[1]))
        return 0
    result = decode()
    if not result.ok:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    print(f"embedded model: {result.tokens} tokens decoded at {result.tokens_per_s:.0f} tok/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
