"""Batch hypothesis mining: many questions through the pipeline, one result line each in a JSONL file.

    job = mine(queries, out="results.jsonl", concurrency=4)   # a MiningJob: an iterator of MinedResult
    for result in job: ...                                      # job.stats: done / failed / skipped / tokens

Output lines are ``{"id": ..., <carried input fields>, <the ask --format json report>}`` or error lines
``{"id": ..., "query": ..., "error": "<one line>", "error_kind": ..., <carried fields>}``. Each line is
written by one ``os.write`` to an O_APPEND descriptor, then fsynced: a job killed at any moment leaves
whole lines only (a torn last line, possible after a system crash, is cut off on resume). Rerunning the
same job skips ids already in the output; ``retry_failed`` first drops this job's error lines (atomic
rewrite: temp file + rename), so the file always holds at most one line per id.

Engines: ``local`` (worker threads, one HypothesisFinder each) and ``ray`` (one Ray actor per worker;
actors return result dicts, the driver writes the lines as they arrive).
"""

from __future__ import annotations

import csv
import fcntl
import json
import logging
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from pydantic import BaseModel, Field

from hypofinder.errors import BadInputError, HypofinderError
from hypofinder.outfiles import check_out_path
from hypofinder.models import HypothesisReport

Engine = Literal["local", "ray"]
Note = Callable[[str], None]

REPORT_FIELDS = frozenset(HypothesisReport.model_fields)
RESERVED_FIELDS = REPORT_FIELDS | {"id", "query", "error", "error_kind"}
MAX_CONCURRENCY = 64
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
WARM_UP_QUERY = "point defects in two-dimensional materials"
WORKER_PREFIX = "hypofinder-miner-"
STOP_GRACE_S = 10.0  # on a stop, wait this long for questions in flight before leaving their threads behind


# =========================================================================== input


class QueryItem(BaseModel):
    """One question of a mining job."""

    id: str
    query: str
    extra: dict[str, Any] = Field(default_factory=dict, description="Other input fields, carried to the output")


