"""The run options as Typer options, generated from ``RunConfig`` so help text, defaults and limits are
declared once. Every option defaults to None: an option not given leaves the configuration (defaults,
``HYPOFINDER_*`` variables, config file) in force."""

from __future__ import annotations

from typing import Any

import typer

from hypofinder.settings import RunConfig


def _opt(name: str, *flags: str) -> Any:
    default = RunConfig.model_fields[name].default
    return typer.Option(None, *flags, help=RunConfig.help(name), show_default=str(default))


MODEL = _opt("model", "--model", "-m")
BASE_URL = _opt("base_url", "--base-url")
TEMPERATURE = _opt("temperature", "--temperature", "-t")
SEED = _opt("seed", "--seed")
CONTEXTS = _opt("contexts", "--contexts", "-n")
VALIDATE = _opt("validate_claims", "--validate/--no-validate")
CACHE = _opt("cache", "--cache/--no-cache")
MAX_RETRIES = _opt("max_retries", "--max-retries")
TIMEOUT = _opt("timeout_s", "--timeout")
LIBRARY = _opt("library", "--library")
SERVER = typer.Option(
    None, "--server", help="Send the work to a running 'hypofinder serve' at this URL (key from HYPOFINDER_API_KEY)."
)
ROUNDS = _opt("rounds", "--rounds")
TOURNAMENT = _opt("tournament", "--tournament/--no-tournament")


def given(**values: Any) -> dict[str, Any]:
    """The run options the user passed (None: not given), keyed by RunConfig field."""
    names = {"validate": "validate_claims", "timeout": "timeout_s"}
    return {names.get(k, k): v for k, v in values.items() if v is not None}
