"""The mining job: check everything first, then run the questions through an engine into the results file."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from hypofinder.errors import BadInputError
from hypofinder.mining.engines import local_results, ray_results
from hypofinder.mining.inputs import QueryItem, QuerySet, collect_queries, read_queries
from hypofinder.mining.results import MinedResult, Note, ResultsFile
from hypofinder.outfiles import check_out_path
from hypofinder.settings import RunConfig, settings

Engine = Literal["local", "ray"]
MAX_CONCURRENCY = 64
WARM_UP_QUERY = "point defects in two-dimensional materials"


class MiningStats(BaseModel):
    """Counts for one run of a mining job."""

    total: int = Field(0, description="Usable questions in the input")
    rejected: int = Field(0, description="Input lines rejected (bad JSON, missing id/query, duplicate id)")
    skipped: int = Field(0, description="Ids already reported in the output")
    skipped_failed: int = Field(0, description="Ids with an error line in the output, not retried")
    retried: int = Field(0, description="Error lines dropped for --retry-failed")
    pending: int = 0
    done: int = 0
    failed: int = 0
    cached: int = Field(0, description="Reports served whole from the answer cache")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def per_minute(self) -> float:
        return 60.0 * (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0: every question has a report; 1: some failed (this run or before) or input lines were rejected."""
        unfinished = self.done + self.skipped < self.total
        return 1 if (self.failed or self.skipped_failed or self.rejected or unfinished) else 0


class MiningJob(Iterator[MinedResult]):
    """A mining run; iterate it to run it. ``prepare()`` checks everything before any work."""

    def __init__(
        self,
        queries: Iterable[dict | tuple] | QuerySet | str | Path,
        *,
        out: str | Path | None = None,
        config: RunConfig | None = None,
        concurrency: int = 1,
        engine: Engine = "local",
        ray_address: str | None = None,
        retry_failed: bool = False,
        on_note: Note | None = None,
        **options: Any,
    ):
        self.queries, self.out = queries, Path(out) if out is not None else None
        self.engine, self.ray_address, self.retry_failed = engine, ray_address, retry_failed
        self.concurrency = concurrency
        self.run = (config or settings().run).merged(**options)
        self.note = on_note or (lambda _m: None)
        self.stats = MiningStats()
        self.problems: list[str] = []
        self.pending: list[QueryItem] = []
        self._file: ResultsFile | None = None
        self._gen: Iterator[MinedResult] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._first_finder = None
        self._prepared = False

    # ------------------------------------------------------------------ setup
    def prepare(self) -> MiningStats:
        """Check options, output and input; lock and repair the output; work out what is left to do."""
        if self._prepared:
            return self.stats
        if self.engine not in ("local", "ray"):
            raise BadInputError(f"engine must be 'local' or 'ray', got {self.engine!r}")
        if not 1 <= int(self.concurrency) <= MAX_CONCURRENCY:
            raise BadInputError(f"concurrency must be 1-{MAX_CONCURRENCY}, got {self.concurrency}")
        source = Path(self.queries) if isinstance(self.queries, (str, Path)) else None
        if self.out is not None:
            check_out_path(self.out, source)
        qs = (
            self.queries
            if isinstance(self.queries, QuerySet)
            else read_queries(source)
            if source is not None
            else collect_queries(self.queries)
        )
        self.problems = list(qs.problems)
        for line in self.problems:
            self.note(line)
        if not qs.items:
            why = f" ({len(qs.problems)} line(s) rejected)" if qs.problems else ""
            raise BadInputError(f"no usable questions in {qs.source}{why}")
        self._check_finder()

        status: dict[str, bool] = {}
        if self.out is not None:
            self._file = ResultsFile(self.out, self.note)
            try:
                status = self._file.open()
                if self.retry_failed:
                    job_ids = {it.id for it in qs.items}
                    failed = {rid for rid, ok in status.items() if not ok and rid in job_ids}
                    self.stats.retried = self._file.drop(failed)
                    for rid in failed:
                        status.pop(rid)
            except BaseException:
                self._release()
                raise
        self.pending = [it for it in qs.items if it.id not in status]
        self.stats = self.stats.model_copy(
            update=dict(
                total=len(qs.items),
                rejected=len(qs.problems),
                pending=len(self.pending),
                skipped=sum(1 for it in qs.items if status.get(it.id) is True),
                skipped_failed=sum(1 for it in qs.items if status.get(it.id) is False),
            )
        )
        self._prepared = True
        return self.stats

    def _check_finder(self) -> None:
        """Build one finder now so bad options fail before any work."""
        from hypofinder.pipeline import HypothesisFinder

        self._first_finder = HypothesisFinder(config=self.run)

    def _make_finder(self):
        from hypofinder.pipeline import HypothesisFinder

        with self._lock:
            finder, self._first_finder = self._first_finder, None
        return finder or HypothesisFinder(config=self.run)

    # ------------------------------------------------------------------ run
    def __iter__(self) -> MiningJob:
        return self

    def __enter__(self) -> MiningJob:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __next__(self) -> MinedResult:
        if self._gen is None:
            self.prepare()
            self._gen = self._run()
        return next(self._gen)

    def _run(self) -> Iterator[MinedResult]:
        t0 = time.perf_counter()
        try:
            if not self.pending:
                return
            if self.engine == "ray":
                results = ray_results(self.pending, self.run, self.concurrency, self.ray_address, self._stop)
            else:
                from hypofinder.ontology import contexts_for

                contexts_for(WARM_UP_QUERY, 1)  # load the index once, before the threads ask at the same time
                results = local_results(self.pending, self._make_finder, self.concurrency, self._stop)
            try:
                for result in results:
                    if self._file is not None:
                        self._file.append(result)
                    self._count(result)
                    self.stats.seconds = round(time.perf_counter() - t0, 3)
                    yield result
            finally:
                self._stop.set()
                results.close()
        finally:
            self.stats.seconds = round(time.perf_counter() - t0, 3)
            self._release()

    def _count(self, result: MinedResult) -> None:
        s = self.stats
        if result.report is None:
            s.failed += 1
            return
        s.done += 1
        run = result.report.run
        if run.cached:
            s.cached += 1
            return  # a cached report cost nothing this time
        s.prompt_tokens += run.prompt_tokens
        s.completion_tokens += run.completion_tokens
        s.llm_calls += run.llm_calls

    def close(self) -> None:
        """Stop the workers and release the output file (safe to call twice)."""
        self._stop.set()
        if self._gen is not None:
            self._gen.close()
        self._release()

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()


def mine(
    queries: Iterable[dict | tuple] | QuerySet | str | Path,
    *,
    out: str | Path | None = None,
    config: RunConfig | None = None,
    concurrency: int = 1,
    engine: Engine = "local",
    ray_address: str | None = None,
    retry_failed: bool = False,
    on_note: Note | None = None,
    **options: Any,
) -> MiningJob:
    """Run ``queries`` (dicts with id/query, ``(id, query)`` tuples, or a .jsonl/.csv path) through the pipeline.

    ``config`` (default: the settings' run configuration) overridden by ``options`` (RunConfig fields such as
    ``model="fake", contexts=2``). Returns a MiningJob: iterate it for this run's MinedResults (skipped ids are
    not yielded); with ``out``, each result is appended to that JSONL file first and ids already there are
    skipped. ``job.stats`` holds the counts, ``job.problems`` the rejected input lines (also passed to ``on_note``).
    """
    return MiningJob(
        queries,
        out=out,
        config=config,
        concurrency=concurrency,
        engine=engine,
        ray_address=ray_address,
        retry_failed=retry_failed,
        on_note=on_note,
        **options,
    )
