"""Live progress of a pipeline run: ``Progress`` events -> a bar fraction and a line for people."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

import streamlit as st

from hypofinder.models import HypothesisReport
from hypofinder.pipeline import Progress

# Share of the progress bar each step covers (start, end).
SPANS = {
    "contexts": (0.0, 0.05),
    "plan": (0.05, 0.06),
    "evidence": (0.06, 0.09),
    "ground": (0.09, 0.1),
    "generate": (0.1, 0.36),
    "validate": (0.36, 0.44),
    "review": (0.44, 0.62),
    "revise": (0.62, 0.82),
    "tournament": (0.82, 0.9),
    "synthesize": (0.9, 0.99),
    "done": (1.0, 1.0),
}

_DOING = {
    "generate": "generating a hypothesis",
    "validate": "checking its claim with the defect predictor",
    "review": "reviewing the hypothesis",
    "revise": "revising after the critique, then reviewing again",
}


def fraction(p: Progress) -> float:
    """Where the bar stands when ``p`` starts (0.0-1.0)."""
    lo, hi = SPANS[p.step]
    if p.index and p.total:
        return lo + (hi - lo) * (p.index - 1) / p.total
    return lo


def describe(p: Progress, validate: bool = True) -> str:
    """``Progress`` as one line, naming the context being worked on."""
    if p.step == "contexts":
        return "Searching PhySH for role-based contexts"
    if p.step == "plan":
        return "Planning the system, property and techniques from PhySH for each context"
    if p.step == "evidence":
        return "Planning predictor evidence for the question"
    if p.step == "ground":
        return "Finding sources in the library for each context"
    if p.step in _DOING:
        doing = _DOING[p.step] if validate or p.step != "validate" else "validation is off, skipping"
        where = f"Context {p.index} of {p.total}" if p.index and p.total else "Contexts"
        about = f" ({p.label})" if getattr(p, "label", None) else ""
        return f"{where}{about}: {doing}"
    if p.step == "tournament":
        return "Comparing the hypotheses pairwise (each match judged in both orders)"
    if p.step == "synthesize":
        return "Synthesizing a representation and hypothesis from all contexts"
    return "Served from the cache" if "cache" in p.message else "Done"


def run_with_progress(finder, query: str, validate: bool = True) -> HypothesisReport:
    """Run ``finder.find(query)`` in a worker thread while an ``st.status`` box shows each step.

    The worker never touches Streamlit; this (script) thread drains its Progress events. If the
    script is stopped meanwhile, the worker finishes on its own and its result is dropped.
    """
    events: queue.Queue[Progress] = queue.Queue()
    result: Future[HypothesisReport] = Future()

    def work() -> None:
        try:
            result.set_result(finder.find(query, on_progress=events.put))
        except BaseException as err:  # noqa: BLE001 - handed to the script thread
            result.set_exception(err)

    t0 = time.perf_counter()
    with st.status("Finding hypotheses…", expanded=True) as status:
        bar = st.progress(0.0, text="Starting…")
        threading.Thread(target=work, name="hypofinder-run", daemon=True).start()
        while True:
            try:
                p = events.get(timeout=0.1)
            except queue.Empty:
                if result.done() and events.empty():
                    break
                continue
            line = describe(p, validate)
            bar.progress(fraction(p), text=line)
            status.update(label=f"{line}…" if p.step != "done" else line, expanded=True)
            if p.step != "done":
                st.caption(f"{time.perf_counter() - t0:5.1f} s · {line}")
        try:
            report = result.result()
        except BaseException:
            status.update(label="The run failed", state="error", expanded=False)
            raise
        bar.progress(1.0, text="Done")
        took = "served from the cache" if report.run.cached else f"in {time.perf_counter() - t0:.1f} s"
        status.update(label=f"Found {len(report.contexts)} hypotheses {took}", state="complete", expanded=False)
    return report
