"""Where a report came from: step timings, input fingerprints (part of the report cache key), git SHA and
PhySH version for the run manifest."""

from __future__ import annotations

import functools
import subprocess
import time

from hypofinder.settings import PROJECT_ROOT, settings


class timed:
    """Context manager: store the block's wall time (s) under ``name``."""

    def __init__(self, store: dict, name: str):
        self.store, self.name = store, name

    def __enter__(self):
        self.t = time.perf_counter()

    def __exit__(self, *exc):
        self.store[self.name] = round(time.perf_counter() - self.t, 3)


def _fingerprint(path) -> str:
    try:
        st = path.stat()
        return f"{st.st_size}:{int(st.st_mtime)}"
    except OSError:
        return "missing"


def input_fingerprint(with_weights: bool) -> str:
    cfg = settings()
    parts = [_fingerprint(cfg.physh_path), _fingerprint(cfg.rules_dir / "roles.yaml")]
    if with_weights and cfg.models_dir.exists():
        parts += [_fingerprint(p) for p in sorted(cfg.models_dir.iterdir())]
    return "|".join(parts)


@functools.lru_cache(maxsize=1)
def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def physh_version() -> str | None:
    try:
        from hypofinder.ontology import physh_version

        return physh_version()
    except Exception:  # noqa: BLE001 - the manifest must not fail the run
        return None
