"""LLM room: the provider registry (local llama.cpp, OpenAI-compatible, fake, and whatever is registered),
structured output, token accounting and the SQLite answer cache. Knows nothing about hypotheses or defects."""

from hypofinder.llm.registry import ModelSpec, Provider, all_providers, register, resolve

__all__ = ["ModelSpec", "Provider", "all_providers", "register", "resolve", "StructuredLLM", "Usage"]


def __getattr__(name: str):
    """StructuredLLM and Usage load LangChain: imported on first use, so the registry stays light."""
    if name in ("StructuredLLM", "Usage"):
        from hypofinder.llm import structured

        return getattr(structured, name)
    raise AttributeError(name)
