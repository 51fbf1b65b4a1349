"""Mining output: one result per question and the crash-safe JSONL results file.

Output lines are ``{"id": ..., <carried input fields>, <the ask --format json report>}`` or error lines
``{"id": ..., "query": ..., "error": "<one line>", "error_kind": ..., <carried fields>}``. Each line is
written by one ``os.write`` to an O_APPEND descriptor, then fsynced: a job killed at any moment leaves
whole lines only (a torn last line, possible after a system crash, is cut off on resume). Rerunning the
same job skips ids already in the output; ``retry_failed`` first drops this job's error lines (atomic
rewrite: temp file + rename), so the file always holds at most one line per id.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from hypofinder.errors import BadInputError, HypofinderError
from hypofinder.errors import one_line as _one_line
from hypofinder.mining.inputs import RESERVED_FIELDS, QueryItem
from hypofinder.models import HypothesisReport
from hypofinder.outfiles import write_atomic

Note = Callable[[str], None]
REPORT_FIELDS = frozenset(HypothesisReport.model_fields)


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
    def from_record(cls, record: dict[str, Any]) -> MinedResult:
        """Parse an output line's object back."""
        extra = {k: v for k, v in record.items() if k not in RESERVED_FIELDS}
        if "error" in record:
            return cls(
                id=str(record["id"]),
                query=record.get("query") or "",
                error=record["error"],
                error_kind=record.get("error_kind"),
                extra=extra,
            )
        report = HypothesisReport.model_validate({k: record[k] for k in REPORT_FIELDS if k in record})
        return cls(id=str(record["id"]), query=report.query, report=report, extra=extra)


def run_one(finder, item: QueryItem) -> MinedResult:
    """One question through ``finder``; any failure becomes an error result (never raises)."""
    try:
        report = finder.find(item.query)
    except HypofinderError as exc:
        return MinedResult(
            id=item.id,
            query=item.query,
            error=_one_line(exc) or exc.__class__.__name__,
            error_kind=exc.__class__.__name__,
            extra=item.extra,
        )
    except Exception as exc:  # noqa: BLE001 - one bad question must not stop the job
        return MinedResult(
            id=item.id,
            query=item.query,
            error=f"unexpected {exc.__class__.__name__}: {_one_line(exc)}",
            error_kind=exc.__class__.__name__,
            extra=item.extra,
        )
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
        with open(self.path, "rb") as src:
            kept = b"".join(raw for n, raw in enumerate(src, 1) if n in keep_lines)
        write_atomic(self.path, kept, durable=True)
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
