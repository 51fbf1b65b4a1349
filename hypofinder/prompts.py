"""Prompt templates (files in ``prompts/``, versioned), the answer schemas they ask for, and the grounding
block that places a context's concept in PhySH.

The answer schemas are the report records minus their report-only fields (defined once, in
hypofinder.models); they are re-exported here because a prompt and its schema belong together.
"""

from __future__ import annotations

import re
from copy import copy
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import SkipJsonSchema

from hypofinder.errors import DataNotFoundError
from hypofinder.models import (
    ContextResult,
    Evidence,
    GeneratedHypothesis,
    Plan,
    ReviewAnswer,
    Sentence,
    Source,
    SynthesisAnswer,
    Validation,
    ValidationRequest,
    sentence_type,
)
from hypofinder.proofread import prose_fields
from hypofinder.quality import claim_openings, sentence_pattern, subject_openings, technique_openings
from hypofinder.settings import settings

__all__ = [
    "GeneratedHypothesis",
    "JudgeAnswer",
    "PlainHypothesis",
    "PlainRevisedHypothesis",
    "PlainSynthesis",
    "RevisedHypothesis",
    "Prompt",
    "ReviewAnswer",
    "SynthesisAnswer",
    "grounding_block",
    "load_prompt",
    "prompt_versions",
]


class PlainHypothesis(GeneratedHypothesis):
    # the generator's answer for a question without predictor evidence: no defect request in the schema, so a
    # small model is not invited to invent one (no docstring: it would become the schema's description)

    model_config = ConfigDict(title="GeneratedHypothesis")
    validation_request: SkipJsonSchema[ValidationRequest | None] = None


class PlainSynthesis(SynthesisAnswer):
    # the synthesis of a question without predictor evidence: no defect request in the schema

    model_config = ConfigDict(title="SynthesisAnswer")
    validation_request: SkipJsonSchema[ValidationRequest | None] = None


GROUNDING_ITEMS = 4  # neighbours of each kind shown to the model: a small model needs a short prompt


class Prompt(BaseModel):
    name: str
    version: str
    system: str
    human: str
    optional: list[str] = Field(default_factory=list, description="Blocks rendered empty when not given")
    profiles: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Blocks per capability profile (tiny, capable): hypofinder.profiles"
    )

    def messages(self, capability: str = "tiny", **values: str) -> Rendered:
        """Render with LangChain's ChatPromptTemplate, with the blocks of ``capability``'s profile; returns
        (role, text) pairs that also carry the prompt's own fixed text (``Rendered.literals``)."""
        from langchain_core.prompts import ChatPromptTemplate  # here: a cached answer needs no LangChain

        blocks = self.profiles.get(capability, {})
        values = {**dict.fromkeys(self.optional, ""), **blocks, **values}
        template = ChatPromptTemplate.from_messages([("system", self.system), ("human", self.human)])
        pairs = [
            ("system" if m.type == "system" else "user", str(m.content)) for m in template.format_messages(**values)
        ]
        fixed = [self.system, self.human, *blocks.values()]
        literals = [
            p.replace("{{", "{").replace("}}", "}") for t in fixed for p in re.split(r"(?<!\{)\{\w+\}(?!\})", t)
        ]
        return Rendered(pairs, literals=tuple(p for p in literals if p.strip()))


class Rendered(list):
    """A rendered prompt: (role, text) pairs, plus ``literals``, the prompt file's own text between its
    placeholders (the copy check tells text copied from the prompt from text taken from the question)."""

    def __init__(self, pairs, literals: tuple[str, ...] = ()):
        super().__init__(pairs)
        self.literals = literals


@lru_cache(maxsize=16)
def _load(path: Path, mtime: float) -> Prompt:
    return Prompt.model_validate(yaml.safe_load(path.read_text()))


def load_prompt(name: str, prompts_dir: Path | None = None) -> Prompt:
    path = (prompts_dir or settings().prompts_dir) / f"{name}.yaml"
    if not path.exists():
        raise DataNotFoundError(f"prompt template {name!r} not found: looked in {path}")
    return _load(path, path.stat().st_mtime)


def prompt_versions() -> dict[str, str]:
    return {name: load_prompt(name).version for name in ("generator", "reviewer", "reviser", "judge", "synthesizer")}


