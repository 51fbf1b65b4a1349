"""Scripted chat models for tests, registered through the provider registry like any other provider."""

from __future__ import annotations

import uuid

from hypofinder.llm import Provider, register
from hypofinder.llm.providers import FakeChatModel


def scripted_model(responses: dict, name: str | None = None) -> str:
    """Register an in-process model that answers from ``responses`` (schema title -> answer, or a list of
    answers served in turn; other schemas get the fake model's answers). Returns its ``--model`` name."""
    name = name or f"scripted-{uuid.uuid4().hex[:8]}"
    register(Provider(name=name, model_name=name, description="scripted test model",
                      build=lambda spec, run: FakeChatModel(responses=responses)))
    return name
