"""LLM room: chat-model providers (local llama.cpp, OpenAI-compatible, fake), structured output,
token accounting and the SQLite answer cache. Knows nothing about hypotheses or defects."""

from hypofinder.llm.providers import ModelSpec, make_chat_model, parse_model_spec
from hypofinder.llm.structured import StructuredLLM, Usage

__all__ = ["ModelSpec", "make_chat_model", "parse_model_spec", "StructuredLLM", "Usage"]
