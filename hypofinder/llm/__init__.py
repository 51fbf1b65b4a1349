"""LLM room: the provider registry (local llama.cpp, OpenAI-compatible, fake, and whatever is registered),
structured output, token accounting and the SQLite answer cache. Knows nothing about hypotheses or defects."""

from hypofinder.llm.registry import ModelSpec, Provider, all_providers, register, resolve
from hypofinder.llm.structured import StructuredLLM, Usage

__all__ = ["ModelSpec", "Provider", "all_providers", "register", "resolve", "StructuredLLM", "Usage"]