def grounding_block(concept, supporting: list[str] = ()) -> str:
    """The concept's place in PhySH as prompt lines (ends with a newline), or '' when nothing is known.

    ``concept`` is a hypofinder.ontology.Concept (or None); ``supporting`` are the context's other concept
    labels. Only what PhySH states is shown: alternative labels, broader / narrower / related concepts and
    the scope note, each cut short.
    """
    lines: list[str] = []

    def add(title: str, labels) -> None:
        labels = [x for x in dict.fromkeys(labels) if x][:GROUNDING_ITEMS]
        if labels:
            lines.append(f"{title}: {', '.join(labels)}")

    if concept is not None:
        add("Also called", concept.alt_labels)
        add("Part of", [c.label for c in concept.broader])
        add("Includes", [c.label for c in concept.narrower])
        add("Related", [c.label for c in concept.related] + list(supporting))
        if concept.scope_note:
            note = " ".join(concept.scope_note.split())
            lines.append(f"Scope: {note[:300]}")
    else:
        add("Related", supporting)
    return "".join(f"{line}\n" for line in lines)


class RevisedHypothesis(GeneratedHypothesis):
    """The same fields as a first draft, asked of the reviser (its own schema title keeps scripted tests apart)."""


class PlainRevisedHypothesis(RevisedHypothesis):
    # a revision for a question without predictor evidence: no defect request in the schema

    model_config = ConfigDict(title="RevisedHypothesis")
    validation_request: SkipJsonSchema[ValidationRequest | None] = None


def constrained(
    schema: type[BaseModel],
    *,
    facts: bool = False,
    sources: bool = False,
    subjects: tuple[str, ...] = (),
    steps: tuple[int, int] = (3, 3),
    techniques: tuple[str, ...] = (),
    claims: tuple[str, ...] = (),
) -> type[BaseModel]:
    """``schema`` with prose fields that may cite what the prompt gives: [E1]... for the predictor's facts,
    [S1]... for library sources. With facts, the rationale must end by citing one (the hypothesis builds on
    the numbers, and says so). Without either, no marker can be decoded: a model cannot cite what it was
    not given. Given ``subjects`` (the context's concept label and its alternative labels), the statement
    starts with one of them, so a small model cannot drift off its concept; given ``claims`` (openings naming
    the planned property, system and a direction: ``quality.claim_openings``) it starts with one of those. Lists of prose (steps) hold
    ``steps`` = (fewest, most) items, each opening with one of the planned ``techniques`` ('Use ...')."""
    markers = ("E" if facts else "") + ("S" if sources else "")
    cited = "rationale" if facts and "rationale" in schema.model_fields else ""
    opening = () if "statement" not in schema.model_fields else tuple(claims) or subject_openings(tuple(subjects))
    return _constrained(schema, markers, cited, opening, steps, technique_openings(tuple(techniques)))


@lru_cache(maxsize=256)
def _constrained(
    schema: type[BaseModel],
    markers: str,
    cited_field: str,
    opening: tuple[str, ...],
    steps: tuple[int, int],
    step_opening: tuple[str, ...] = (),
) -> type[BaseModel]:
    names = prose_fields(schema)
    lists = [n for n in names if get_origin(schema.model_fields[n].annotation) is list]
    if not markers and not opening and not lists:
        return schema
    fields = {}
    for name in names:
        info = schema.model_fields[name]
        starts = opening if name == "statement" else step_opening if name in lists else ()
        pattern = sentence_pattern(markers, "E" if name == cited_field else "", starts)
        info = copy(info)
        if name in lists:
            info = Field(min_length=steps[0], max_length=steps[1], description=info.description)
            fields[name] = (list[sentence_type(pattern)], info)
        else:
            info.json_schema_extra = {"pattern": pattern}
            fields[name] = (str, info)
    return create_model(schema.__name__, __base__=schema, **fields)  # same title: scripted tests still match


class JudgeAnswer(BaseModel):
    """One vote of a tournament match (reason first: the model says why before it chooses)."""

    reason: Sentence = Field(description="Why, in one sentence")
    better: Literal["first", "second"]


# --------------------------------------------------------------------------- blocks the steps put into prompts


def physh_concept(concept_id: str):
    """The context's lead concept with its PhySH neighbourhood, or None when it is not in PhySH (test doubles)."""
    from hypofinder.errors import HypofinderError
    from hypofinder.ontology import get_concept

    try:
        return get_concept(concept_id)
    except HypofinderError:
        return None


