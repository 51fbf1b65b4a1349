"""The job store: jobs and batches, their options, progress events and reports, behind one small interface.

``JobStore`` is the interface the service uses; ``SQLiteJobStore`` (the default, a file in the cache folder)
implements it with the standard library. A team that wants PostgreSQL implements the same eight methods.
A store outlives the server: on start the server calls ``interrupt_unfinished`` so jobs that were queued or
running when it died are marked ``interrupted`` (resubmittable), and nothing that finished is lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

State = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
Kind = Literal["job", "batch"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled", "interrupted"})


class JobRecord(BaseModel):
    """One job (a question) or batch (many questions) as stored."""

    id: str
    kind: Kind = "job"
    state: State = "queued"
    query: str | None = Field(default=None, description="The question (jobs)")
    options: dict[str, Any] = Field(default_factory=dict, description="The run configuration used (RunConfig)")
    items: list[dict[str, Any]] | None = Field(default=None, description="The questions of a batch (id, query)")
    concurrency: int = 1
    progress: dict[str, Any] | None = Field(default=None, description="The latest progress event")
    report: dict[str, Any] | None = Field(default=None, description="The HypothesisReport, when done")
    stats: dict[str, Any] | None = Field(default=None, description="Batch counts (MiningStats)")
    error: str | None = None
    created: float = Field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    @property
    def finished_state(self) -> bool:
        return self.state in FINISHED


class Event(BaseModel):
    """One server-sent event of a job: ``progress``, ``state`` or ``result``, numbered per job from 1."""

    seq: int
    event: str
    data: dict[str, Any]


def new_id(kind: Kind) -> str:
    return f"{kind}_{uuid.uuid4().hex[:16]}"


class JobStore(ABC):
    """What the service needs from a store (thread-safe)."""

    @abstractmethod
    def add(self, record: JobRecord) -> JobRecord: ...

    @abstractmethod
    def get(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def update(self, job_id: str, **fields: Any) -> JobRecord | None:
        """Change fields of a job; returns the new record (None if unknown)."""

    @abstractmethod
    def list(self, kind: Kind | None = None, limit: int = 20, offset: int = 0) -> tuple[list[JobRecord], int]:
        """Newest first; (page, total)."""

    @abstractmethod
    def add_event(self, job_id: str, event: str, data: dict[str, Any]) -> int: ...

    @abstractmethod
    def events(self, job_id: str, after: int = 0) -> list[Event]: ...

    @abstractmethod
    def interrupt_unfinished(self) -> list[str]:
        """Mark queued/running jobs ``interrupted`` (the server that ran them is gone); return their ids."""

    @abstractmethod
    def close(self) -> None: ...


_JSON = ("options", "items", "progress", "report", "stats")
_COLUMNS = tuple(JobRecord.model_fields)


class SQLiteJobStore(JobStore):
    """Jobs in one SQLite file (WAL journal: readers never wait for the job threads' writes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        cols = ", ".join(c if c != "id" else "id TEXT PRIMARY KEY" for c in _COLUMNS)  # no affinity: values as given
        self._db.execute(f"CREATE TABLE IF NOT EXISTS jobs (n INTEGER UNIQUE, {cols})")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS events (job TEXT, seq INTEGER, event TEXT, data TEXT, PRIMARY KEY (job, seq))"
        )

    # ------------------------------------------------------------------ rows
    @staticmethod
    def _dump(field: str, value: Any) -> Any:
        if field in _JSON:
            return None if value is None else json.dumps(value)
        return value

    @staticmethod
    def _load(row: sqlite3.Row | tuple) -> JobRecord:
        values = dict(zip(_COLUMNS, row))
        for field in _JSON:
            if values[field] is not None:
                values[field] = json.loads(values[field])
        return JobRecord.model_validate({k: v for k, v in values.items() if v is not None})

    def add(self, record: JobRecord) -> JobRecord:
        data = record.model_dump()
        with self._lock:
            n = self._db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute(
                f"INSERT INTO jobs (n, {', '.join(_COLUMNS)}) VALUES (?, {', '.join('?' for _ in _COLUMNS)})",
                (n, *(self._dump(c, data[c]) for c in _COLUMNS)),
            )
        return record

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._load(row) if row else None

    def update(self, job_id: str, **fields: Any) -> JobRecord | None:
        bad = set(fields) - set(_COLUMNS) | ({"id"} & set(fields))
        if bad:
            raise ValueError(f"not updatable: {', '.join(sorted(bad))}")
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self._lock:
                self._db.execute(
                    f"UPDATE jobs SET {sets} WHERE id = ?", (*(self._dump(k, v) for k, v in fields.items()), job_id)
                )
        return self.get(job_id)

    def list(self, kind: Kind | None = None, limit: int = 20, offset: int = 0) -> tuple[list[JobRecord], int]:
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs {where} ORDER BY n DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [self._load(r) for r in rows], total

    def add_event(self, job_id: str, event: str, data: dict[str, Any]) -> int:
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job = ?", (job_id,)).fetchone()[
                0
            ]
            self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (job_id, seq, event, json.dumps(data)))
        return seq

    def events(self, job_id: str, after: int = 0) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event, data FROM events WHERE job = ? AND seq > ? ORDER BY seq", (job_id, after)
            ).fetchall()
        return [Event(seq=s, event=e, data=json.loads(d)) for s, e, d in rows]

    def interrupt_unfinished(self) -> list[str]:
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE state IN ('queued', 'running')")]
        for job_id in ids:
            self.update(
                job_id,
                state="interrupted",
                finished=time.time(),
                error="the server stopped before this finished; resume it with POST .../resume",
            )
            self.add_event(job_id, "state", {"state": "interrupted"})
        return ids

    def close(self) -> None:
        with self._lock:
            self._db.close()
