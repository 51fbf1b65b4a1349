"""The prose check: does a text field read as a sentence a person wrote, or is it decoding debris?

Used after decoding (regenerate once, then flag), by the evaluation harness (``junk_rate``) and by the
text-quality benchmark. Deterministic and dependency-free: a few regular expressions and a word list.
"""

from __future__ import annotations

import re
from functools import lru_cache

CITATION = r"\[(?:E|S)\d{1,2}\]"
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*")
_DEBRIS = re.compile(r"[{}`<>\\|]|\"\"|''|,\s*,|:\s*\"|\"\s*:|\[\s*\]")
_BRACKET = re.compile(r"\[[^\]]*\]")


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """English words plus physics vocabulary: tiktoken's cl100k vocabulary is a good proxy for 'a word'."""
    from hypofinder.llm.tokens import vocabulary_words

    return vocabulary_words()


def prose_problems(text: str | None, *, min_words: int = 4, source: str = "") -> list[str]:
    """Why ``text`` is not prose (empty list: it is). ``source`` (the prompt) catches copied text."""
    text = (text or "").strip()
    if not text:
        return ["empty"]
    problems: list[str] = []
    words = _WORD.findall(text)
    if len(words) < min_words:
        problems.append("too short")
    if not (text[0].isupper() or text[0].isdigit()):
        problems.append("does not start with a capital")
    if _DEBRIS.search(text) or any(not re.fullmatch(CITATION, b) for b in _BRACKET.findall(text)):
        problems.append("JSON or bracket debris")
    if words:
        known = _common_words()
        share = sum(w.lower().strip("'-") in known for w in words) / len(words)
        if share < 0.7:
            problems.append("not mostly words")
        lowered = [w.lower() for w in words]
        if len(lowered) >= 6 and len(set(lowered)) / len(lowered) < 0.5:
            problems.append("repeated words")
    if source and len(text) >= 40 and " ".join(text.lower().split()) in " ".join(source.lower().split()):
        problems.append("copied from the prompt")
    return problems


def is_prose(text: str | None, **kw) -> bool:
    return not prose_problems(text, **kw)