_KIND = {"system": "physical system", "property": "property", "technique": "technique"}


def plan_block(plan: Plan | None) -> str:
    """The generator's numbered PhySH facts ([Y1] system, [P1] property, [T1].. techniques), '' without any."""
    if plan is None or not plan.facts:
        return ""
    lines = [f"[{f.id}] {f.label} ({_KIND[f.kind]}){': ' + f.note if f.note else ''}" for f in plan.facts]
    return (
        "Planned from PhySH: name the system and the property in the statement, and one technique in each step.\n"
        + "\n".join(lines)
        + "\n"
    )


def plan_claims(plan: Plan | None, evidence: Evidence | None = None) -> tuple[str, ...]:
    """The tiny model's statement openings: 'The <property> of <system> <direction>'. With predictor facts,
    the property and host are the evidence's and the direction is the trend the numbers show (a 135M model
    picks directions at random); otherwise the plan's, the model choosing the direction. None without a
    planned property: the statement then opens with its concept."""
    if evidence is not None and evidence.facts and evidence.host:
        from hypofinder.prediction import spec

        trend = next((f.trend for f in evidence.facts if f.trend is not None), None)
        verbs = () if trend is None else ("decreases", "falls") if trend < 0 else ("increases", "rises")
        return claim_openings(spec(evidence.target).title, evidence.host, verbs)
    if plan is None or not plan.properties:
        return ()
    return claim_openings(plan.properties[0].label, plan.systems[0].label if plan.systems else "")


def plan_checks(plan: Plan | None) -> dict[str, tuple[tuple[str, ...], str]]:
    """What the checker asks of an answer built on ``plan``: each step names a planned technique, the statement
    the planned system or property (``proofread.field_problems``'s ``named``)."""
    if plan is None:
        return {}
    checks = {}
    if plan.techniques:
        checks["steps"] = (plan.technique_labels, "names no planned technique")
    if plan.systems or plan.properties:
        labels = tuple(f.label for f in plan.systems + plan.properties)
        checks["statement"] = (labels, "names neither the planned system nor the property")
    return checks


def sources_block(sources: list[Source]) -> str:
    """The generator's numbered sources block (empty without a library: the prompt is then unchanged)."""
    if not sources:
        return ""
    lines = [f"[S{i}] {s.title}{f' ({s.year})' if s.year else ''}: {s.text}" for i, s in enumerate(sources, 1)]
    return (
        "Sources from the user's library (cite one as [S1], [S2] right after a sentence it supports; "
        "cite nothing it does not say):\n" + "\n".join(lines) + "\n"
    )


def judge_text(r: ContextResult) -> str:
    verdict = f" Predictor evidence: {r.validation.verdict}." if r.validation else ""
    return f"{r.hypothesis.statement} Rationale: {r.hypothesis.rationale}{verdict}"


def evidence_text(validation: Validation | None, evidence: Evidence | None = None) -> str:
    """The reviewer's and reviser's evidence line (ends with a newline): the claim check's verdict with its
    numbers, then the planned facts ([E1], ...); '' when the predictor has nothing to say about the hypothesis
    (validation off, or no numbers, no planned facts and no defect request from the model), so plain questions
    carry no defect talk."""
    facts = evidence is not None and bool(evidence.facts)
    if not facts and not (validation is not None and validation.applies):
        return ""
    line = f"Predictor evidence: {claim_text(validation)}"
    if facts:
        line += ". Planned evidence the generator was given: " + " ".join(
            f"[{fid}] {f.summary}." for fid, f in zip(evidence.fact_ids(), evidence.facts)
        )
    return line + "\n"


def claim_text(validation: Validation | None) -> str:
    if validation is None:
        return "none (validation off)"
    if not validation.predictions:
        return f"{validation.verdict}: {validation.summary}"
    from hypofinder.prediction import registry

    names = registry().names()
    if validation.request is not None:  # the claim's property and the one beside it in facts
        t = validation.request.target
        names = (t, registry().companion(t, validation.request.host).name)
    rows = "; ".join(f"{p.label}: {registry().describe(p, names)}" for p in validation.predictions[:6])
    return f"{validation.verdict}: {validation.summary} ({rows})"