@dataclass
class QuerySet:
    """The usable items of an input, and one line per rejected input line."""

    items: list[QueryItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: str = "input"


def _one_line(text: object, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def _item_from(record: object, where: str, seen: dict[str, str], out: QuerySet) -> None:
    """Check one input record; append a QueryItem or a problem line naming ``where``."""
    if isinstance(record, tuple) and len(record) == 2:
        record = {"id": record[0], "query": record[1]}
    if not isinstance(record, dict):
        out.problems.append(f"{where}: expected an object with 'id' and 'query'")
        return
    rid, query = record.get("id"), record.get("query")
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        out.problems.append(f"{where}: missing 'id'")
        return
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        out.problems.append(f"{where}: 'id' must be a string or an integer, got {type(rid).__name__}")
        return
    if query is None:
        out.problems.append(f"{where}: missing 'query'")
        return
    if not isinstance(query, str):
        out.problems.append(f"{where}: 'query' must be a string, got {type(query).__name__}")
        return
    rid = str(rid)
    if rid in seen:
        out.problems.append(f"{where}: duplicate id {rid!r} (first at {seen[rid]}); ignored")
        return
    extra = {k: v for k, v in record.items() if k not in ("id", "query")}
    clash = sorted(k for k in extra if k in RESERVED_FIELDS)
    if clash:
        out.problems.append(f"{where}: field {clash[0]!r} clashes with a report field; rename it")
        return
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as exc:
        out.problems.append(f"{where}: other fields must be JSON values ({_one_line(exc, 120)})")
        return
    seen[rid] = " ".join(where.split()[-2:])  # "line 7" / "item 7"
    out.items.append(QueryItem(id=rid, query=query, extra=extra))


def collect_queries(records: Iterable[dict | tuple], source: str = "input") -> QuerySet:
    """QuerySet from dicts ``{"id", "query", ...}`` or ``(id, query)`` tuples; bad ones become problems."""
    out, seen = QuerySet(source=source), {}
    for n, record in enumerate(records, 1):
        _item_from(record, f"item {n}", seen, out)
    return out


def read_queries(path: str | Path) -> QuerySet:
    """Read a ``.jsonl`` (one JSON object a line) or ``.csv`` (header with id, query) question file.

    Unreadable files raise BadInputError; bad lines become problems ("queries.jsonl line 7: missing 'query'").
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES and suffix != ".csv":
        raise BadInputError(f"{path}: give a .jsonl or .csv file of questions (columns id, query)")
    if not path.is_file():
        raise BadInputError(f"question file {path} not found" if not path.exists() else f"{path} is not a file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    out, seen = QuerySet(source=path.name), {}
    if suffix == ".csv":
        _read_csv(text, path, out, seen)
    else:
        for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 is valid inside JSON
            if not line.strip():
                continue
            where = f"{path.name} line {n}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                out.problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            _item_from(record, where, seen, out)
    return out


def _read_csv(text: str, path: Path, out: QuerySet, seen: dict[str, str]) -> None:
    reader = csv.DictReader(text.splitlines(keepends=True), restkey="\0rest")
    missing = [c for c in ("id", "query") if c not in (reader.fieldnames or [])]
    if missing:
        raise BadInputError(f"{path}: the header has no {' or '.join(repr(c) for c in missing)} column")
    start = 2
    try:
        for row in reader:
            where = f"{path.name} line {start}"
            start = reader.line_num + 1
            if "\0rest" in row:
                out.problems.append(f"{where}: more fields than the header has columns")
                continue
            if all(v in (None, "") for v in row.values()):
                continue
            row = {k: v for k, v in row.items() if v is not None or k in ("id", "query")}
            _item_from(row, where, seen, out)
    except csv.Error as exc:
        out.problems.append(f"{path.name} line {reader.line_num}: {exc}; the rest of the file was skipped")


# =========================================================================== results


class MinedResult(BaseModel):
    """The outcome for one question: a report, or a one-line error."""

    id: str
    query: str
    report: HypothesisReport | None = None
    error: str | None = None
    error_kind: str | None = Field(default=None, description="e.g. LLMError, BadInputError")
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report is not None

    def to_record(self) -> dict[str, Any]:
        """The output line's object."""
        if self.report is not None:
            return {"id": self.id, **self.extra, **self.report.model_dump(mode="json")}
        return {"id": self.id, "query": self.query, "error": self.error, "error_kind": self.error_kind, **self.extra}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "MinedResult":
        """Parse an output line's object back."""
        extra = {k: v for k, v in record.items() if k not in RESERVED_FIELDS}
        if "error" in record:
            return cls(id=str(record["id"]), query=record.get("query") or "", error=record["error"],
                       error_kind=record.get("error_kind"), extra=extra)
        report = HypothesisReport.model_validate({k: record[k] for k in REPORT_FIELDS if k in record})
        return cls(id=str(record["id"]), query=report.query, report=report, extra=extra)


def run_one(finder, item: QueryItem) -> MinedResult:
    """One question through ``finder``; any failure becomes an error result (never raises)."""
    try:
        report = finder.find(item.query)
    except HypofinderError as exc:
        return MinedResult(id=item.id, query=item.query, error=_one_line(exc) or exc.__class__.__name__,
                           error_kind=exc.__class__.__name__, extra=item.extra)
    except Exception as exc:  # noqa: BLE001 - one bad question must not stop the job
        return MinedResult(id=item.id, query=item.query, error=f"unexpected {exc.__class__.__name__}: {_one_line(exc)}",
                           error_kind=exc.__class__.__name__, extra=item.extra)
    return MinedResult(id=item.id, query=item.query, report=report, extra=item.extra)


class ResultsFile:
    """The JSONL output: locked against a second job, repaired on open, appended one whole line at a time."""

    def __init__(self, path: str | Path, note: Note | None = None):
        self.path = Path(path)
        self.note = note or (lambda _m: None)
        self.fd: int | None = None

    # ------------------------------------------------------------------ open / scan
    def open(self) -> dict[str, bool]:
        """Lock the file (creating it), cut a torn last line, drop duplicate ids; return ``{id: ok}``."""
        self._open_fd()
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):  # a rewrite killed before its rename
            stale.unlink(missing_ok=True)
        self._repair_tail()
        status, keep, duplicates = self._scan()
        if duplicates:
            self.note(f"{self.path}: {duplicates} superseded line(s) for repeated ids dropped")
            self.rewrite(keep)
        return status

    def _open_fd(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise BadInputError(f"cannot open {self.path} for writing: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BadInputError(f"{self.path} is being written by another mining job") from None
        self.fd = fd

    def _repair_tail(self) -> None:
        size = os.fstat(self.fd).st_size
        if size == 0 or os.pread(self.fd, 1, size - 1) == b"\n":
            return
        end, step = size, 1 << 16
        keep = 0
        while end > 0:
            start = max(0, end - step)
            chunk = os.pread(self.fd, end - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            end = start
        os.ftruncate(self.fd, keep)
        os.fsync(self.fd)
        self.note(f"{self.path}: cut an unfinished last line ({size - keep} bytes) left by an interrupted run")

    def _scan(self) -> tuple[dict[str, bool], set[int], int]:
        status: dict[str, bool] = {}
        line_of: dict[str, int] = {}
        duplicates = 0
        with open(self.path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    duplicates += 1  # blank line: dropped by the rewrite
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                if not isinstance(record, dict) or not isinstance(record.get("id"), (str, int)):
                    self.close()
                    raise BadInputError(
                        f"{self.path} line {n} is not a mining result line; move the file away or choose another --out"
                    )
                rid, ok = str(record["id"]), "error" not in record
                if rid in status:
                    duplicates += 1
                    if status[rid]:
                        continue  # keep the first report; a report beats a later error
                status[rid], line_of[rid] = ok, n  # an error line: the latest one stands
        return status, set(line_of.values()), duplicates

    # ------------------------------------------------------------------ write
    def append(self, result: MinedResult) -> None:
        data = (json.dumps(result.to_record()) + "\n").encode()
        size = os.fstat(self.fd).st_size
        try:
            written = os.write(self.fd, data)
            if written != len(data):  # disk full mid-line: take the torn piece back out
                os.ftruncate(self.fd, size)
                raise OSError(28, "short write (disk full?)")
            os.fsync(self.fd)
        except OSError as exc:
            raise BadInputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def rewrite(self, keep_lines: set[int]) -> None:
        """Keep only the numbered lines: temp file + fsync + rename + folder fsync, then lock the new file."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as dst, open(self.path, "rb") as src:
                for n, raw in enumerate(src, 1):
                    if n in keep_lines:
                        dst.write(raw)
                dst.flush()
                os.fsync(dst.fileno())
            os.chmod(tmp, os.stat(self.path).st_mode & 0o777)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)
        self.close()
        self._open_fd()

    def drop(self, ids: set[str]) -> int:
        """Rewrite without the lines of ``ids``; return how many lines went."""
        keep, dropped = set(), 0
        with open(self.path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if str(json.loads(raw)["id"]) in ids:
                    dropped += 1
                else:
                    keep.add(n)
        if dropped:
            self.rewrite(keep)
        return dropped

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # also releases the lock
            self.fd = None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# =========================================================================== engines


def _local_results(items: list[QueryItem], make_finder: Callable[[], Any], workers: int,
                   stop: threading.Event) -> Iterator[MinedResult]:
    """Worker threads, each with its own finder; on an early stop the questions in flight get STOP_GRACE_S."""
    todo: queue.Queue[QueryItem] = queue.Queue()
    done: queue.Queue[MinedResult] = queue.Queue()
    for item in items:
        todo.put(item)

    def work() -> None:
        finder = None
        while not stop.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                finder = finder or make_finder()
            except Exception as exc:  # noqa: BLE001 - recorded for this item
                done.put(run_one(_Broken(exc), item))
                continue
            done.put(run_one(finder, item))

    threads = [threading.Thread(target=work, name=f"{WORKER_PREFIX}{i}", daemon=True)
               for i in range(min(workers, len(items)))]
    for t in threads:
        t.start()
    try:
        for _ in range(len(items)):
            while True:
                try:
                    result = done.get(timeout=0.25)
                    break
                except queue.Empty:
                    if not any(t.is_alive() for t in threads) and done.empty():
                        return
            yield result
    finally:  # stopped early (Ctrl-C, consumer gone): let the questions in flight end, unwritten
        stop.set()
        deadline = time.monotonic() + STOP_GRACE_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


def busy_workers() -> int:
    """Worker threads still running a question (after a stop whose grace period ran out)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX) and t.is_alive())


class WorkerError(HypofinderError):
    """A worker (thread or Ray actor) could not run a question: it died or could not start."""


class _Broken:
    """A finder that could not be made: every question fails with the same reason."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def find(self, query: str):
        raise self.exc


class RayMiner:
    """Ray actor body: one HypothesisFinder per actor, with the driver's settings."""

    def __init__(self, settings_state: dict[str, Any], finder_kwargs: dict[str, Any]):
        from hypofinder.pipeline import HypothesisFinder
        from hypofinder.settings import configure

        configure(**settings_state)
        self.finder = HypothesisFinder(**finder_kwargs)

    def run(self, item: dict[str, Any]) -> dict[str, Any]:
        return run_one(self.finder, QueryItem.model_validate(item)).model_dump(mode="json")


def start_ray(workers: int, address: str | None):
    """Connect to ``address`` or start a local Ray (no dashboard, quiet); return (ray, started_here)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ModuleNotFoundError:
        raise BadInputError("--engine ray needs the 'ray' package (pip install ray)") from None
    if ray.is_initialized():
        return ray, False
    if address:
        _check_reachable(address)
    try:
        quiet = dict(log_to_driver=False, logging_level=logging.ERROR)
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **quiet)
    except Exception as exc:  # noqa: BLE001 - one line for people
        where = f" at {address}" if address else ""
        raise BadInputError(f"cannot start Ray{where}: {_one_line(exc, 200)}") from None
    return ray, True


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable cluster address for many minutes: test the port first (5 s)."""
    import socket
    from urllib.parse import urlparse

    if address == "auto":
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise BadInputError(f"--ray-address must be HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise BadInputError(f"cannot reach Ray at {address} ({exc.strerror or exc})") from None


def _ray_results(items: list[QueryItem], finder_kwargs: dict[str, Any], workers: int, address: str | None,
                 stop: threading.Event) -> Iterator[MinedResult]:
    """One actor per worker, two questions in flight per actor; results yielded as they arrive."""
    from hypofinder.settings import settings

    ray, started = start_ray(workers, address)
    actor_cls = ray.remote(num_cpus=1)(RayMiner)
    state = settings().model_dump()
    actors, inflight, replaced = [], {}, {}
    pending = iter(items)
    replacements = max(2, workers)

    def submit(actor) -> None:
        item = next(pending, None)
        if item is not None and not stop.is_set():
            inflight[actor.run.remote(item.model_dump(mode="json"))] = (actor, item)

    try:
        actors = [actor_cls.remote(state, finder_kwargs) for _ in range(min(workers, len(items)))]
        for _ in range(2):
            for actor in actors:
                submit(actor)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.25)
            for ref in ready:
                actor, item = inflight.pop(ref)
                try:
                    result = MinedResult.model_validate(ray.get(ref))
                except ray.exceptions.RayActorError as exc:
                    result = run_one(_Broken(WorkerError(f"Ray worker died: {_one_line(exc, 120)}")), item)
                    if id(actor) not in replaced:  # first news of this death: start a fresh actor
                        if replacements == 0:
                            raise HypofinderError(f"Ray workers keep dying: {_one_line(exc, 200)}") from None
                        replacements -= 1
                        replaced[id(actor)] = actor_cls.remote(state, finder_kwargs)
                        actors.append(replaced[id(actor)])
                    actor = replaced[id(actor)]
                except ray.exceptions.RayError as exc:
                    result = run_one(_Broken(WorkerError(f"Ray task failed: {_one_line(exc, 200)}")), item)
                yield result
                submit(actor)
    finally:
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if started:
            ray.shutdown()


# =========================================================================== the job


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

    def __init__(self, queries: Iterable[dict | tuple] | QuerySet | str | Path, *, out: str | Path | None = None,
                 contexts: int = 3, model: str = "local", base_url: str | None = None, temperature: float = 0.7,
                 concurrency: int = 1, engine: Engine = "local", ray_address: str | None = None,
                 retry_failed: bool = False, validate: bool = True, seed: int | None = 42, cache: bool = True,
                 max_retries: int | None = None, timeout: float | None = None, on_note: Note | None = None):
        self.queries, self.out = queries, Path(out) if out is not None else None
        self.engine, self.ray_address, self.retry_failed = engine, ray_address, retry_failed
        self.concurrency = concurrency
        self.finder_kwargs = dict(model=model, temperature=temperature, contexts=contexts, base_url=base_url,
                                  seed=seed, validate=validate, cache=cache, max_retries=max_retries, timeout=timeout)
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
        retries, timeout = self.finder_kwargs["max_retries"], self.finder_kwargs["timeout"]
        if retries is not None and not 0 <= retries <= 10:
            raise BadInputError(f"max retries must be 0-10, got {retries}")
        if timeout is not None and not timeout > 0:
            raise BadInputError(f"timeout must be > 0 seconds, got {timeout}")
        source = Path(self.queries) if isinstance(self.queries, (str, Path)) else None
        if self.out is not None:
            check_out_path(self.out, source)
        qs = (self.queries if isinstance(self.queries, QuerySet)
              else read_queries(source) if source is not None else collect_queries(self.queries))
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
        self.stats = self.stats.model_copy(update=dict(
            total=len(qs.items), rejected=len(qs.problems), pending=len(self.pending),
            skipped=sum(1 for it in qs.items if status.get(it.id) is True),
            skipped_failed=sum(1 for it in qs.items if status.get(it.id) is False),
        ))
        self._prepared = True
        return self.stats

    def _check_finder(self) -> None:
        """Build one finder now so bad options fail before any work; --validate needs the bridge."""
        import importlib.util

        from hypofinder.pipeline import HypothesisFinder

        if self.finder_kwargs["validate"] and importlib.util.find_spec("hypofinder.bridge") is None:
            raise BadInputError("validation needs the defect bridge (hypofinder.bridge), not installed here; "
                                "pass --no-validate")
        self._first_finder = HypothesisFinder(**self.finder_kwargs)

    def _make_finder(self):
        from hypofinder.pipeline import HypothesisFinder

        with self._lock:
            finder, self._first_finder = self._first_finder, None
        return finder or HypothesisFinder(**self.finder_kwargs)

    # ------------------------------------------------------------------ run
    def __iter__(self) -> "MiningJob":
        return self

    def __enter__(self) -> "MiningJob":
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
                results = _ray_results(self.pending, self.finder_kwargs, self.concurrency, self.ray_address, self._stop)
            else:
                from hypofinder.ontology import contexts_for

                contexts_for(WARM_UP_QUERY, 1)  # load the index once, before the threads ask at the same time
                results = _local_results(self.pending, self._make_finder, self.concurrency, self._stop)
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
    contexts: int = 3,
    model: str = "local",
    base_url: str | None = None,
    temperature: float = 0.7,
    concurrency: int = 1,
    engine: Engine = "local",
    ray_address: str | None = None,
    retry_failed: bool = False,
    validate: bool = True,
    seed: int | None = 42,
    cache: bool = True,
    max_retries: int | None = None,
    timeout: float | None = None,
    on_note: Note | None = None,
) -> MiningJob:
    """Run ``queries`` (dicts with id/query, ``(id, query)`` tuples, or a .jsonl/.csv path) through the pipeline.

    Returns a MiningJob: iterate it for this run's MinedResults (skipped ids are not yielded); with ``out``,
    each result is appended to that JSONL file first and ids already there are skipped. ``job.stats`` holds
    the counts, ``job.problems`` the rejected input lines (also passed to ``on_note``).
    """
    return MiningJob(queries, out=out, contexts=contexts, model=model, base_url=base_url, temperature=temperature,
                     concurrency=concurrency, engine=engine, ray_address=ray_address, retry_failed=retry_failed,
                     validate=validate, seed=seed, cache=cache, max_retries=max_retries, timeout=timeout,
                     on_note=on_note)


__all__ = ["MinedResult", "MiningJob", "MiningStats", "QueryItem", "QuerySet", "ResultsFile", "busy_workers",
           "collect_queries", "mine", "read_queries", "run_one"]
