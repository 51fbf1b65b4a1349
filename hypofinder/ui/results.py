"""A ``HypothesisReport`` on the page, laid out like the seed: contexts, then representation and hypothesis."""

from __future__ import annotations

import re

import altair as alt
import pandas as pd
import streamlit as st

from hypofinder.models import ContextResult, Evidence, HypothesisReport, Synthesis, Validation
from hypofinder.prediction import registry, spec
from hypofinder.render import context_title, contexts_csv, rating_of, record_lines, to_markdown

VERDICT_COLORS = {"supported": "green", "contradicted": "red", "inconclusive": "orange", "out of scope": "gray"}
TREND_UNITS = {"pair_distance": "{}/Å", "defect_count": "{} per defect"}  # {}: the property's unit
VARIABLE_LABELS = {
    "pair_distance": "Defect pair distance (Å)",
    "defect_count": "Number of defects",
    "none": "Configuration",
}


# --------------------------------------------------------------------------- tables and charts (pure)
def overview_frame(report: HypothesisReport) -> pd.DataFrame:
    """One row per context, best first: who, which lead concept, the scores and the evidence verdict."""
    return pd.DataFrame(
        [
            {
                "Context": i,
                "Role": r.role,
                "Concept": r.concepts[0].label,
                "Score": r.review.score,
                "Rank score": round(r.rank_score, 1),
                "Evidence": r.validation.verdict if r.validation else "—",
                **({"Novelty": round(r.novelty.score, 2)} if r.novelty else {}),
                **({"Elo": r.elo} if report.tournament else {}),
            }
            for i, r in enumerate(report.contexts, 1)
        ]
    )


def ranking_frame(report: HypothesisReport) -> pd.DataFrame:
    """Every candidate, best first: Elo ± bootstrap std, its record, review score, evidence, versions;
    near-duplicates merged before the tournament follow, marked as such."""
    rows = []
    for i, r in enumerate(report.contexts, 1):
        g = rating_of(report, r)
        rows.append(
            {
                "Rank": str(i),
                "Id": r.id,
                "Role": r.role,
                "Concept": r.concepts[0].label,
                "Elo": g.elo if g else None,
                "±": g.std if g else None,
                "Won": g.wins if g else None,
                "Drawn": g.draws if g else None,
                "Lost": g.losses if g else None,
                "Review": r.review.score,
                "Evidence": r.validation.verdict if r.validation else "—",
                "Rank score": round(r.rank_score, 1),
                "Versions": len(r.revisions) + 1,
            }
        )
    for m in report.tournament.merged if report.tournament else []:
        rows.append(
            {
                "Rank": f"merged into {m.into}",
                "Id": m.id,
                "Role": m.role,
                "Concept": m.statement,
                "Evidence": f"similarity {m.similarity:.2f}",
            }
        )
    return pd.DataFrame(rows)


