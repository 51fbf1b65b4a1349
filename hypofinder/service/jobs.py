"""The job runner: a bounded queue in front of a few worker threads that run the pipeline (jobs) or a
mining job (batches), write progress events and results to the store, and stop cooperatively on cancel.

Warm models: the ontology index and embedder, the defect predictor and the embedded LLM are process-wide
caches (``hypofinder.ontology``, ``DefectPredictor.load``, llama.cpp), loaded once by ``warm_up`` when the
server starts; jobs wait for that before their first step so two of them never load the same model twice.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hypofinder.errors import BadInputError, HypofinderError, one_line
from hypofinder.service.config import ServiceConfig
from hypofinder.service.store import JobRecord, JobStore, new_id
from hypofinder.settings import RunConfig

WARM_UP_QUERY = "point defects in two-dimensional materials"


class QueueFull(HypofinderError):
    """Every worker is busy and the queue is full: retry later."""


class NotFound(HypofinderError):
    """No job or batch with that id."""


class Conflict(HypofinderError):
    """The job is not in a state that allows this (e.g. resuming a finished job)."""


class JobCancelled(Exception):
    """Raised inside the pipeline's progress callback once a job is cancelled (cooperative stop)."""


class JobRunner:
    """Submit, run, cancel and resume jobs and batches; everything recorded in ``store``."""

    def __init__(self, store: JobStore, config: ServiceConfig, base: RunConfig):
        self.store, self.config, self.base = store, config, base
        self.pool = ThreadPoolExecutor(max_workers=config.max_running_jobs, thread_name_prefix="hypofinder-job-")
        self._active: dict[str, tuple[Future, threading.Event]] = {}
        self._lock = threading.Lock()
        self.warm = threading.Event()
        self.stopping = False
        self.warm_seconds: dict[str, float] = {}
        self.warm_errors: dict[str, str] = {}

    # ------------------------------------------------------------------ warm models
    def warm_up(self) -> None:
        """Load the ontology index and embedder, the predictor and (if the default model is local) the LLM."""
        try:
            self._warm(
                "ontology",
                lambda: __import__("hypofinder.ontology", fromlist=["contexts_for"]).contexts_for(WARM_UP_QUERY, 1),
            )
            if self.base.validate_claims:
                self._warm("predictor", _load_predictor)
            if self.base.model == "local" and not self.base.base_url:
                self._warm("llm", _load_local_llm)
        finally:
            self.warm.set()

    def _warm(self, name: str, fn) -> None:
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported by /healthz; the jobs will report it too
            self.warm_errors[name] = one_line(exc)
        self.warm_seconds[name] = round(time.perf_counter() - t0, 3)

    # ------------------------------------------------------------------ submit
    def counts(self) -> dict[str, int]:
        with self._lock:
            running = sum(1 for f, _ in self._active.values() if f.running())
            return {"running": running, "queued": len(self._active) - running}

    def _admit(self) -> None:
        with self._lock:
            if len(self._active) >= self.config.max_running_jobs + self.config.max_queued_jobs:
                raise QueueFull(f"{len(self._active)} jobs are running or queued (the limit); retry later")

    def options(self, given: dict[str, Any]) -> RunConfig:
        """The server's run configuration with a request's options; the server's base URL (where its served
        models are) does not apply to an in-process model such as 'fake' or 'local'."""
        from hypofinder.llm.registry import resolve

        run = self.base.merged(**given)
        if run.base_url:
            try:
                in_process = resolve(run.model).is_server is False
            except BadInputError:
                in_process = False
            if in_process:
                run = run.model_copy(update={"base_url": None})
        resolve(run.model, run.base_url)  # an unknown model: 422 now, not a failed job later
        return run

    def submit_job(self, query: str, options: dict[str, Any]) -> JobRecord:
        run = self.options(options)
        query = run.check_query(query)
        self._admit()
        record = self.store.add(JobRecord(id=new_id("job"), query=query, options=run.model_dump()))
        return self._start(record)

    def submit_batch(self, queries: list[dict[str, Any]], options: dict[str, Any], concurrency: int) -> JobRecord:
        from hypofinder.mining import collect_queries

        run = self.options(options)
        if not 1 <= concurrency <= self.config.max_batch_concurrency:
            raise BadInputError(f"concurrency must be 1-{self.config.max_batch_concurrency}, got {concurrency}")
        if not queries:
            raise BadInputError("the batch has no questions")
        if len(queries) > self.config.max_batch_questions:
            raise BadInputError(f"too many questions ({len(queries)}; at most {self.config.max_batch_questions})")
        qs = collect_queries(queries, source="batch")
        if qs.problems:
            raise BadInputError("; ".join(qs.problems[:3]))
        for n, item in enumerate(qs.items, 1):
            try:
                run.check_query(item.query)
            except BadInputError as exc:
                raise BadInputError(f"item {n} ({item.id}): {exc}") from None
        self._admit()
        items = [{"id": it.id, "query": it.query, **it.extra} for it in qs.items]
        record = self.store.add(
            JobRecord(id=new_id("batch"), kind="batch", items=items, options=run.model_dump(), concurrency=concurrency)
        )
        return self._start(record)

    def resume(self, job_id: str) -> JobRecord:
        record = self.get(job_id)
        if record.state not in ("interrupted", "cancelled", "failed"):
            raise Conflict(f"{job_id} is {record.state}: only interrupted, cancelled or failed jobs can be resumed")
        self._admit()
        record = self.store.update(job_id, state="queued", error=None, finished=None)
        self.store.add_event(job_id, "state", {"state": "queued", "resumed": True})
        return self._start(record)

    def _start(self, record: JobRecord) -> JobRecord:
        flag = threading.Event()
        with self._lock:
            future = self.pool.submit(self._run, record.id, flag)
            self._active[record.id] = (future, flag)
        future.add_done_callback(lambda _f, job_id=record.id: self._forget(job_id))
        return record

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)

    def get(self, job_id: str) -> JobRecord:
        record = self.store.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r}")
        return record

    # ------------------------------------------------------------------ cancel
    def cancel(self, job_id: str) -> JobRecord:
        record = self.get(job_id)
        if record.finished_state:
            return record
        with self._lock:
            future, flag = self._active.get(job_id, (None, None))
        if flag is not None:
            flag.set()
        if future is None or future.cancel():  # still queued (or orphaned): cancelled now
            return self._finish(job_id, "cancelled", error="cancelled before it started")
        return record  # running: stops at its next progress event

    def shutdown(self) -> None:
        """Stop taking work; running jobs stop at their next step and are marked interrupted (resumable)."""
        self.stopping = True
        with self._lock:
            for _future, flag in self._active.values():
                flag.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ run
    def _finish(self, job_id: str, state: str, **fields: Any) -> JobRecord:
        record = self.store.update(job_id, state=state, finished=time.time(), **fields)
        self.store.add_event(
            job_id, "state", {"state": state, **({"error": fields["error"]} if fields.get("error") else {})}
        )
        return record

    def _run(self, job_id: str, flag: threading.Event) -> None:
        self.warm.wait()
        if flag.is_set():
            if not self.stopping:
                self._finish(job_id, "cancelled", error="cancelled before it started")
            return
        record = self.store.update(job_id, state="running", started=time.time())
        self.store.add_event(job_id, "state", {"state": "running"})
        try:
            if record.kind == "batch":
                self._run_batch(record, flag)
            else:
                self._run_job(record, flag)
        except JobCancelled:
            if self.stopping:
                self._finish(job_id, "interrupted", error="the server stopped; resume it with POST .../resume")
            else:
                self._finish(job_id, "cancelled", error="cancelled while running")
        except HypofinderError as exc:
            self._finish(job_id, "failed", error=one_line(exc) or exc.__class__.__name__)
        except Exception as exc:  # noqa: BLE001 - one line in the job, the server keeps serving
            self._finish(job_id, "failed", error=f"unexpected {exc.__class__.__name__}: {one_line(exc)}")

    def _run_job(self, record: JobRecord, flag: threading.Event) -> None:
        from hypofinder.pipeline import HypothesisFinder, Progress

        def progress(p: Progress) -> None:
            if flag.is_set() and p.step != "done":
                raise JobCancelled
            data = p.model_dump(mode="json")
            self.store.add_event(record.id, "progress", data)
            self.store.update(record.id, progress=data)

        report = HypothesisFinder(config=RunConfig.model_validate(record.options)).find(
            record.query, on_progress=progress
        )
        self._finish(record.id, "done", report=report.model_dump(mode="json"))

    def _run_batch(self, record: JobRecord, flag: threading.Event) -> None:
        from hypofinder import mining

        out = self.results_path(record.id)
        out.parent.mkdir(parents=True, exist_ok=True)
        engine = "ray" if self.config.ray_address else "local"
        job = mining.mine(
            record.items,
            out=out,
            config=RunConfig.model_validate(record.options),
            concurrency=record.concurrency,
            engine=engine,
            ray_address=self.config.ray_address,
        )
        try:
            stats = job.prepare()
            self.store.update(record.id, stats=_stats(stats))
            for result in job:
                self.store.add_event(
                    record.id, "result", {"id": result.id, "ok": result.ok, "error": result.error, **_stats(job.stats)}
                )
                self.store.update(record.id, stats=_stats(job.stats))
                if flag.is_set():
                    raise JobCancelled
        finally:
            job.close()
        self._finish(record.id, "done", stats=_stats(job.stats))

    # ------------------------------------------------------------------ batch results
    def results_path(self, batch_id: str) -> Path:
        return self.config.batches_dir / f"{batch_id}.jsonl"

    def results(self, batch_id: str, offset: int = 0, limit: int = 100) -> tuple[list[dict], int]:
        """Result lines of a batch (mining format), in file order; a torn last line is left out."""
        lines = _read_lines(self.results_path(batch_id))
        return lines[offset : offset + limit], len(lines)

    def batch_status(self, record: JobRecord) -> dict[str, Any]:
        """Per-question state: done, failed, or pending (interrupted when the batch is)."""
        seen = {str(r["id"]): "error" not in r for r in _read_lines(self.results_path(record.id))}
        ids = [str(it["id"]) for it in record.items or []]
        pending = [i for i in ids if i not in seen]
        return {
            "total": len(ids),
            "done": sum(1 for i in ids if seen.get(i) is True),
            "failed": sum(1 for i in ids if seen.get(i) is False),
            "pending": len(pending),
            "pending_ids": pending[:1000],
            "pending_state": "interrupted" if record.state == "interrupted" else record.state,
        }


def _stats(stats) -> dict[str, Any]:
    return {**stats.model_dump(), "tokens": stats.tokens}


def _read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # a torn last line (cut on resume)
            if isinstance(record, dict) and "id" in record:
                out.append(record)
    return out


def _load_predictor() -> None:
    from hypofinder.defects.predictor import DefectPredictor

    DefectPredictor.load()


def _load_local_llm() -> None:
    from hypofinder.llm.providers import load_llama, local_model_path
    from hypofinder.settings import settings

    cfg = settings()
    load_llama(local_model_path(), cfg.local_n_ctx, cfg.local_n_threads)
