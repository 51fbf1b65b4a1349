"""Page "Defect predictor": CIFs of defective 2D supercells in, predicted properties and defect graphs out."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from hypofinder.ui.common import guarded, predictor_hosts

AUTO = "Detect from the structure"


def predictions_frame(preds) -> pd.DataFrame:
    """One row per prediction: every predicted property and its uncertainty (± columns, 1σ)."""
    from hypofinder.models import PropertyPrediction

    rows = []
    for p in preds:
        row = {"File": p.file, "Host": p.host or "—", "Subset": p.subset or "—", "Defects": " ".join(p.defects)}
        for t in PropertyPrediction.targets():
            row[PropertyPrediction.header(t)] = getattr(p, t)
            row[PropertyPrediction.header(t, uncertainty=True)] = getattr(p, t + "_std")
        rows.append(row | {"In domain": p.in_domain, "Notes": p.error or "; ".join(p.domain_notes)})
    return pd.DataFrame(rows)


def graph_frames(g) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(nodes, edges) of a DefectGraph; each unordered pair once."""
    tokens = g.tokens
    nodes = pd.DataFrame(
        {
            "Defect": [f"{i}: {t}" for i, t in enumerate(tokens)],
            "Token": tokens,
            "Site": g.site,
            "x (Å)": g.xy[:, 0],
            "y (Å)": g.xy[:, 1],
            "Height (Å)": g.height,
        }
    )
    src, dst = g.edge_index
    keep = src < dst
    edges = pd.DataFrame(
        {
            "From": [f"{i}: {tokens[i]}" for i in src[keep]],
            "To": [f"{j}: {tokens[j]}" for j in dst[keep]],
            "Distance (Å)": g.distance[keep],
            "Δz (Å)": g.dz[keep],
        }
    )
    return nodes, edges


def graph_chart(g, host) -> alt.Chart:
    """Defects (coloured) on the faint pristine supercell, with edges between defect pairs."""
    from hypofinder.defects.hosts import pristine_supercell

    pristine = pristine_supercell(host)
    cart = pristine.cart_coords
    atoms = pd.DataFrame({"x": cart[:, 0], "y": cart[:, 1], "element": [s.specie.symbol for s in pristine]})
    nodes, _ = graph_frames(g)
    src, dst = g.edge_index
    keep = src < dst
    edges = pd.DataFrame(
        {
            "x": g.xy[src[keep], 0],
            "y": g.xy[src[keep], 1],
            "x2": g.xy[dst[keep], 0],
            "y2": g.xy[dst[keep], 1],
            "d": g.distance[keep],
        }
    )
    xs, ys = np.r_[cart[:, 0], g.xy[:, 0]], np.r_[cart[:, 1], g.xy[:, 1]]
    half = max(np.ptp(xs), np.ptp(ys)) / 2 + 1.0  # equal scales on both axes: no distorted lattice
    cx, cy = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    x_scale = alt.Scale(domain=[float(cx - half), float(cx + half)], nice=False)
    y_scale = alt.Scale(domain=[float(cy - half), float(cy + half)], nice=False)
    size = 520
    lattice = (
        alt.Chart(atoms)
        .mark_circle(size=14, opacity=0.45)
        .encode(
            x=alt.X("x:Q", title="x (Å)", scale=x_scale),
            y=alt.Y("y:Q", title="y (Å)", scale=y_scale),
            color=alt.Color(
                "element:N",
                title="Host atoms",
                scale=alt.Scale(range=["#bdbdbd", "#737373"]),
                legend=alt.Legend(orient="right"),
            ),
        )
    )
    layers = [lattice]
    if len(edges):
        layers.append(
            alt.Chart(edges)
            .mark_rule(strokeWidth=2, color="#ff7f0e", opacity=0.8)
            .encode(
                x="x:Q",
                y="y:Q",
                x2="x2:Q",
                y2="y2:Q",
                tooltip=[alt.Tooltip("d:Q", title="in-plane distance (Å)", format=".2f")],
            )
        )
    layers.append(
        alt.Chart(nodes)
        .mark_point(size=260, filled=True, shape="diamond", stroke="black", strokeWidth=1, opacity=1)
        .encode(
            x="x (Å):Q",
            y="y (Å):Q",
            fill=alt.Fill("Token:N", title="Defect", scale=alt.Scale(scheme="category10")),
            tooltip=["Defect:N", "Site:Q", alt.Tooltip("Height (Å):Q", format=".2f")],
        )
    )
    title = f"Defect graph on the pristine {g.subset} supercell"
    return alt.layer(*layers).properties(width=size, height=size, title=title)


