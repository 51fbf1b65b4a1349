"""The ablation baseline: one plain call of the model, and the generic context of the no-contexts variant.

``raw`` (RunConfig ``raw=True``, ``hypofinder ask --raw``, variant ``raw`` of ``hypofinder eval``) asks the
model once, with the question and the neutral paragraph of ``prompts/plain.yaml``, for a free-text answer:
no PhySH concept, no evidence, no review, no synthesis. The answer becomes a report with one context, so
every metric of ``hypofinder.evaluation`` applies:

- ``split_answer`` reads the hypothesis, the reason and the steps from the text (Markdown headings such as
  "## Hypothesis" / "**Why:**" / "Steps to test it", numbered or bulleted items with the indented lines under them;
  without headings the first sentence outside the list is the hypothesis, list items are the steps, the rest
  is the reason; lead-in lines ending with a colon are dropped);
- a part the model did not give is written "-" (the prose check counts it as junk); steps are kept whole,
  more than three are joined into the third (the report holds three);
- the context's summary holds the answer verbatim; its review is empty (score 0, marked "not reviewed"); the
  synthesis repeats the hypothesis, and ``run.raw`` tells readers (and the scorer) to skip both.
"""

from __future__ import annotations

import re
import time

from hypofinder.models import (
    ConceptRef,
    Context,
    ContextResult,
    Hypothesis,
    HypothesisReport,
    Review,
    Rubric,
    Synthesis,
)
from hypofinder.prompts import load_prompt
from hypofinder.provenance import timed
from hypofinder.quality import strip_markdown

PLAIN_MAX_TOKENS = 600  # as the generator's answer: room for a hypothesis, its reason and a few steps
MISSING = "-"  # a part the model did not give (junk to the prose check: nothing was said)
NOT_REVIEWED = "Not reviewed: one plain call of the model."
GENERIC_CONCEPT = ConceptRef(id="urn:hypofinder:generic", label="Physics")  # not a PhySH id: no grounding


def generic_contexts(query: str, n: int) -> list[Context]:
    """The no-contexts variant: one generic researcher role with no PhySH concept, whatever ``n``."""
    return [Context(role="Physicist", framework="Physics", concepts=[GENERIC_CONCEPT])]


# --------------------------------------------------------------------------- reading the answer

_SECTION_WORDS = (  # first match wins: "Steps to test the hypothesis" is about steps
    (
        "steps",
        {"step", "steps", "test", "testing", "tests", "experiment", "experiments", "experimental", "method"}
        | {"methods", "procedure", "plan", "approach", "verification", "how", "validation"},
    ),
    (
        "rationale",
        {"why", "rationale", "reason", "reasons", "reasoning", "explanation", "justification"}
        | {"mechanism", "background", "motivation", "because"},
    ),
    ("statement", {"hypothesis", "statement", "claim", "prediction"}),
)
_LABEL = re.compile(r"^([A-Za-z][A-Za-z /&'-]{0,40}?)\s*:\s*(.*)$")
_ITEM = re.compile(r"^\s{0,6}([-*+\u2022]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def _section(label: str) -> str | None:
    words = set(re.findall(r"[a-z]+", label.lower()))
    if not words or len(label.split()) > 6:
        return None
    return next((name for name, keys in _SECTION_WORDS if words & keys), None)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _lines(text: str) -> list[tuple[str | None, bool, str]]:
    """(section named by the latest heading or label, is a list item, the line without Markdown). An indented
    line right under an item continues that item; a lead-in line ending with a colon ("Here are the steps:")
    introduces what follows and is dropped."""
    out: list[tuple[str | None, bool, str]] = []
    current, in_item = None, False
    for raw in text.splitlines():
        line = strip_markdown(raw)
        if not line:
            in_item = False
            continue
        item = bool(_ITEM.match(raw))
        label = _LABEL.match(line)
        named = _section(label.group(1)) if label and not item else None
        if named is not None:
            current, line, in_item = named, label.group(2).strip(), False
            if not line:
                continue
        elif in_item and not item and raw[:1].isspace() and out:
            out[-1] = (out[-1][0], True, f"{out[-1][2]} {line}")
            continue
        elif not item and line.endswith(":"):
            continue
        out.append((current, item, line))
        in_item = item
    return out


def _three(steps: list[str]) -> list[str]:
    steps = [s for s in steps if s]
    if len(steps) > 3:
        steps = [*steps[:2], " ".join(steps[2:])]
    return steps + [MISSING] * (3 - len(steps))


def split_answer(text: str) -> tuple[str, str, list[str]]:
    """(hypothesis, reason, three steps) read from a free-text answer; see the module's docstring."""
    lines = _lines(text)
    named = {s for s, _, _ in lines if s}
    if "steps" in named:
        steps: list[str] = []
        for section, item, line in lines:
            if section != "steps":
                continue
            if item or not steps:
                steps.append(line)
            else:
                steps[-1] = f"{steps[-1]} {line}"
        if len(steps) > 1 and not any(item for s, item, _ in lines if s == "steps"):
            steps = _sentences(" ".join(steps))  # a paragraph of steps: one sentence each
        rest = [(s, line) for s, item, line in lines if s != "steps"]
    else:
        steps = [line for _, item, line in lines if item]
        rest = [(s, line) for s, item, line in lines if not item]
    stated = " ".join(line for s, line in rest if s == "statement")
    reason = " ".join(line for s, line in rest if s not in ("statement",))
    if not stated:  # no "Hypothesis" heading: the first sentence is the hypothesis
        first = _sentences(reason)
        stated, reason = (first[0], " ".join(first[1:])) if first else ("", "")
    if not steps and "steps" not in named:  # plain prose: the last three sentences of a long answer
        more = _sentences(reason)
        if len(more) >= 4:
            steps, reason = more[-3:], " ".join(more[:-3])
    return stated or MISSING, reason or MISSING, _three(steps)


# --------------------------------------------------------------------------- the report


def plain_report(finder, query: str, on_progress=None) -> HypothesisReport:
    """One plain call through ``finder``'s model (its cache, seed and temperature), as a one-context report."""
    from hypofinder.pipeline import Progress

    notify = on_progress or (lambda p: None)
    t_start, steps = time.perf_counter(), {}
    usage0 = finder.llm.usage.model_copy()
    prompt = load_prompt("plain")
    with timed(steps, "generate"):
        notify(Progress(step="generate", index=1, total=1, label="plain call", message="one plain call"))
        text = finder.llm.ask_text(prompt.messages(query=query), max_tokens=PLAIN_MAX_TOKENS, task="plain")
    statement, rationale, test_steps = split_answer(text)
    notify(Progress(step="done", message="done"))
    context = generic_contexts(query, 1)[0]
    result = ContextResult(
        id="H1",
        role=context.role,
        framework=context.framework,
        concepts=context.concepts,
        hypothesis=Hypothesis(summary=text, statement=statement, rationale=rationale, steps=test_steps),
        review=Review(
            text=NOT_REVIEWED, rubric=Rubric(novelty=0, plausibility=0, testability=0, specificity=0), score=0
        ),
    )
    return HypothesisReport(
        query=query,
        contexts=[result],
        synthesis=Synthesis(representation=rationale, hypothesis=statement, steps=test_steps),
        run=finder.manifest(
            usage0,
            t_start,
            steps,
            prompt_versions={prompt.name: prompt.version},
            physh_version=None,
            validate_enabled=False,
            library=None,
            rounds=0,
            tournament_enabled=False,
            raw=True,
        ),
    )
