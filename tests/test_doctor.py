"""The portable llama.cpp build, the install's smoke decode and ``hypofinder doctor``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hypofinder.llm import smoke


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )


def test_the_built_llama_cpp_has_no_amx_unless_a_native_build_was_asked_for():
    if any(Path(sys.prefix).glob(".llama-native-*")):
        pytest.skip("this venv's llama.cpp was built with LLAMA_BUILD=native")
    info = smoke.system_info()
    assert "AVX2 = 1" in info or "NEON = 1" in info, info  # the portable baseline is there
    assert "AMX" not in info and "AVX512 = 1" not in info, info


def test_a_smoke_decode_that_dies_on_a_signal_gives_one_line_and_a_non_zero_exit():
    proc = _run("-m", "hypofinder.llm.smoke", HYPOFINDER_SMOKE_FAULT="segv")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: the embedded model crashed on this CPU (SIGSEGV in llama.cpp); rebuild with: make rebuild-llama"
    ]


@pytest.mark.slow
def test_smoke_decode_decodes_tokens():
    result = smoke.decode(8)
    assert result.ok and result.tokens == 8 and result.tokens_per_s > 1, result


@pytest.mark.slow
def test_doctor_on_a_healthy_install_exits_0_and_decodes():
    proc = _run("-m", "hypofinder", "doctor", "--json", "--tokens", "8")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert all(r["ok"] for r in rows.values() if r["required"]), rows
    assert "decoded 8 tokens" in rows["embedded model"]["detail"] and "AVX2" in rows["embedded model"]["detail"]
    assert "PhySH" in rows["data folder"]["detail"] and "subsets loaded" in rows["defect weights"]["detail"]


def test_doctor_names_a_wrong_model_path(tmp_path):
    proc = _run("-m", "hypofinder", "doctor", "--json", HYPOFINDER_LOCAL_MODEL=str(tmp_path / "missing.gguf"))
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert proc.returncode == 1 and proc.stderr.strip() == "error: broken: embedded model"
    assert not rows["embedded model"]["ok"] and "missing.gguf" in rows["embedded model"]["detail"]


def test_doctor_names_an_unwritable_cache_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = _run("-m", "hypofinder", "--cache-dir", str(blocker / "cache"), "doctor", "--json", "--tokens", "1")
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert proc.returncode == 1 and "cache folder" in proc.stderr
    assert not rows["cache folder"]["ok"] and "a-file" in rows["cache folder"]["detail"]


def test_doctor_names_an_unreachable_served_model():
    proc = _run("-m", "hypofinder", "doctor", "--json", "--tokens", "1", HYPOFINDER_BASE_URL="http://127.0.0.1:9/v1")
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert proc.returncode == 1 and "served model" in proc.stderr
    assert "unreachable" in rows["served model"]["detail"]
