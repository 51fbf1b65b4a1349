"""One settings object for the whole project (pydantic-settings).

Every value can be set by an environment variable prefixed ``HYPOFINDER_`` (e.g.
``HYPOFINDER_DATA_DIR``) and most by a CLI flag, which wins over the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hypofinder.errors import DataNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HYPOFINDER_", extra="ignore")

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
    model: str = Field(default="local", description="'local', 'fake', or a model name served at base_url.")
    base_url: str | None = None
    temperature: float = 0.7
    seed: int = 42
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 2
    llm_cache: bool = True
    local_n_ctx: int = 2048
    local_n_threads: int | None = None

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
            raise DataNotFoundError(
                f"{what} not found: looked in {path} (set HYPOFINDER_DATA_DIR or pass --data-dir)"
            )
        return path


_current: Settings | None = None


def settings() -> Settings:
    """The settings in force: env/defaults, plus any CLI overrides given to ``configure``."""
    global _current
    if _current is None:
        _current = Settings()
    return _current


def configure(**overrides) -> Settings:
    """Apply overrides (None values ignored) process-wide and return the new settings."""
    global _current
    clean = {k: (Path(v) if k.endswith("_dir") else v) for k, v in overrides.items() if v is not None}
    _current = settings().model_copy(update=clean)
    return _current
