"""Capability profiles: the shape of answer a model is asked for, and which checks its text gets.

Every model entry in the provider registry names its capability (``Provider.capability``); a run may
override it (``RunConfig.capability``).

- ``tiny`` (the embedded SmolLM2-135M): each free-text field is one sentence under a decoding grammar
  (``hypofinder.quality.sentence_pattern``), statements open with the context's concept, reviews open with
  "Its strength is", exactly three steps, and every prose check applies. No revision and no tournament
  unless asked: they keep a 135M model readable, not better, and cost the cold-ask time.
- ``capable`` (served models, by default): free prose, several sentences per field, bounded only by
  ``max_tokens``; 3-6 steps; prompts ask for a mechanism, expected magnitudes with units, a falsifying
  result and named methods. Only what is debris for any model is flagged (``quality.debris_problems``):
  JSON or bracket debris, text copied from the prompt, empty fields. Revision and tournament are on.

The prompt files hold each profile's instructions (``profiles:`` in ``prompts/*.yaml``); the schemas are the
records of ``hypofinder.models``, adapted here.
"""

from __future__ import annotations

from copy import copy
from functools import lru_cache
from typing import Literal, get_origin

from pydantic import BaseModel, Field, create_model

from hypofinder.prompts import constrained
from hypofinder.proofread import prose_fields

Capability = Literal["tiny", "capable"]


class Profile(BaseModel, frozen=True):
    name: Capability
    rounds: int = Field(description="Revision rounds by default")
    tournament: bool = Field(description="Tournament on by default")
    steps: tuple[int, int] = Field(description="Fewest and most steps a hypothesis or synthesis has")
    token_scale: float = Field(description="Answer budget relative to the tiny profile's max_tokens")
    model_weight: float = Field(description="Weight of the reviewer model's own rubric in the score (scoring.py)")

    def schema(
        self,
        base: type[BaseModel],
        *,
        facts: bool = False,
        sources: bool = False,
        subjects: tuple[str, ...] = (),
        techniques: tuple[str, ...] = (),
        claims: tuple[str, ...] = (),
    ) -> type[BaseModel]:
        """The answer schema asked of this profile's models: ``base`` with its prose fields constrained (tiny:
        sentence grammar, citations, the statement opening with the planned property and system and a direction
        (else its concept), each step with a planned technique) or freed (capable)."""
        if self.name == "tiny":
            return constrained(
                base,
                facts=facts,
                sources=sources,
                subjects=subjects,
                steps=self.steps,
                techniques=techniques,
                claims=claims,
            )
        return free_schema(base, self.steps)

    def max_tokens(self, tiny_budget: int) -> int:
        return int(tiny_budget * self.token_scale)


def profile_for(provider_capability: str, run_capability: str | None) -> Profile:
    """The profile a run uses: the run's choice, else the model's registry entry."""
    return PROFILES[run_capability or provider_capability]


PROFILES: dict[str, Profile] = {
    "tiny": Profile(name="tiny", rounds=0, tournament=False, steps=(3, 3), token_scale=1.0, model_weight=0.2),
    "capable": Profile(name="capable", rounds=1, tournament=True, steps=(3, 6), token_scale=2.5, model_weight=0.5),
}


@lru_cache(maxsize=64)
def free_schema(base: type[BaseModel], steps: tuple[int, int]) -> type[BaseModel]:
    """``base`` with every prose field a plain non-empty string (no pattern, no opening) and lists of them
    holding ``steps`` items; the field names are kept on the class (``__prose__``) for the debris check."""
    names = prose_fields(base)
    fields = {}
    for name in names:
        info = copy(base.model_fields[name])
        info.json_schema_extra = None
        if get_origin(info.annotation) is list:
            fields[name] = (list[str], Field(min_length=steps[0], max_length=steps[1], description=info.description))
        else:
            fields[name] = (str, info)
    model = create_model(base.__name__, __base__=base, **fields)  # same title: scripted tests still match
    model.__prose__ = tuple(names)
    return model
