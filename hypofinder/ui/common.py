"""Shared app plumbing: cached clients (``st.cache_resource``) and error display."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import streamlit as st

from hypofinder.errors import HypofinderError

log = logging.getLogger("hypofinder.ui")

# Model choices shown on the finder page: one per in-process provider of the registry, plus served models.
LOCAL_CHOICE = "Local SmolLM2-135M (offline)"
OPENAI_CHOICE = "OpenAI-compatible endpoint"
FAKE_CHOICE = "Fake llm (debug)"
_LABELS = {"local": LOCAL_CHOICE, "fake": FAKE_CHOICE}


def model_choices() -> dict[str, str | None]:
    """Choice label -> registry provider name (None: a model served at a base URL)."""
    from hypofinder.llm import all_providers

    choices: dict[str, str | None] = {
        _LABELS.get(p.name, p.name): p.name for p in all_providers() if p.in_process and p.available()
    }
    choices[OPENAI_CHOICE] = None
    order = {"local": 0, None: 2, "fake": 3}  # the embedded model first, the debug model last
    return dict(sorted(choices.items(), key=lambda kv: (order.get(kv[1], 1), kv[0])))


def choice_for(model: str) -> str:
    """The choice label for a configured model name (served names map to the endpoint choice)."""
    from hypofinder.llm.registry import provider_named

    entry = provider_named(model.strip())
    if entry is not None and entry.in_process:
        return _LABELS.get(entry.name, entry.name)
    return OPENAI_CHOICE


def show_error(err: BaseException, what: str = "This step") -> None:
    """One line for a person: the HypofinderError's text, else a short note (traceback goes to the log)."""
    if isinstance(err, HypofinderError):
        st.error(str(err), icon=":material/error:")
    else:
        log.error("%s failed", what, exc_info=err)
        st.error(
            f"{what} failed unexpectedly ({type(err).__name__}). The details are in the server log.",
            icon=":material/error:",
        )


@contextlib.contextmanager
def guarded(what: str = "This step") -> Iterator[None]:
    """Run a block; show any error as one ``st.error`` line instead of a traceback."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - Streamlit's stop/rerun are BaseExceptions and pass through
        show_error(err, what)


def cache_dir() -> str:
    """The cache folder in force (part of cache keys, so tests with other folders get fresh objects)."""
    from hypofinder.settings import settings

    return str(settings().cache_dir)


@st.cache_resource(show_spinner=False, max_entries=8)
def get_finder(run_json: str, cache_key: str = ""):
    """One HypothesisFinder per run configuration (JSON) and cache folder, shared by this server's sessions."""
    from hypofinder.pipeline import HypothesisFinder
    from hypofinder.settings import RunConfig

    return HypothesisFinder(config=RunConfig.model_validate_json(run_json))


def weights_key() -> str:
    """The weights folder in force and its metadata's mtime (retrained weights get a fresh predictor)."""
    from hypofinder.settings import settings

    meta = settings().models_dir / "metadata.json"
    return f"{settings().models_dir}:{meta.stat().st_mtime if meta.exists() else 0}"


@st.cache_resource(show_spinner="Loading the defect predictor…", max_entries=2)
def get_predictor(weights: str):
    """The DefectPredictor for ``weights_key()`` (loaded once per server)."""
    from hypofinder.defects import DefectPredictor
    from hypofinder.settings import settings

    return DefectPredictor.load(settings().models_dir)


def predictor_hosts():
    """(the shipped defect predictor, its hosts in canonical order), or None after one error line on the page."""
    from hypofinder.defects.hosts import CANONICAL

    try:
        predictor = get_predictor(weights_key())
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        show_error(err, "Loading the defect predictor")
        return None
    return predictor, [h for h in CANONICAL if h in {x.name for x in predictor.hosts.values()}]


@st.cache_resource(show_spinner="Opening the PhySH index (the first use builds it, about 30 s)…")
def ontology_ready(cache_dir: str):
    """Open (or build) the PhySH search index once per cache folder."""
    from hypofinder import ontology

    return ontology.build_index()
