"""``hypofinder serve``: the HTTP API (FastAPI on uvicorn) with warm models and a job store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; beyond loopback needs HYPOFINDER_API_KEY."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port."),
    max_running: Optional[int] = typer.Option(
        None, "--max-running", help="Jobs running at once [env HYPOFINDER_MAX_RUNNING_JOBS; default 2]."
    ),
    max_queued: Optional[int] = typer.Option(
        None, "--max-queued", help="Jobs waiting beyond those, then 429 [env HYPOFINDER_MAX_QUEUED_JOBS; default 16]."
    ),
    job_store: Optional[Path] = typer.Option(
        None,
        "--job-store",
        help="SQLite job store [env HYPOFINDER_JOB_STORE; default <cache-dir>/service/jobs.sqlite].",
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="Run batches on this Ray cluster [env HYPOFINDER_RAY_ADDRESS]."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the API: POST /v1/jobs, /v1/batches, events, direct calls; docs at /docs."""
    import uvicorn

    from hypofinder.errors import BadInputError
    from hypofinder.service.app import create_app
    from hypofinder.service.config import ServiceConfig, is_loopback
    from hypofinder.settings import checked

    overrides = {
        k: v
        for k, v in dict(
            max_running_jobs=max_running, max_queued_jobs=max_queued, job_store=job_store, ray_address=ray_address
        ).items()
        if v is not None
    }
    config = checked(ServiceConfig, {**ServiceConfig().model_dump(), **overrides})
    if not is_loopback(host) and config.api_key is None:
        raise BadInputError(f"binding to {host} exposes the service beyond this machine: set HYPOFINDER_API_KEY first")
    if not 1 <= port <= 65535:
        raise BadInputError(f"--port must be 1-65535, got {port}")
    typer.echo(f"hypofinder service on http://{host}:{port} (docs /docs; job store {config.store_path})", err=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
