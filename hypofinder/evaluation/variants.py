"""Ablation variants: named, documented pipeline configurations on the same model, seed and questions.

Each variant is RunConfig overrides laid over the run's configuration (model, seed, contexts ... stay the
user's), plus which hypothesis is scored. Defined here, once; ``hypofinder eval run --variant V`` and
``benchmarks/bench_ablation.py`` read them. Every variant states the stage flags it needs, so a config
file's ``raw = true`` cannot turn ``full`` into something else.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hypofinder.errors import BadInputError
from hypofinder.evaluation.results import Pick
from hypofinder.settings import RunConfig

_PIPELINE = {"raw": False, "physh_contexts": True, "plan": True}


class Variant(BaseModel):
    name: str
    doc: str
    overrides: dict[str, Any] = Field(default_factory=dict, description="RunConfig fields")
    pick: Pick | None = Field(default=None, description="The hypothesis scored; None: the run's --pick")

    def config(self, base: RunConfig) -> RunConfig:
        return base.merged(**self.overrides)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            name="raw",
            doc="One plain call: the question and a neutral paragraph (prompts/plain.yaml), free text back; "
            "no PhySH, evidence, review or synthesis (hypofinder.plain).",
            overrides={"raw": True},
        ),
        Variant(name="full", doc="The pipeline as configured (today's defaults).", overrides=_PIPELINE),
        Variant(
            name="no-contexts",
            doc="One generic researcher role (Physicist, Physics) instead of PhySH contexts; the rest as full.",
            overrides={**_PIPELINE, "physh_contexts": False},
        ),
        Variant(
            name="no-evidence",
            doc="No planner facts and no predictor validation; the rest as full.",
            overrides={**_PIPELINE, "validate": False},
        ),
        Variant(
            name="no-plan",
            doc="No PhySH plan (system, property, techniques) for the generator; the rest as full.",
            overrides={**_PIPELINE, "plan": False},
        ),
        Variant(
            name="no-refine",
            doc="No revision rounds and no tournament; the rest as full.",
            overrides={**_PIPELINE, "rounds": 0, "tournament": False},
        ),
        Variant(
            name="synthesis-only",
            doc="The full run scored on its synthesis alone (shares full's run when both are asked for).",
            overrides=_PIPELINE,
            pick="synthesis",
        ),
    )
}


def get_variant(name: str) -> Variant:
    """The variant called ``name``, or one line naming the known ones."""
    key = name.strip().lower()
    if key not in VARIANTS:
        raise BadInputError(f"unknown variant {name.strip()!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[key]


def parse_variants(names: list[str] | str) -> list[Variant]:
    """Variants from repeated names and/or comma lists ("raw,full"), in order, each once."""
    items = [names] if isinstance(names, str) else list(names)
    wanted = [n for item in items for n in item.split(",") if n.strip()]
    if not wanted:
        raise BadInputError("no variant given")
    return list({v.name: v for v in map(get_variant, wanted)}.values())
