"""Reference sets: questions with a published-style reference hypothesis and its key points.

A ``.jsonl`` file (one object a line) or a ``.csv`` file with the columns ``id``, ``query``,
``reference_hypothesis`` and optionally ``key_points`` (a JSON list; in a CSV a JSON list or
``|``-separated text) and ``point_defect`` (true/false; default: read from the question's words).
Without key points the reference is split into its claims. Bad lines become one-line problems naming
the file and line; the good lines are used.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from hypofinder.errors import BadInputError
from hypofinder.jsonl import SUFFIXES as JSONL_SUFFIXES
from hypofinder.jsonl import jsonl_lines
from hypofinder.outfiles import read_input_text

MIN_CLAIM_WORDS = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_CLAUSE = re.compile(
    r"[;:]\s+|,\s+(?:while|whereas|which|so that|so|and|but|because|since)\s+|\s+(?:because|whereas|while)\s+"
)


class Reference(BaseModel):
    """One question of a reference set."""

    id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    reference_hypothesis: str = Field(min_length=1)
    key_points: list[str] = Field(
        default_factory=list,
        description="Claims a good hypothesis states; split from reference_hypothesis when not given",
    )
    point_defect: bool | None = Field(
        default=None,
        description="About point defects in a 2D host the predictor knows; None: read from the question's words",
    )
    split: Literal["tuning", "held-out"] | None = Field(
        default=None, description="Tuning half (prompts and settings may be tuned on it) or held-out half (reported)"
    )

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v):
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise ValueError("must be a string or an integer")
        return str(v).strip()

    @field_validator("key_points")
    @classmethod
    def _clean_points(cls, v: list[str]) -> list[str]:
        points = [" ".join(p.split()) for p in v if p and p.strip()]
        return points

    def points(self) -> list[str]:
        """The key points, or the reference's claims when none were given."""
        return self.key_points or split_claims(self.reference_hypothesis)

    def is_point_defect(self) -> bool:
        if self.point_defect is not None:
            return self.point_defect
        from hypofinder.bridge.text import read_text

        return read_text(self.query).in_scope


@dataclass
class ReferenceSet:
    """The usable references of a file, and one line per rejected line."""

    items: list[Reference] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: str = "references"

    def by_id(self) -> dict[str, Reference]:
        return {r.id: r for r in self.items}

    def only(self, split: str | None) -> ReferenceSet:
        """The references of ``split`` ("tuning" or "held-out"); all of them for None."""
        if split is None:
            return self
        items = [r for r in self.items if r.split == split]
        if not items:
            raise BadInputError(f"no reference in {self.source} is marked split {split!r}")
        return ReferenceSet(items=items, problems=self.problems, source=self.source)


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ? before a capital, a digit or a quote)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join((text or "").split())) if s.strip()]


def split_claims(text: str) -> list[str]:
    """A reference hypothesis as its claims: sentences, cut at semicolons and linking clauses.

    A piece shorter than MIN_CLAIM_WORDS words stays with the piece before it.
    """
    claims: list[str] = []
    for sentence in sentences(text):
        for piece in _CLAUSE.split(sentence):
            piece = piece.strip(" ,;")
            if not piece:
                continue
            if claims and len(piece.split()) < MIN_CLAIM_WORDS:
                claims[-1] = f"{claims[-1]} {piece}"
            else:
                claims.append(piece)
    if len(claims) > 1 and len(claims[0].split()) < MIN_CLAIM_WORDS:
        claims[1] = f"{claims[0]} {claims[1]}"
        claims.pop(0)
    return claims


def _problem(where: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = ".".join(str(p) for p in err["loc"]) or "line"
    if err["type"] == "missing":
        return f"{where}: missing {name!r}"
    return f"{where}: {name!r} {err['msg'].lower()}"


def _add(record: object, where: str, seen: dict[str, str], out: ReferenceSet) -> None:
    if not isinstance(record, dict):
        out.problems.append(f"{where}: expected an object with id, query and reference_hypothesis")
        return
    try:
        ref = Reference.model_validate(record)
    except ValidationError as exc:
        out.problems.append(_problem(where, exc))
        return
    if not ref.points():
        out.problems.append(f"{where}: no key points and no claim in 'reference_hypothesis'")
        return
    if ref.id in seen:
        out.problems.append(f"{where}: duplicate id {ref.id!r} (first at {seen[ref.id]}); ignored")
        return
    seen[ref.id] = " ".join(where.split()[-2:])
    out.items.append(ref)


def collect_references(records: list[dict], source: str = "references") -> ReferenceSet:
    out, seen = ReferenceSet(source=source), {}
    for n, record in enumerate(records, 1):
        _add(record, f"item {n}", seen, out)
    return out


def _csv_record(row: dict) -> dict:
    record = {k: v for k, v in row.items() if v not in (None, "")}
    raw = record.get("key_points")
    if isinstance(raw, str):
        try:
            record["key_points"] = json.loads(raw) if raw.lstrip().startswith("[") else raw.split("|")
        except json.JSONDecodeError:
            record["key_points"] = raw  # reported by validation
    flag = record.get("point_defect")
    if isinstance(flag, str):
        record["point_defect"] = flag.strip().lower()
    return record


def read_references(path: str | Path) -> ReferenceSet:
    """Read a reference set; an unreadable file raises BadInputError, bad lines become problems."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*JSONL_SUFFIXES, ".csv"):
        raise BadInputError(f"{path}: give a .jsonl or .csv reference set (id, query, reference_hypothesis)")
    text = read_input_text(path, "reference set")
    out, seen = ReferenceSet(source=path.name), {}
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        missing = [c for c in ("id", "query", "reference_hypothesis") if c not in (reader.fieldnames or [])]
        if missing:
            raise BadInputError(f"{path}: the header has no {' or '.join(repr(c) for c in missing)} column")
        try:
            for row in reader:
                if any(v for v in row.values()):
                    _add(_csv_record(row), f"{path.name} line {reader.line_num}", seen, out)
        except csv.Error as exc:
            out.problems.append(f"{path.name} line {reader.line_num}: {exc}; the rest of the file was skipped")
    else:
        for where, record in jsonl_lines(text, out.problems, lambda n: f"{path.name} line {n}"):
            _add(record, where, seen, out)
    if not out.items:
        why = f" ({len(out.problems)} line(s) rejected: {out.problems[0]})" if out.problems else ""
        raise BadInputError(f"no usable references in {path}{why}")
    return out
