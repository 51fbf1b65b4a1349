"""Mining input: questions from JSONL/CSV files or records, each checked, with one line per rejected input."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from hypofinder.errors import BadInputError
from hypofinder.errors import one_line as _one_line
from hypofinder.jsonl import SUFFIXES as JSONL_SUFFIXES
from hypofinder.jsonl import jsonl_lines
from hypofinder.models import HypothesisReport
from hypofinder.outfiles import read_input_text

RESERVED_FIELDS = frozenset(HypothesisReport.model_fields) | {"id", "query", "error", "error_kind"}


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
    text = read_input_text(path, "question file")
    out, seen = QuerySet(source=path.name), {}
    if suffix == ".csv":
        _read_csv(text, path, out, seen)
    else:
        for where, record in jsonl_lines(text, out.problems, lambda n: f"{path.name} line {n}"):
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
