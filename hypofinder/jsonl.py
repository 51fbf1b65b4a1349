"""The one JSONL reader: mining questions, eval references, library records and service batches all read
JSON Lines through ``jsonl_lines``.

JSON allows U+2028/U+2029 (and other Unicode line breaks) inside a string, so a record ends at '\\n' only,
never where ``str.splitlines`` would cut it; a line that is not JSON is named by its number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

SUFFIXES = (".jsonl", ".ndjson")


def jsonl_lines(text: str, problems: list[str], where: Callable[[int], str]) -> Iterator[tuple[str, Any]]:
    """(where, value) for each non-blank line of ``text``; ``where(n)`` names line n (1-based) in messages.

    A line that is not valid JSON appends "<where>: not valid JSON (<why> at column <c>)" to ``problems``.
    """
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 is valid inside JSON
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where(n)}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        yield where(n), value


__all__ = ["SUFFIXES", "jsonl_lines"]