def elo_chart(report: HypothesisReport) -> alt.Chart | None:
    """Elo per candidate with ± bootstrap std bars and the start value as a rule; None without a tournament."""
    t = report.tournament
    if t is None or not t.ratings:
        return None
    labels = {r.id: f"{r.id} {r.concepts[0].label}" for r in report.contexts}
    df = pd.DataFrame(
        [
            {
                "candidate": labels.get(g.id, g.id),
                "elo": g.elo,
                "lo": g.elo - g.std,
                "hi": g.elo + g.std,
                "std": g.std,
                "record": f"{g.wins}-{g.draws}-{g.losses}",
            }
            for g in t.ratings
        ]
    )
    y = alt.Y("candidate:N", sort=list(df["candidate"]), title=None)
    base = alt.Chart(df).encode(y=y)
    bars = base.mark_errorbar(ticks=True).encode(x=alt.X("lo:Q", title="Elo", scale=alt.Scale(zero=False)), x2="hi:Q")
    points = base.mark_circle(size=100).encode(
        x="elo:Q",
        tooltip=[
            alt.Tooltip("candidate:N"),
            alt.Tooltip("elo:Q", format=".0f"),
            alt.Tooltip("std:Q", title="±", format=".0f"),
            alt.Tooltip("record:N", title="W-D-L"),
        ],
    )
    start = alt.Chart(pd.DataFrame({"x": [t.start]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    return alt.layer(start, bars, points).properties(title="Elo ± bootstrap std", height=36 * len(df) + 40)


def _shown(predictions) -> list:
    """The properties any of these configurations has a value for (the host's data carry them)."""
    return [s for s in registry() if any(s.of(p)[0] is not None for p in predictions)]


def evidence_frame(v: Validation) -> pd.DataFrame:
    """The predictor's configurations as a table (each property in its unit; ``±`` columns: uncertainty, 1σ)."""
    var = VARIABLE_LABELS.get(v.request.variable if v.request else "pair_distance", "Variable")
    shown = _shown(v.predictions)
    rows = []
    for p in v.predictions:
        row = {"Configuration": p.label, "Defects": " ".join(p.defects), var: p.variable_value}
        for s in shown:
            row[s.header()], row[s.header(uncertainty=True)] = s.of(p)
        rows.append(row | {"In domain": p.in_domain})
    return pd.DataFrame(rows)


def number_columns() -> dict:
    """Three decimals for every property column of the evidence tables."""
    fmt = st.column_config.NumberColumn(format="%.3f")
    return {s.header(u): fmt for s in registry() for u in (False, True)}


def planned_frame(e: Evidence) -> pd.DataFrame:
    """Every configuration behind the planned facts, one table, with the fact it belongs to ([E1], ...)."""
    parts = []
    for fid, f in zip(e.fact_ids(), e.facts):
        df = evidence_frame(f)
        df.insert(0, "Fact", fid)
        parts.append(df.rename(columns={df.columns[3]: "Variable", "Configuration": "Planned configuration"}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def evidence_chart(v: Validation) -> alt.Chart | None:
    """Predicted target vs the claim's variable, with ±std error bars; None without predictions."""
    if not v.predictions:
        return None
    ps = spec(v.request.target if v.request else "homo_lumo_gap")
    variable = v.request.variable if v.request else "pair_distance"
    rows = []
    for p in v.predictions:
        y, s = ps.of(p)
        if y is None:
            continue
        s = s or 0.0
        rows.append(
            {
                "label": p.label,
                "x": p.variable_value,
                "y": y,
                "lo": y - s,
                "hi": y + s,
                "std": s,
                "domain": "in domain" if p.in_domain else "out of domain",
            }
        )
    if not rows:
        return None
    df = pd.DataFrame(rows)
    numeric = df["x"].notna().all()
    x_title = VARIABLE_LABELS.get(variable, "Variable") if numeric else "Configuration"
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False)) if numeric else alt.X("label:N", title=x_title)
    y_title = ps.label
    base = alt.Chart(df).encode(x=x)
    points = base.mark_circle(size=90).encode(
        y=alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color(
            "domain:N",
            title="Predictor domain",
            scale=alt.Scale(domain=["in domain", "out of domain"], range=["#1f77b4", "#d62728"]),
        ),
        tooltip=[
            alt.Tooltip("label:N", title="Configuration"),
            alt.Tooltip("y:Q", title=y_title, format=".3f"),
            alt.Tooltip("std:Q", title="±", format=".3f"),
        ],
    )
    bars = base.mark_errorbar(ticks=True).encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q")
    layers = [bars, points]
    if numeric and len(df) > 1:
        layers.insert(0, base.mark_line(color="#9ecae1").encode(y="y:Q"))
    title = f"Predicted {ps.title} vs {x_title.split(' (')[0].lower()}"
    return alt.layer(*layers).properties(title=title, height=260)


def file_stem(query: str) -> str:
    """A short file name from the question."""
    words = re.findall(r"[A-Za-z0-9]+", query.lower())[:6]
    return "hypofinder-" + ("-".join(words) or "report")


# --------------------------------------------------------------------------- page parts
def render_evidence(v: Validation | None, key: str) -> None:
    if v is None:
        return
    icon = {"supported": ":material/check_circle:", "contradicted": ":material/cancel:"}.get(
        v.verdict, ":material/help:"
    )
    with st.expander(f"Predictor evidence: {v.verdict}", expanded=bool(v.predictions), icon=icon):
        st.markdown(f":{VERDICT_COLORS[v.verdict]}-badge[{v.verdict}] {v.summary}")
        if v.request is not None:
            r, ps = v.request, spec(v.request.target)
            per = TREND_UNITS.get(r.variable, "{} per unit").format(ps.unit)
            st.caption(
                f"Claim checked: {' + '.join(r.defects)} in {r.host}, {ps.title} "
                f"{r.direction.replace('_', ' ')} with {VARIABLE_LABELS[r.variable].split(' (')[0].lower()}"
                + (f" (trend {v.trend:+.3f} {per})" if v.trend is not None else "")
            )
        if v.predictions:
            st.dataframe(
                evidence_frame(v),
                hide_index=True,
                key=f"{key}_table",
                column_config=number_columns(),
            )
            chart = evidence_chart(v)
            if chart is not None:
                st.altair_chart(chart, key=f"{key}_chart")
            st.caption(
                "Predictions: defect-graph model trained on 2DMD (Huang et al., npj 2D Mater. Appl. 7, 6 "
                "(2023); Kazeev et al., npj Comput. Mater. 9, 113 (2023)). Error bars: ± uncertainty (1σ)."
            )


def render_planned(e: Evidence | None, key: str) -> None:
    """The predictor facts the generator was given, before its hypothesis: sentences, a table and a plot."""
    if e is None or not e.facts:
        return
    with st.expander(
        f"Planned evidence: {len(e.facts)} predictor fact{'s' if len(e.facts) > 1 else ''} given to the generator",
        expanded=True,
        icon=":material/science:",
    ):
        st.markdown("\n".join(f"- **[{fid}]** {f.summary}" for fid, f in zip(e.fact_ids(), e.facts)))
        if e.assumptions:
            st.caption("Assumed: " + "; ".join(e.assumptions))
        st.dataframe(
            planned_frame(e),
            hide_index=True,
            key=f"{key}_table",
            column_config=number_columns(),
        )
        for fid, f in zip(e.fact_ids(), e.facts):
            chart = evidence_chart(f)
            if chart is not None:
                st.altair_chart(chart.properties(title=f"[{fid}] {chart.title}"), key=f"{key}_{fid}_chart")


def render_ranking(report: HypothesisReport) -> None:
    """The tournament: every candidate with Elo ± uncertainty, wins and losses with reasons, and its versions."""
    t = report.tournament
    if t is None:
        return
    with st.container(border=True):
        st.subheader("Ranking", anchor="ranking")
        st.caption(
            f"{len(t.matches)} pairwise matches ({t.pairing}), each judged twice with the order swapped; a "
            f"split decision is a draw. Elo starts at {t.start:g}, K = {t.k:g}; ± is the std over "
            f"{t.bootstrap} bootstrap resamples of the matches. Rank score = 0.6 × Elo score + 0.4 × review "
            "score + evidence bonus."
        )
        st.dataframe(
            ranking_frame(report),
            hide_index=True,
            key="ranking",
            column_config={
                "Elo": st.column_config.NumberColumn(format="%.0f"),
                "±": st.column_config.NumberColumn(format="%.0f", help="Bootstrap std"),
            },
        )
        chart = elo_chart(report)
        if chart is not None:
            st.altair_chart(chart, key="elo_chart")
        for r in report.contexts:
            with st.expander(f"{r.id} {r.concepts[0].label}: wins, losses and versions"):
                st.markdown("\n".join(f"- {line.strip().lstrip('- ')}" for line in record_lines(report, r)))


def render_context(i: int, r: ContextResult) -> None:
    with st.container(border=True):
        st.subheader(context_title(i, r), anchor=f"context-{i}")
        st.caption(
            "PhySH concepts: " + " · ".join(f"{c.label}" + (f" ({c.facet})" if c.facet else "") for c in r.concepts)
        )
        left, right = st.columns([3, 1], gap="large")
        with left:
            st.markdown(f"**Summary.** {r.summary}")
            render_planned(r.evidence, key=f"plan_{i}")
            st.markdown(f"**Hypothesis.** {r.hypothesis.statement}")
            st.markdown(f"**Rationale.** {r.hypothesis.rationale}")
            st.markdown("\n".join(f"{j}. {s}" for j, s in enumerate(r.hypothesis.steps, 1)))
            st.markdown(f"**Review.** {r.review.text}")
            if r.revisions:
                with st.expander(
                    f"Revision history ({len(r.revisions)} earlier version{'s' * (len(r.revisions) > 1)})"
                ):
                    for j, v in enumerate(r.revisions, 1):
                        verdict = f" · evidence {v.verdict}" if v.verdict else ""
                        st.markdown(
                            f"**Version {j}** (score {v.score}{verdict}). {v.statement}\n\n_Critique:_ {v.critique}"
                        )
        with right:
            delta = r.rank_score - r.review.score
            if r.elo is None:
                st.metric(
                    "Score",
                    r.review.score,
                    delta=f"{delta:+.0f} evidence" if delta else None,
                    help="Reviewer score 0-100; the delta is the predictor evidence's effect on the ranking.",
                )
            else:
                st.metric(
                    "Rank score",
                    f"{r.rank_score:.0f}",
                    help="0.6 × Elo score + 0.4 × review score + evidence bonus; Elo score = 50 + (Elo − start) / 2",
                )
                st.caption(f"Elo {r.elo:.0f} · review score {r.review.score}")
            k = r.review.rubric
            for name, value in (
                ("Novelty", k.novelty),
                ("Plausibility", k.plausibility),
                ("Testability", k.testability),
                ("Specificity", k.specificity),
            ):
                st.progress(value / 100, text=f"{name} {value}")
        render_evidence(r.validation, key=f"ev_{i}")
        if r.sources or r.novelty:
            from hypofinder.ui.library import sources_view

            novelty = f" · novelty {r.novelty.score:.2f}" if r.novelty else ""
            flags = f" · {len(r.citation_flags)} citation flag(s)" if r.citation_flags else ""
            with st.expander(
                f"Sources from the library ({len(r.sources)}){novelty}{flags}", icon=":material/local_library:"
            ):
                sources_view(r.sources, r.novelty, r.citation_flags)


def render_synthesis(s: Synthesis) -> None:
    with st.container(border=True):
        st.subheader("Representation and Hypothesis", anchor="representation-and-hypothesis")
        st.markdown(f"**Representation.** {s.representation}")
        st.markdown(f"**Hypothesis.** {s.hypothesis}")
        st.markdown("\n".join(f"{j}. {step}" for j, step in enumerate(s.steps, 1)))
        render_evidence(s.validation, key="ev_synthesis")


def render_report(report: HypothesisReport) -> None:
    """The whole result: overview, contexts, synthesis, run facts, JSON and downloads."""
    st.header("Results", anchor="results")
    st.markdown(f"**Question.** {report.query}")
    st.dataframe(
        overview_frame(report),
        hide_index=True,
        key="overview",
        column_config={
            "Context": st.column_config.NumberColumn(width="small"),
            "Role": st.column_config.TextColumn(width="medium"),
            "Concept": st.column_config.TextColumn(width="medium"),
            "Score": st.column_config.ProgressColumn(
                "Score", min_value=0, max_value=100, format="%d", width="medium", help="Reviewer score (0-100)"
            ),
            "Rank score": st.column_config.NumberColumn(
                width="small", help="Score with the predictor evidence; contexts are ranked by it"
            ),
            "Evidence": st.column_config.TextColumn(width="small", help="Defect-predictor verdict"),
        },
    )
    render_ranking(report)
    for i, r in enumerate(report.contexts, 1):
        render_context(i, r)
    render_synthesis(report.synthesis)

    run = report.run
    st.caption(
        f"Model {run.model} ({run.provider}) · temperature {run.temperature} · seed {run.seed} · "
        f"{run.prompt_tokens}+{run.completion_tokens} tokens · {run.llm_calls} LLM calls · "
        f"{run.seconds:.1f} s{' · served from the cache' if run.cached else ''} · "
        f"PhySH {run.physh_version or '?'} · hypofinder {run.hypofinder_version}"
    )
    with st.expander("Full result (JSON)", icon=":material/data_object:"):
        st.json(report.model_dump(mode="json"), expanded=2)
    stem = file_stem(report.query)
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Download JSON",
        report.model_dump_json(indent=2),
        f"{stem}.json",
        "application/json",
        key="dl_json",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    c2.download_button(
        "Download Markdown",
        to_markdown(report),
        f"{stem}.md",
        "text/markdown",
        key="dl_md",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    c3.download_button(
        "Download contexts (CSV)",
        contexts_csv(report),
        f"{stem}-contexts.csv",
        "text/csv",
        key="dl_csv",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )


__all__ = [
    "elo_chart",
    "evidence_chart",
    "evidence_frame",
    "file_stem",
    "overview_frame",
    "planned_frame",
    "ranking_frame",
    "render_report",
]
