"""The HTTP API (FastAPI): jobs, batches, their live events, and direct calls to the rooms.

    create_app(ServiceConfig()) -> FastAPI        # run with uvicorn; ``hypofinder serve`` does that

Routes are versioned under ``/v1``; OpenAPI docs at ``/docs``. Every ``/v1`` route needs the API key when the
server has one. Errors are ``{"detail": "<one line>"}``: 401 key, 404 unknown id, 409 wrong state,
413 body too large, 422 bad input, 429 queue full (with Retry-After), 502 model failure.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from hypofinder import __version__
from hypofinder.errors import BadInputError, DataNotFoundError, HypofinderError, LLMError, one_line
from hypofinder.service.auth import key_checker
from hypofinder.service.config import ServiceConfig
from hypofinder.service.events import job_events
from hypofinder.service.jobs import Conflict, JobRunner, NotFound, QueueFull
from hypofinder.service.limits import BodyLimit
from hypofinder.service.schemas import (
    BatchRequest,
    BatchView,
    JobPage,
    JobRequest,
    ResultPage,
    ScreenRequest,
    given_options,
)
from hypofinder.service.store import JobRecord, SQLiteJobStore
from hypofinder.settings import settings

log = logging.getLogger("hypofinder.service")
STATUS = {BadInputError: 422, NotFound: 404, Conflict: 409, QueueFull: 429, DataNotFoundError: 503, LLMError: 502}


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    config = config or ServiceConfig()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        store = SQLiteJobStore(config.store_path)
        interrupted = store.interrupt_unfinished()
        if interrupted:
            log.warning("%d job(s) were unfinished when the server last stopped: marked interrupted", len(interrupted))
        runner = JobRunner(store, config, settings().run)
        threading.Thread(target=runner.warm_up, name="hypofinder-warm-up", daemon=True).start()
        state.update(store=store, runner=runner)
        try:
            yield
        finally:
            runner.shutdown()

    app = FastAPI(
        title="hypofinder",
        version=__version__,
        lifespan=lifespan,
        description="Hypothesis finder for materials science: jobs, batches and direct calls.",
    )
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes)

    @app.exception_handler(HypofinderError)
    async def _error(_request: Request, exc: HypofinderError) -> JSONResponse:
        code = next((c for cls, c in STATUS.items() if isinstance(exc, cls)), 500)
        headers = {"Retry-After": str(config.retry_after_s)} if code == 429 else None
        return JSONResponse({"detail": one_line(exc)}, status_code=code, headers=headers)

    def runner() -> JobRunner:
        return state["runner"]

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness and warm-up state (no key needed)."""
        r = runner()
        return {
            "status": "ok",
            "version": __version__,
            "warm": r.warm.is_set(),
            "warm_seconds": r.warm_seconds,
            "warm_errors": r.warm_errors,
            **r.counts(),
        }

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(key_checker(config.api_key))])

    # ------------------------------------------------------------------ jobs
    @v1.post("/jobs", status_code=202, response_model=JobRecord, tags=["jobs"])
    def submit_job(body: JobRequest) -> JobRecord:
        """Queue one question; the run options are validated like the CLI's."""
        return runner().submit_job(body.query, given_options(body, {"query"}))

    @v1.get("/jobs", response_model=JobPage, tags=["jobs"])
    def list_jobs(
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
        kind: Optional[str] = Query(None, pattern="^(job|batch)$"),
    ) -> JobPage:
        items, total = state["store"].list(kind=kind, limit=limit, offset=offset)
        page = [r.model_copy(update={"report": None, "items": None}) for r in items]
        nxt = offset + len(page) if offset + len(page) < total else None
        return JobPage(items=page, total=total, limit=limit, offset=offset, next_offset=nxt)

    @v1.get("/jobs/{job_id}", response_model=JobRecord, tags=["jobs"])
    def get_job(job_id: str) -> JobRecord:
        """State, latest progress, and the report (the `ask --format json` object) when done."""
        return runner().get(job_id)

    @v1.delete("/jobs/{job_id}", status_code=202, response_model=JobRecord, tags=["jobs"])
    def cancel_job(job_id: str) -> JobRecord:
        """Cancel: a queued job at once, a running one at its next progress event."""
        return runner().cancel(job_id)

    @v1.post("/jobs/{job_id}/resume", status_code=202, response_model=JobRecord, tags=["jobs"])
    def resume_job(job_id: str) -> JobRecord:
        """Run an interrupted, cancelled or failed job again (a batch skips the questions already done)."""
        return runner().resume(job_id)

    @v1.get("/jobs/{job_id}/events", tags=["jobs"], response_class=EventSourceResponse)
    def job_events_route(job_id: str, request: Request) -> EventSourceResponse:
        """Server-sent events: `state`, `progress` (pipeline steps), `result` (batches), then `end`."""
        runner().get(job_id)
        after = request.headers.get("last-event-id", "0")
        return EventSourceResponse(job_events(state["store"], job_id, int(after) if after.isdigit() else 0), ping=15)

    # ------------------------------------------------------------------ batches
    @v1.post("/batches", status_code=202, response_model=JobRecord, tags=["batches"])
    def submit_batch(body: BatchRequest) -> JobRecord:
        """Many questions, mined into a resumable results file (on Ray when the server has a Ray address)."""
        return runner().submit_batch(body.queries, given_options(body, {"queries", "concurrency"}), body.concurrency)

    @v1.get("/batches/{batch_id}", response_model=BatchView, tags=["batches"])
    def get_batch(batch_id: str) -> BatchView:
        record = _batch(batch_id)
        return BatchView(**record.model_dump(), status=runner().batch_status(record))

    @v1.get("/batches/{batch_id}/results", response_model=ResultPage, tags=["batches"])
    def batch_results(
        batch_id: str, offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> ResultPage:
        """Result lines in the order they finished (one per question, as `hypofinder mine` writes them)."""
        _batch(batch_id)
        items, total = runner().results(batch_id, offset, limit)
        nxt = offset + len(items) if offset + len(items) < total else None
        return ResultPage(items=items, total=total, offset=offset, next_offset=nxt)

    v1.add_api_route(
        "/batches/{job_id}/events",
        job_events_route,
        methods=["GET"],
        tags=["batches"],
        response_class=EventSourceResponse,
    )
    v1.add_api_route(
        "/batches/{job_id}", cancel_job, methods=["DELETE"], status_code=202, response_model=JobRecord, tags=["batches"]
    )
    v1.add_api_route(
        "/batches/{job_id}/resume",
        resume_job,
        methods=["POST"],
        status_code=202,
        response_model=JobRecord,
        tags=["batches"],
    )

    def _batch(batch_id: str) -> JobRecord:
        record = runner().get(batch_id)
        if record.kind != "batch":
            raise NotFound(f"no batch {batch_id!r}")
        return record

    # ------------------------------------------------------------------ direct calls
    @v1.get("/ontology/search", tags=["direct"])
    def ontology_search(
        q: str, k: Annotated[int, Query(ge=1)] = 10, facet: Optional[str] = None, discipline: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """PhySH concepts matching q (the warm index)."""
        from hypofinder import ontology

        return [h.model_dump() for h in ontology.search(q, k=k, facet=facet, discipline=discipline)]

    @v1.post("/defects/predict", tags=["direct"])
    async def defects_predict(
        files: list[UploadFile] = File(..., description="Defective supercells (CIF)"), host: Optional[str] = Form(None)
    ) -> list[dict[str, Any]]:
        """The predicted properties (hypofinder.prediction.PropertyPrediction, each in its unit) of each uploaded CIF."""
        import anyio

        texts = []
        for f in files:
            try:
                texts.append((await f.read()).decode("utf-8"))
            except UnicodeDecodeError:
                raise BadInputError(f"{f.filename}: not UTF-8 text (a CIF file?)") from None
        results = await anyio.to_thread.run_sync(_predict, texts, host)
        return [r.model_dump() | {"file": f.filename or r.file} for r, f in zip(results, files)]

    @v1.post("/defects/screen", tags=["direct"])
    def defects_screen(body: ScreenRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """Rank symmetry-distinct placements of a defect set in a host by a predicted property."""
        from hypofinder.defects.screening import screen

        return screen(**body.model_dump()).model_dump()

    @v1.get("/models", tags=["direct"])
    def models() -> list[dict[str, Any]]:
        """The model providers (as `hypofinder models --json`)."""
        from hypofinder.llm import all_providers

        return [p.describe() for p in all_providers()]

    app.include_router(v1)
    return app


def _predict(texts: list[str], host: str | None):
    from hypofinder.defects.hosts import canonical_host
    from hypofinder.defects.predictor import DefectPredictor

    if host is not None:
        canonical_host(host)
    return DefectPredictor.load().predict(texts, host=host)
