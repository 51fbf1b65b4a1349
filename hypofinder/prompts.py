"""Prompt templates (files in ``prompts/``, versioned) and the answer schemas the LLM must fill.

The schemas bound every string and list, so a constrained decoder can never run away and a
small model's answers stay short enough for the 2-core latency goal.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from hypofinder.errors import DataNotFoundError
from hypofinder.models import ValidationRequest
from hypofinder.settings import settings


class Prompt(BaseModel):
    name: str
    version: str
    system: str
    human: str

    def messages(self, **values: str) -> list[tuple[str, str]]:
        """Render with LangChain's ChatPromptTemplate; returns (role, text) pairs."""
        template = ChatPromptTemplate.from_messages([("system", self.system), ("human", self.human)])
        return [("system" if m.type == "system" else "user", str(m.content)) for m in template.format_messages(**values)]


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


# --------------------------------------------------------------------------- answer schemas

Step = Annotated[str, StringConstraints(min_length=10, max_length=120)]


class GeneratedHypothesis(BaseModel):
    summary: str = Field(min_length=20, max_length=240)
    statement: str = Field(min_length=20, max_length=200)
    rationale: str = Field(min_length=20, max_length=200)
    steps: list[Step] = Field(min_length=3, max_length=3)
    validation_request: ValidationRequest | None = None


class RevisedHypothesis(GeneratedHypothesis):
    """The same fields as a first draft, asked of the reviser (its own schema title keeps scripted tests apart)."""


class PlainHypothesis(GeneratedHypothesis):
    # the same answer for a question without predictor evidence: no defect request in the schema (no docstring:
    # it would become the schema's description)

    model_config = ConfigDict(title="GeneratedHypothesis")
    validation_request: SkipJsonSchema[ValidationRequest | None] = None


class ReviewAnswer(BaseModel):
    review: str = Field(min_length=20, max_length=240)
    novelty: int = Field(ge=0, le=100)
    plausibility: int = Field(ge=0, le=100)
    testability: int = Field(ge=0, le=100)
    specificity: int = Field(ge=0, le=100)
    score: int = Field(ge=0, le=100)


class SynthesisAnswer(BaseModel):
    representation: str = Field(min_length=20, max_length=240)
    hypothesis: str = Field(min_length=20, max_length=240)
    steps: list[Step] = Field(min_length=3, max_length=5)
    validation_request: ValidationRequest | None = None


class PlainSynthesis(SynthesisAnswer):
    # the synthesis of a question without predictor evidence: no defect request in the schema

    model_config = ConfigDict(title="SynthesisAnswer")
    validation_request: SkipJsonSchema[ValidationRequest | None] = None


class JudgeAnswer(BaseModel):
    """One vote of a tournament match (reason first: the model says why before it chooses)."""

    reason: str = Field(min_length=10, max_length=160)
    better: Literal["first", "second"]
