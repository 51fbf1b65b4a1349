"""Page "Hypothesis finder": question + settings in, live progress, results, this session's history."""

from __future__ import annotations

import os
import time

import streamlit as st

from hypofinder.settings import RunConfig
from hypofinder.ui import SEED_QUESTION
from hypofinder.ui.common import OPENAI_CHOICE, cache_dir, choice_for, get_finder, guarded, model_choices
from hypofinder.ui.library import library_names

NO_LIBRARY = "None (no grounding)"
MODEL_DEFAULT = "Model default"
HISTORY = "hf_history"  # list of {"report", "when", "model"} dicts, oldest first
OPEN = "hf_open"  # index of the report shown


def _use_example() -> None:
    st.session_state["hf_query"] = SEED_QUESTION


def _open(i: int) -> None:
    st.session_state[OPEN] = i


def _clear_history() -> None:
    st.session_state[HISTORY] = []
    st.session_state.pop(OPEN, None)


def inputs() -> dict | None:
    """Draw the inputs; on Run return the settings, else None."""
    from hypofinder.settings import settings

    cfg = settings().run
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.text_area(
            "Enter your question",
            key="hf_query",
            height=170,
            placeholder="e.g. " + SEED_QUESTION[:140] + "…",
            help=f"A research question in plain words (at most {cfg.max_query_chars} characters).",
        )
        b1, b2 = st.columns([1, 1])
        run = b1.button("Run", type="primary", icon=":material/play_arrow:", key="hf_run", width="stretch")
        b2.button("Use the example question", on_click=_use_example, key="hf_example", width="stretch")
    with right:
        c1, c2 = st.columns(2)
        lo, hi = RunConfig.bounds("contexts")
        contexts = c1.number_input(
            "Number of contexts",
            min_value=int(lo),
            max_value=int(hi),
            value=cfg.contexts,
            step=1,
            key="hf_contexts",
            help=RunConfig.help("contexts"),
        )
        lo, hi = RunConfig.bounds("temperature")
        temperature = c2.slider(
            "Generator temperature",
            min_value=float(lo),
            max_value=float(hi),
            value=cfg.temperature,
            step=0.05,
            key="hf_temperature",
        )
        choices = model_choices()
        options = list(choices)
        choice = st.selectbox("Model", options, index=options.index(choice_for(cfg.model)), key="hf_model")
        model_name, base_url = choices[choice], None
        if choice == OPENAI_CHOICE:
            m1, m2 = st.columns(2)
            served = choice_for(cfg.model) == OPENAI_CHOICE
            model_name = m1.text_input(
                "Model name", value=cfg.model if served else "", key="hf_model_name", placeholder="e.g. gpt-4o-mini"
            )
            base_url = m2.text_input(
                "Base URL",
                value=cfg.base_url or "",
                key="hf_base_url",
                placeholder="http://127.0.0.1:8000/v1",
                help="OpenAI-compatible endpoint; the key comes from OPENAI_API_KEY.",
            )
        validate = st.toggle(
            "Validate with the defect predictor",
            value=cfg.validate_claims,
            key="hf_validate",
            help=RunConfig.help("validate_claims"),
        )
        libraries = [NO_LIBRARY, *library_names()]
        library = st.selectbox(
            "Ground in library",
            libraries,
            key="hf_library",
            help=RunConfig.help("library"),
            index=libraries.index(cfg.library) if cfg.library in libraries else 0,
        )
        r1, r2 = st.columns(2)
        lo, hi = RunConfig.bounds("rounds")
        rounds_options = [MODEL_DEFAULT, *range(int(lo), int(hi) + 1)]
        rounds = r1.selectbox(
            "Revision rounds",
            rounds_options,
            key="hf_rounds",
            help=RunConfig.help("rounds"),
            index=rounds_options.index(cfg.rounds if cfg.rounds is not None else MODEL_DEFAULT),
        )
        tournament_options = {MODEL_DEFAULT: None, "On": True, "Off": False}
        shown = {None: MODEL_DEFAULT, True: "On", False: "Off"}[cfg.tournament]
        tournament = r2.selectbox(
            "Tournament ranking",
            list(tournament_options),
            key="hf_tournament",
            index=list(tournament_options).index(shown),
            help=RunConfig.help("tournament"),
        )
    if not run:
        return None
    return {
        "query": st.session_state.get("hf_query", ""),
        "model": (model_name or "").strip(),
        "base_url": (base_url or "").strip() or None,
        "contexts": int(contexts),
        "temperature": float(temperature),
        "validate": bool(validate),
        "choice": choice,
        "library": None if library == NO_LIBRARY else library,
        "rounds": None if rounds == MODEL_DEFAULT else int(rounds),
        "tournament": tournament_options[tournament],
    }


