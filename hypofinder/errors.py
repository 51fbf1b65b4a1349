"""User-facing errors: each carries one clear line that the CLI prints before a non-zero exit."""

from __future__ import annotations


class HypofinderError(Exception):
    """Base class: str(err) is a single line meant for a person."""


class DataNotFoundError(HypofinderError):
    """A data file or folder is missing; the message names the path looked at."""


class BadInputError(HypofinderError):
    """The user's input (query, option, file) is not acceptable."""


class LLMError(HypofinderError):
    """The language model failed after retries (server down, timeout, unparseable output)."""


def one_line(text: object, limit: int = 300) -> str:
    """Any message as one line of at most ``limit`` characters (for people, logs and result files)."""
    return " ".join(str(text).split())[:limit]
