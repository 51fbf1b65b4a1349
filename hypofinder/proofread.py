"""The check after decoding: every free-text field of an LLM answer must read as prose and stay on topic.

``ask_checked`` asks once; if a field fails (too short, not prose, copied from the prompt, repeated words,
or a statement that names nothing from its question or concept), it asks once more, telling the model which
fields failed and why, keeps the better version of each field, and returns the problems that remain
(``quality_flags`` in the report) so weak text is never silently passed off.

Free-text fields are found through the schema: strings (or lists of strings) carrying the prose pattern.
"""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel

from hypofinder.ontology.plan import names
from hypofinder.quality import CITATION, copied_run, debris_problems, is_prose_pattern, prose_problems

T = TypeVar("T", bound=BaseModel)
Flags = dict[str, list[str]]

_STOP = frozenset(
    """
a an and are as at be by can could do does for from has have how i in into is it its like may might of on or
our such that the their these this those to use used using we what when where which while who why will with
would should about between both each more most other over than then there they through under very well
""".split()
)
# Words of a question too common to show that a text is about its subject (a concept's label keeps them).
_GENERIC = _STOP | frozenset(
    """
material materials property properties model models modeling physics physical effect effects study system
systems way ways different new based higher lower level help reason describe description descriptions
""".split()
)
_SENTENCE_BREAK = re.compile(r"[.!?] +[A-Z]")  # under the tiny grammar a full stop only ends the field
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+[A-Za-z][A-Za-z0-9]*")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _TOKEN.findall(text or "") if len(w) > 2 or any(c.isdigit() for c in w)}


def subject_words(query: str, *labels: str) -> set[str]:
    """The content words of a question (generic words dropped) and of its concept labels (stop words dropped)."""
    words = _words(query) - _GENERIC
    for label in labels:
        words |= _words(label) - _STOP
    return words


def _same_word(a: str, b: str) -> bool:
    """Equal, or sharing a stem of at least 6 letters (superconductor / superconductivity)."""
    if a == b:
        return True
    n = min(len(a), len(b))
    return n >= 6 and a[: max(6, n - 3)] == b[: max(6, n - 3)]


def mentions_subject(text: str, subject: set[str]) -> bool:
    """Does ``text`` name something from ``subject`` (see ``subject_words``)?"""
    words = _words(text) - _STOP
    return any(_same_word(w, s) for w in words for s in subject)


def prose_fields(schema: type[BaseModel]) -> list[str]:
    """Names of the schema's free-text fields: those carrying the prose pattern (tiny profile), or those a
    capable profile's schema names (``hypofinder.profiles.free_schema``)."""
    free = getattr(schema, "__prose__", None)
    if free is not None:
        return list(free)
    props = schema.model_json_schema().get("properties", {})
    out = []
    for name, p in props.items():
        if is_prose_pattern(p.get("pattern")) or is_prose_pattern((p.get("items") or {}).get("pattern")):
            out.append(name)
    return out


Named = dict[str, tuple[tuple[str, ...], str]]  # field -> (labels, one of which it must name; the problem if not)


def field_problems(
    answer: BaseModel,
    *,
    source: str,
    subject: set[str] | None = None,
    on_topic: tuple[str, ...] = (),
    named: Named | None = None,
    literals: tuple[str, ...] = (),
) -> Flags:
    """Field path (e.g. 'steps[1]') -> problems, for every free-text field of ``answer`` that fails. ``named``:
    fields that must name one of the plan's labels (a step its technique, a statement its system)."""
    flags: Flags = {}
    seen: set[str] = set()
    # a sentence-patterned field (tiny profile) gets the whole prose check and must be one sentence (a server may
    # not decode under the pattern); free text (capable profile) only the debris check
    free = hasattr(type(answer), "__prose__")
    for name in prose_fields(type(answer)):
        value = getattr(answer, name)
        items = [(f"{name}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list) else [(name, value)]
        for path, text in items:
            problems = debris_problems(text, source=source) if free else prose_problems(text, source=source)
            if not free and _SENTENCE_BREAK.search(text or ""):
                problems.append("more than one sentence")
            key = " ".join((text or "").lower().split())
            if key and key in seen:
                problems.append("repeats another field")
            seen.add(key)
            if any(m.group(0) not in source for m in re.finditer(CITATION, text or "")):
                problems.append("cites a fact or source it was not given")
            if subject and name in on_topic and not mentions_subject(text, subject):
                problems.append("names nothing from the question or concept")
            run = copied_run(text or "", source, literals)
            if run and "copied from the prompt" not in problems:
                problems.append(f"copies the prompt ('{run}')")
            labels, problem = (named or {}).get(name, ((), ""))
            if labels and not any(names(text or "", label) for label in labels):
                problems.append(problem)
            if problems:
                flags[path] = problems
    return flags


def _merge(first: T, second: T, flags1: Flags, flags2: Flags) -> tuple[T, Flags]:
    """Per field, keep the version with fewer problems (the first on ties)."""
    data = first.model_dump()
    kept: Flags = {}
    for path in set(flags1) | set(flags2):
        p1, p2 = flags1.get(path, []), flags2.get(path, [])
        if path in flags1 and len(p2) < len(p1):
            name, _, idx = path.partition("[")
            v2 = getattr(second, name)
            if idx:
                i = int(idx.rstrip("]"))
                if i >= len(data[name]) or i >= len(v2):  # lists of 3-6 steps may differ in length
                    if p1:
                        kept[path] = p1
                    continue
                data[name][i] = v2[i]
            else:
                data[name] = v2
            if p2:
                kept[path] = p2
        elif p1:
            kept[path] = p1
    return type(first).model_validate(data), kept


def retry_note(flags: Flags, free: bool = False) -> str:
    parts = "; ".join(f"{path}: {', '.join(problems)}" for path, problems in sorted(flags.items()))
    how = (
        "as plain prose in your own words, with no JSON, brackets or text copied from the prompt"
        if free
        else "as one plain English sentence in your own words, starting with a capital letter and ending with a "
        "full stop"
    )
    return f"A first answer had weak fields ({parts}). Write each field {how}."


def ask_checked(
    llm,
    messages: list[tuple[str, str]],
    schema: type[T],
    *,
    max_tokens: int,
    task: str,
    subject: set[str] | None = None,
    on_topic: tuple[str, ...] = (),
    named: Named | None = None,
) -> tuple[T, Flags]:
    """Ask ``llm`` (a StructuredLLM) for ``schema``; regenerate once if a free-text field fails the check.

    Returns the answer (best version of each field) and the problems that remain, by field path.
    """
    source = "\n".join(text for _, text in messages)
    answer = llm.ask(messages, schema, max_tokens=max_tokens, task=task)
    literals = getattr(messages, "literals", ())  # a prompts.Rendered prompt knows its own fixed text
    flags = field_problems(answer, source=source, subject=subject, on_topic=on_topic, named=named, literals=literals)
    if not flags:
        return answer, {}
    role, content = messages[-1]
    again = [*messages[:-1], (role, f"{content}\n{retry_note(flags, hasattr(schema, '__prose__'))}")]
    second = llm.ask(again, schema, max_tokens=max_tokens, task=f"{task}:again")
    flags2 = field_problems(second, source=source, subject=subject, on_topic=on_topic, named=named, literals=literals)
    return _merge(answer, second, flags, flags2)