def run(args: dict) -> None:
    """Check the inputs, run the pipeline with live progress, keep the report in this session's history."""
    from hypofinder.settings import settings
    from hypofinder.ui.progress import run_with_progress

    with guarded("The run"):
        base = settings().run
        query = base.check_query(args["query"])
        if args["choice"] == OPENAI_CHOICE and not args["model"]:
            st.error("Enter the model name served at the endpoint.", icon=":material/error:")
            return
        if args["choice"] == OPENAI_CHOICE and not args["base_url"] and not os.environ.get("OPENAI_API_KEY"):
            st.error(
                "Enter the endpoint's base URL, e.g. http://127.0.0.1:8000/v1 (or set OPENAI_API_KEY "
                "to use api.openai.com).",
                icon=":material/error:",
            )
            return
        run_cfg = base.merged(
            model=args["model"],
            base_url=args["base_url"],
            contexts=args["contexts"],
            temperature=args["temperature"],
            validate=args["validate"],
        )
        run_cfg = run_cfg.model_copy(
            update={
                "base_url": args["base_url"],
                "library": args.get("library"),
                "rounds": args.get("rounds"),
                "tournament": args.get("tournament"),
            }
        )
        finder = get_finder(run_cfg.model_dump_json(), cache_dir())
        report = run_with_progress(finder, query, validate=args["validate"])
        history = st.session_state.setdefault(HISTORY, [])
        history.append({"report": report, "when": time.strftime("%H:%M:%S"), "model": args["choice"]})
        st.session_state[OPEN] = len(history) - 1


def history_sidebar() -> None:
    history = st.session_state.get(HISTORY, [])
    with st.sidebar:
        st.subheader("This session's runs")
        if not history:
            st.caption("Runs you make appear here; click one to open it again.")
            return
        shown = st.session_state.get(OPEN)
        for i in reversed(range(len(history))):
            h = history[i]
            q = h["report"].query
            label = f"{i + 1}. {q[:48]}{'…' if len(q) > 48 else ''}"
            st.button(
                label,
                key=f"hf_hist_{i}",
                on_click=_open,
                args=(i,),
                width="stretch",
                icon=":material/visibility:" if i == shown else ":material/history:",
                help=f"{h['when']} · {h['model']} · {len(h['report'].contexts)} contexts",
            )
        st.button(
            "Clear history", key="hf_hist_clear", on_click=_clear_history, type="tertiary", icon=":material/delete:"
        )


def page() -> None:
    from hypofinder.ui.results import render_report

    st.title("Hypothesis finder")
    st.caption(
        "Ask a research question: hypofinder picks role-based contexts from the PhySH ontology, lets a "
        "language model propose and review a hypothesis in each, checks point-defect claims with a "
        "2D-materials property predictor, and synthesizes a unified representation."
    )
    args = inputs()
    if args is not None:
        run(args)
    history = st.session_state.get(HISTORY, [])
    shown = st.session_state.get(OPEN)
    if shown is not None and 0 <= shown < len(history):
        st.divider()
        with guarded("Showing the result"):
            render_report(history[shown]["report"])
    history_sidebar()
