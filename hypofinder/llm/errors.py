"""Map provider exceptions to (kind, one line): 'transient' (retry with backoff), 'unsupported'
(the endpoint rejects a response_format: try the next mode) or 'fatal'. Lines never hold the key."""

from __future__ import annotations

import os
import re

from hypofinder.errors import one_line
from hypofinder.llm.registry import ModelSpec


def redact(text: str) -> str:
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        text = text.replace(key, "***")
    return re.sub(r"\b(sk-[A-Za-z0-9_\-*]{3})[A-Za-z0-9_\-*]+", r"\1***", text)


def classify(exc: Exception, spec: ModelSpec) -> tuple[str, str]:
    import httpx
    import openai

    where = spec.base_url_host or spec.provider
    if isinstance(exc, openai.APITimeoutError) or isinstance(exc, httpx.TimeoutException):
        return "transient", f"model server at {where} timed out"
    if isinstance(exc, openai.APIConnectionError) or isinstance(exc, httpx.ConnectError):
        return "transient", f"cannot reach model server at {where} (is it running?)"
    if isinstance(exc, openai.APIStatusError) and "response_format" in str(exc):
        # e.g. llama.cpp's server answers 500 "response_format.type should be 'text' or 'json_object'"
        return "unsupported", f"model server at {where} does not support this response_format"
    if isinstance(exc, (openai.RateLimitError, openai.InternalServerError)):
        return "transient", f"model server at {where} is busy or failing ({exc.__class__.__name__})"
    if isinstance(exc, openai.AuthenticationError):
        return "fatal", f"model server at {where} refused the API key (check OPENAI_API_KEY)"
    if isinstance(exc, openai.NotFoundError):
        return "fatal", f"model {spec.name!r} not found at {where}"
    if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return "unsupported", redact(f"model server at {where} rejected the request: {_first_line(exc)}")
    return "fatal", redact(f"{exc.__class__.__name__}: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    return one_line(exc, 200)
