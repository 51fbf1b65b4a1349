"""Page "Design": a wanted property in, defect configurations out (``hypofinder.defects.design``): the best
candidates, the Pareto front (target vs formation energy, with σ) and their CIFs."""

from __future__ import annotations

import io
import zipfile

import altair as alt
import pandas as pd
import streamlit as st

from hypofinder.ui.common import guarded, predictor_hosts

GOALS = ("near a value", "as large as possible", "as small as possible")


def candidates_frame(cands, target: str) -> pd.DataFrame:
    """One row per candidate: composition, the target ± σ, formation energy, interval, domain, front."""
    from hypofinder.models import PropertyPrediction

    rows = []
    for c in cands:
        rows.append(
            {
                "Rank": c.rank,
                "Defects": " + ".join(f"{t}×{n}" if n > 1 else t for t, n in c.composition.items()),
                "Subset": c.subset,
                PropertyPrediction.header(target): getattr(c, target),
                PropertyPrediction.header(target, uncertainty=True): getattr(c, target + "_std"),
                PropertyPrediction.header("formation_energy_per_site"): c.formation_energy_per_site,
                "2σ low": c.interval[0],
                "2σ high": c.interval[1],
                "In domain": c.in_domain,
                "Pareto": c.pareto,
                "Configuration": c.label,
            }
        )
    return pd.DataFrame(rows)


def front_chart(result) -> alt.Chart:
    """Pareto front: the target against the formation energy per site, error bars ±σ of the target."""
    from hypofinder.models import PropertyPrediction

    t = result.target
    df = pd.DataFrame(
        {
            "target": [getattr(c, t) for c in result.pareto],
            "lo": [getattr(c, t) - getattr(c, t + "_std") for c in result.pareto],
            "hi": [getattr(c, t) + getattr(c, t + "_std") for c in result.pareto],
            "ef": [c.formation_energy_per_site for c in result.pareto],
            "defects": [" + ".join(f"{k}×{n}" for k, n in c.composition.items()) for c in result.pareto],
        }
    )
    x = alt.X("ef:Q", title=PropertyPrediction.header("formation_energy_per_site"), scale=alt.Scale(zero=False))
    y_title = PropertyPrediction.header(t)
    points = (
        alt.Chart(df)
        .mark_circle(size=70)
        .encode(x=x, y=alt.Y("target:Q", title=y_title, scale=alt.Scale(zero=False)), tooltip=["defects", "target"])
    )
    bars = alt.Chart(df).mark_rule(opacity=0.5).encode(x=x, y="lo:Q", y2="hi:Q")
    layers = [bars, points]
    if result.value is not None:
        band = pd.DataFrame({"lo": [result.value - result.tolerance], "hi": [result.value + result.tolerance]})
        layers.insert(0, alt.Chart(band).mark_rect(opacity=0.15, color="green").encode(y="lo:Q", y2="hi:Q"))
    return alt.layer(*layers).properties(height=380, title="Pareto front (error bars: ±1σ of the target)")


def cif_zip(cands) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for c in cands:
            z.writestr(f"{c.subset}_rank{c.rank:03d}.cif", c.cif or "")
    return buf.getvalue()


def page() -> None:
    from hypofinder.defects.design import design
    from hypofinder.defects.design_options import DEFAULT_BUDGET, DEFAULT_TOLERANCE, MAX_BUDGET
    from hypofinder.defects.design_space import MAX_COUNT, host_species
    from hypofinder.models import PropertyPrediction

    st.title("Design")
    st.caption(
        "Inverse design: give a property and a value (or ask for the largest or smallest); hypofinder searches "
        "defect compositions and arrangements in the host with the defect predictor and returns the best "
        "candidates, the Pareto front (target, formation energy, uncertainty) and their CIFs."
    )
    loaded = predictor_hosts()
    if loaded is None:
        return
    predictor, names = loaded
    c1, c2, c3 = st.columns(3)
    host = c1.selectbox("Host", names, key="ds_host")
    target = c2.selectbox(
        "Property", PropertyPrediction.targets(), format_func=PropertyPrediction.header, key="ds_target"
    )
    goal = c3.selectbox("Goal", GOALS, key="ds_goal")
    c4, c5, c6, c7 = st.columns(4)
    value = c4.number_input("Value", value=1.2, step=0.05, format="%.3f", key="ds_value")
    tol = c5.number_input("Tolerance", value=DEFAULT_TOLERANCE, min_value=0.001, step=0.01, format="%.3f", key="ds_tol")
    lo, hi = c6.slider("Defects per configuration", 1, MAX_COUNT, (1, 6), key="ds_counts")
    budget = c7.number_input("Budget (predictor calls)", 1, MAX_BUDGET, DEFAULT_BUDGET, step=500, key="ds_budget")
    species = st.multiselect("Species", host_species(host, predictor), key=f"ds_species_{host}")
    if not st.button("Design", type="primary", key="ds_run"):
        return
    bar = st.progress(0.0, text="Searching…")
    result = None
    with guarded("The design run"):
        result = design(
            host,
            target,
            value=value if goal == GOALS[0] else None,
            maximize=None if goal == GOALS[0] else goal == GOALS[1],
            tolerance=tol,
            species=species or None,
            counts=(lo, hi),
            budget=int(budget),
            progress=lambda done, total: bar.progress(min(1.0, done / max(total, 1)), text=f"{done} / {total}"),
            predictor=predictor,
        )
    bar.empty()
    if result is None:
        return
    hit = f"first in tolerance after {result.first_hit} calls; " if result.first_hit else ""
    st.success(
        f"{result.method}: {result.calls} configurations predicted, {result.n_in_domain} in the training domain, "
        f"{result.n_within} within tolerance; {hit}{result.wall_s:.1f} s",
        icon=":material/check_circle:",
    )
    st.subheader("Best candidates", anchor=False)
    st.dataframe(candidates_frame(result.best, target), hide_index=True, key="ds_best")
    if result.pareto:
        st.altair_chart(front_chart(result), key="ds_front")
    st.download_button(
        "Download the CIFs (zip)",
        cif_zip({c.label: c for c in result.best + result.pareto}.values()),
        file_name=f"design_{result.host}_{target}.zip",
        mime="application/zip",
        key="ds_download",
    )
    st.caption(
        "Intervals: prediction ± 2σ, calibrated on held-out (out-of-fold) errors; out-of-domain candidates are "
        "never ranked above in-domain ones. Data: 2DMD (Huang et al., npj 2D Mater. Appl. 7, 6 (2023))."
    )