def page() -> None:
    from hypofinder.defects import defect_graph, known_hosts

    st.title("Defect predictor")
    st.caption(
        "Upload unrelaxed defective supercells (CIF) of a 2D host from the 2DMD family (MoS2, WSe2, h-BN, "
        "GaSe, InSe, black P): hypofinder matches them to the pristine host, builds the sparse defect graph "
        "and predicts the formation energy per defect site, the HOMO–LUMO gap, the HOMO and LUMO levels "
        "(from the host's valence-band maximum) and, for spin-polarised hosts, the magnetization."
    )
    loaded = predictor_hosts()
    if loaded is None:
        return
    predictor, names = loaded
    c1, c2 = st.columns([3, 1])
    files = c1.file_uploader("Upload CIF file(s)", type=["cif"], accept_multiple_files=True, key="df_files")
    host = c2.selectbox(
        "Host", [AUTO] + names, key="df_host", help="Pick the host if the lattice could match more than one."
    )
    if not files:
        st.info("Upload one or more CIF files to see predictions.", icon=":material/upload_file:")
        return
    host_arg = None if host == AUTO else host
    texts, names_up = [], []
    for f in files:
        try:
            texts.append(f.getvalue().decode("utf-8"))
        except UnicodeDecodeError:
            texts.append("")
        names_up.append(f.name)
    preds = []
    with guarded("The prediction"):
        with st.spinner("Predicting…"):
            raw = predictor.predict(texts, host=host_arg)
        preds = [p.model_copy(update={"file": n}) for p, n in zip(raw, names_up, strict=True)]
    if not preds:
        return
    st.subheader("Predictions", anchor=False)
    st.dataframe(
        predictions_frame(preds),
        hide_index=True,
        key="df_table",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in predictions_frame(preds).columns if "(" in c
        },
    )
    for p in preds:
        if p.error:
            st.error(f"{p.file}: {p.error}", icon=":material/error:")
    ok = [i for i, p in enumerate(preds) if not p.error]
    if not ok:
        return
    st.subheader("Defect graph", anchor=False)
    i = st.selectbox(
        "Structure", ok, format_func=lambda j: f"{preds[j].file} ({' '.join(preds[j].defects)})", key="df_pick"
    )
    with guarded("Drawing the defect graph"):
        g = defect_graph(texts[i], preds[i].host)
        nodes, edges = graph_frames(g)
        left, right = st.columns([3, 2], gap="large")
        with left:
            st.altair_chart(graph_chart(g, known_hosts()[g.subset]), key="df_chart")
        with right:
            st.markdown(f"**Nodes** ({len(nodes)} defects, supercell {g.extra.get('supercell')})")
            st.dataframe(
                nodes.drop(columns=["Token"]),
                hide_index=True,
                key="df_nodes",
                column_config={
                    c: st.column_config.NumberColumn(format="%.2f") for c in ("x (Å)", "y (Å)", "Height (Å)")
                },
            )
            st.markdown(f"**Edges** ({len(edges)} defect pairs; minimum-image in-plane distances)")
            st.dataframe(
                edges,
                hide_index=True,
                key="df_edges",
                column_config={c: st.column_config.NumberColumn(format="%.2f") for c in ("Distance (Å)", "Δz (Å)")},
            )
    st.caption(
        "Model: sparse defect graphs (Kazeev et al., npj Comput. Mater. 9, 113 (2023)) trained on 2DMD "
        "(Huang et al., npj 2D Mater. Appl. 7, 6 (2023)). ± is the uncertainty (1σ), calibrated on held-out "
        "errors."
    )
