"""Scripted chat models for tests, registered through the provider registry like any other provider."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from hypofinder.llm import Provider, register
from hypofinder.llm.providers import FakeChatModel
from hypofinder.llm.registry import unregister


@contextlib.contextmanager
def scripted_model(responses: dict) -> Iterator[str]:
    """Register, for the block, an in-process model answering from ``responses`` (schema title -> answer, or
    a list of answers served in turn; other schemas get the fake model's answers); yields its model name.
    A finder built inside the block keeps working after it."""
    name = f"scripted-{uuid.uuid4().hex[:8]}"
    register(
        Provider(
            name=name,
            model_name=name,
            description="scripted test model",
            build=lambda spec, run: FakeChatModel(responses=responses),
        )
    )
    try:
        yield name
    finally:
        unregister(name)
