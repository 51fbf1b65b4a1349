"""``hypofinder doctor``: what the project needs, and whether each part works on this machine.

Each check is one ``Check`` row; ``required`` rows are what the default run (``make demo``) needs, so a broken
one makes ``doctor`` exit non-zero. The embedded model is checked by a real decode in a child process
(``hypofinder.llm.smoke``): a llama.cpp built for the wrong CPU dies there, not in the doctor.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from hypofinder.errors import one_line

PACKAGES = ("llama_cpp_python", "torch", "chromadb", "langchain-core", "pymatgen", "lightgbm", "streamlit", "ray")


class Check(BaseModel):
    name: str
    ok: bool
    detail: str
    required: bool = True


def _packages() -> Check:
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    detail = f"Python {platform.python_version()}; " + ", ".join(found)
    return Check(
        name="python and packages", ok=not missing, detail=detail + (f"; missing: {missing}" if missing else "")
    )


def _data() -> Check:
    from hypofinder.ontology import physh
    from hypofinder.settings import settings

    cfg = settings()
    graph = physh.load()
    cfg.require(cfg.dmd_dir, "2DMD folder")
    return Check(
        name="data folder",
        ok=True,
        detail=f"{cfg.data_dir}: PhySH {graph.version} ({len(graph.concepts)} concepts), 2dmd/ present",
    )


def _index() -> Check:
    from hypofinder.ontology import index, physh
    from hypofinder.settings import settings

    graph = physh.load()
    chroma = Path(settings().cache_dir) / "chroma"
    built = index.is_built(graph, settings().cache_dir)
    detail = f"{chroma}: built" if built else f"{chroma}: not built yet (the first ask builds it, ~30 s)"
    return Check(name="concept index", ok=True, detail=detail, required=False)


def _embedded_model(tokens: int) -> Callable[[], Check]:
    def check() -> Check:
        from hypofinder.llm import smoke
        from hypofinder.llm.providers import local_model_path

        path = Path(local_model_path())
        size = f"{path.name}, {path.stat().st_size / 1e6:.0f} MB"
        result = smoke.decode(tokens)
        if not result.ok:
            return Check(name="embedded model", ok=False, detail=f"{size}: {result.error}")
        features = [f.split(":")[-1].strip() for f in result.system_info.split("|")]
        cpu = " ".join(f.split("=")[0].strip() for f in features if f.endswith("= 1"))
        return Check(
            name="embedded model",
            ok=True,
            detail=f"{size}; llama.cpp CPU: {cpu}; decoded {result.tokens} tokens at {result.tokens_per_s:.0f} tok/s",
        )

    return check


def _weights() -> Check:
    from hypofinder.defects.predictor import DefectPredictor

    predictor = DefectPredictor.load()
    subsets = sorted(predictor.bundle.gbm)
    return Check(name="defect weights", ok=True, detail=f"{len(subsets)} subsets loaded: {', '.join(subsets)}")


def _cache() -> Check:
    from hypofinder.settings import settings

    folder = Path(settings().cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
        pass
    return Check(name="cache folder", ok=True, detail=f"{folder}: writable")


def _served() -> Check:
    import httpx

    from hypofinder.settings import settings

    run = settings().run
    if not run.base_url:
        return Check(name="served model", ok=True, detail="none configured (run.base_url unset)", required=False)
    url = run.base_url.rstrip("/") + "/models"
    try:
        listed = httpx.get(url, timeout=5.0).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as exc:
        return Check(name="served model", ok=False, detail=f"{url}: unreachable ({one_line(exc, 120)})")
    names = [m.get("id", "?") for m in listed.get("data", [])]
    return Check(name="served model", ok=True, detail=f"{url}: reachable, serves {', '.join(names) or 'no model'}")


def _chromium() -> Check:
    found = [shutil.which(b) for b in ("chromium", "chromedriver")]
    ok = all(found)
    detail = (
        ", ".join(f for f in found if f) if ok else "not installed (`make browser`; only the browser test needs it)"
    )
    return Check(name="chromium", ok=ok, detail=detail, required=False)


def run_checks(tokens: int = 32) -> list[Check]:
    """Every check, in order; a check that raises becomes a failed row naming what broke."""
    checks: list[tuple[str, bool, Callable[[], Check]]] = [
        ("python and packages", True, _packages),
        ("data folder", True, _data),
        ("concept index", False, _index),
        ("embedded model", True, _embedded_model(tokens)),
        ("defect weights", True, _weights),
        ("cache folder", True, _cache),
        ("served model", True, _served),
        ("chromium", False, _chromium),
    ]
    rows = []
    for name, required, check in checks:
        try:
            rows.append(check())
        except Exception as exc:  # the doctor reports a broken part, it never dies of one
            rows.append(Check(name=name, ok=False, detail=one_line(exc, 200), required=required))
    return rows
