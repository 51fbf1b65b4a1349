"""Generated answers to score: lines of a mining results file, or ``{"id", "hypothesis"}`` lines.

Each candidate is one hypothesis that can be scored, always the same kind of text: a context's hypothesis
(statement, rationale and steps, with the reviewer's score), the synthesis (hypothesis, representation and
steps), or a bare hypothesis string. A raw report (one plain call, ``run.raw``) has one candidate, its
answer's hypothesis, reason and steps, and no review or synthesis to score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from hypofinder.mining import MinedResult
from hypofinder.models import HypothesisReport
from hypofinder.outfiles import read_input_text

Pick = Literal["top", "best", "synthesis"]
PICKS: tuple[str, ...] = ("top", "best", "synthesis")


class Candidate(BaseModel):
    """One hypothesis of a generated answer, as text to score."""

    label: str  # "context 1" .. / "synthesis" / "hypothesis"
    text: str
    review_score: int | None = None


class Generated(BaseModel):
    """What was generated for one question: a full report, a bare hypothesis string, or an error."""

    id: str
    report: HypothesisReport | None = None
    hypothesis: str | None = None
    error: str | None = None
    variant: str | None = None  # the ablation variant the line was made for (hypofinder.evaluation.variants)

    @classmethod
    def from_record(cls, record: dict) -> Generated:
        """A results line: a mined report or error line (hypofinder mine), or ``{"id", "hypothesis"}``."""
        if "id" not in record or isinstance(record["id"], bool) or not isinstance(record["id"], (str, int)):
            raise ValueError("missing 'id' (a string or an integer)")
        rid = str(record["id"])
        variant = record.get("variant") if isinstance(record.get("variant"), str) else None
        if "error" in record:
            return cls(id=rid, error=str(record["error"]), variant=variant)
        if "contexts" in record or "synthesis" in record:
            return cls(id=rid, report=MinedResult.from_record(record).report, variant=variant)
        hyp = record.get("hypothesis")
        if not isinstance(hyp, str) or not hyp.strip():
            raise ValueError("neither a report (contexts, synthesis) nor a 'hypothesis' string")
        return cls(id=rid, hypothesis=hyp, variant=variant)

    @classmethod
    def from_mined(cls, result: MinedResult) -> Generated:
        variant = result.extra.get("variant")
        return cls(
            id=result.id,
            report=result.report,
            error=result.error,
            variant=variant if isinstance(variant, str) else None,
        )

    def candidates(self) -> list[Candidate]:
        """Every scorable hypothesis: the contexts best first, then the synthesis; or the bare string."""
        if self.report is not None:
            raw = self.report.run.raw
            out = [
                Candidate(
                    label=f"context {i}",
                    text=_join(c.hypothesis.statement, c.hypothesis.rationale, *c.hypothesis.steps),
                    review_score=None if raw else c.review.score,
                )
                for i, c in enumerate(self.report.contexts, 1)
            ]
            if not raw:
                syn = self.report.synthesis
                out.append(Candidate(label="synthesis", text=_join(syn.hypothesis, syn.representation, *syn.steps)))
            return out
        if self.hypothesis:
            return [Candidate(label="hypothesis", text=self.hypothesis)]
        return []

    def text_fields(self) -> list[str]:
        """Every text field a person reads (for the prose check)."""
        if self.report is None:
            return [self.hypothesis] if self.hypothesis else []
        fields: list[str] = []
        if self.report.run.raw:  # the answer's parts; its summary is the answer verbatim, nothing was reviewed
            return [
                f
                for c in self.report.contexts
                for f in (c.hypothesis.statement, c.hypothesis.rationale, *c.hypothesis.steps)
            ]
        for c in self.report.contexts:
            h = c.hypothesis
            fields += [c.summary, h.statement, h.rationale, *h.steps, c.review.text]
        syn = self.report.synthesis
        return fields + [syn.representation, syn.hypothesis, *syn.steps]

    def has_evidence(self) -> bool | None:
        """Do the contexts (or the synthesis) carry predictor numbers? None for a bare hypothesis string."""
        if self.report is None:
            return None if self.hypothesis else False
        validations = [c.validation for c in self.report.contexts] + [self.report.synthesis.validation]
        return any(v is not None and v.predictions for v in validations)


def _join(*parts: str) -> str:
    out = []
    for p in parts:
        p = " ".join((p or "").split())
        if any(ch.isalnum() for ch in p):  # a part a raw answer did not give ("-") is no text
            out.append(p if p[-1] in ".!?" else p + ".")
    return " ".join(out)


@dataclass
class ResultSet:
    items: dict[str, Generated] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_results(path: str | Path) -> ResultSet:
    """Read a results file; unreadable files raise BadInputError, bad lines become problems (later ids win)."""
    path = Path(path)
    text = read_input_text(path, "results file")
    out = ResultSet()
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            gen = Generated.from_record(record)
        except json.JSONDecodeError as exc:
            out.problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except ValidationError as exc:
            err = exc.errors()[0]
            out.problems.append(f"{where}: not a report ({'.'.join(map(str, err['loc']))}: {err['msg']})")
            continue
        except ValueError as exc:
            out.problems.append(f"{where}: {exc}")
            continue
        out.items[gen.id] = gen
    return out
