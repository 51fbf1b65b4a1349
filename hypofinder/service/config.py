"""The service's own settings (limits, key, store), declared once. Run options stay in ``RunConfig``.

Environment: ``HYPOFINDER_API_KEY``, ``HYPOFINDER_MAX_RUNNING_JOBS``, ``HYPOFINDER_MAX_QUEUED_JOBS``,
``HYPOFINDER_MAX_REQUEST_BYTES``, ``HYPOFINDER_MAX_BATCH_QUESTIONS``, ``HYPOFINDER_JOB_STORE``,
``HYPOFINDER_RAY_ADDRESS``; ``hypofinder serve`` flags override them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hypofinder.settings import ENV_PREFIX, settings


class ServiceConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    api_key: SecretStr | None = Field(
        default=None, description="Bearer token clients must send; required when binding beyond loopback"
    )
    max_request_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20, description="Largest request body")
    max_running_jobs: int = Field(default=2, ge=1, le=64, description="Jobs and batches running at once")
    max_queued_jobs: int = Field(default=16, ge=0, le=10_000, description="Jobs waiting beyond those (then 429)")
    max_batch_questions: int = Field(default=1000, ge=1, le=100_000, description="Questions in one batch")
    max_batch_concurrency: int = Field(default=4, ge=1, le=64, description="Questions of one batch in parallel")
    retry_after_s: int = Field(default=10, ge=1, le=3600, description="Retry-After sent with 429")
    job_store: Path | None = Field(
        default=None, description="SQLite job store [default <cache-dir>/service/jobs.sqlite]"
    )
    ray_address: str | None = Field(default=None, description="Run batches on this Ray cluster ('auto' or HOST:PORT)")

    @property
    def store_path(self) -> Path:
        return self.job_store or settings().cache_dir / "service" / "jobs.sqlite"

    @property
    def batches_dir(self) -> Path:
        return self.store_path.parent / "batches"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
