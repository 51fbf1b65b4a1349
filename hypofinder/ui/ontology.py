"""Page "Ontology explorer": search PhySH; see a concept's facet, discipline, hierarchy, role and framework."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hypofinder.ui.common import cache_dir, guarded, ontology_ready, show_error

ANY = "Any"
CURRENT = "onto_current"  # id of the concept shown (set by a hit pick or a neighbour click)


def hits_frame(hits) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Concept": h.label,
                "Role": h.role,
                "Framework": h.framework,
                "Facet": h.facet or "—",
                "Discipline": h.discipline or "—",
                "Score": round(h.score, 3),
            }
            for h in hits
        ]
    )


def _go(concept_id: str) -> None:
    st.session_state[CURRENT] = concept_id


def _picked() -> None:
    st.session_state.pop(CURRENT, None)


def concept_view(concept_id: str) -> None:
    """Everything PhySH says about one concept; neighbours are buttons that open them."""
    from hypofinder import ontology

    c = ontology.get_concept(concept_id)
    with st.container(border=True):
        st.subheader(c.label, anchor=False)
        st.caption(c.id)
        if c.deprecated:
            st.warning("Deprecated in PhySH: never offered as a context.")
        cols = st.columns(4)
        cols[0].markdown(f"**Facet**  \n{c.facet or '—'}")
        cols[1].markdown(f"**Discipline**  \n{c.discipline or '—'}")
        cols[2].markdown(f"**Role**  \n{c.role or '—'}")
        cols[3].markdown(f"**Framework**  \n{c.framework or '—'}")
        more = []
        if len(c.facets) > 1:
            more.append("all facets: " + ", ".join(c.facets))
        if len(c.disciplines) > 1:
            more.append("all disciplines: " + ", ".join(c.disciplines))
        if c.inherited:
            more.append("facet and discipline inherited from broader concepts")
        if more:
            st.caption(" · ".join(more))
        if c.scope_note:
            st.info(c.scope_note, icon=":material/info:")
        if c.alt_labels:
            st.markdown("**Also called:** " + ", ".join(c.alt_labels))
        cols = st.columns(3)
        for col, title, links in (
            (cols[0], "Broader", c.broader),
            (cols[1], "Narrower", c.narrower),
            (cols[2], "Related", c.related),
        ):
            with col:
                st.markdown(f"**{title}** ({len(links)})")
                if not links:
                    st.caption("none")
                for link in links[:40]:
                    st.button(
                        link.label,
                        key=f"onto_{title}_{link.id}",
                        on_click=_go,
                        args=(link.id,),
                        type="tertiary",
                        icon=":material/arrow_forward:",
                    )
                if len(links) > 40:
                    st.caption(f"… and {len(links) - 40} more")


def page() -> None:
    from hypofinder import ontology

    st.title("Ontology explorer")
    st.caption(
        "Search the Physics Subject Headings (PhySH 2.7.0, American Physical Society) and see how "
        "hypofinder reads a concept: facet, discipline, place in the hierarchy, and the researcher "
        "role and framework it maps to when it becomes a context."
    )
    try:
        ontology_ready(cache_dir())
        facets, disciplines = ontology.facets(), ontology.disciplines()
    except Exception as err:  # noqa: BLE001 - shown as one line
        show_error(err, "Opening the PhySH index")
        return
    c1, c2, c3, c4 = st.columns([4, 2, 2, 1])
    query = c1.text_input(
        "Search PhySH",
        key="onto_query",
        on_change=_picked,
        placeholder="e.g. domain walls, band structure, point defects",
    )
    facet = c2.selectbox("Facet", [ANY] + facets, key="onto_facet", on_change=_picked)
    discipline = c3.selectbox("Discipline", [ANY] + disciplines, key="onto_discipline", on_change=_picked)
    k = c4.number_input("Results", min_value=1, max_value=50, value=10, key="onto_k")
    hits = []
    if query.strip():
        with guarded("The search"), st.spinner("Searching PhySH…"):
            hits = ontology.search(
                query,
                k=int(k),
                facet=None if facet == ANY else facet,
                discipline=None if discipline == ANY else discipline,
            )
            if not hits:
                st.info("No PhySH concept matches; try other words or drop a filter.")
    if hits:
        st.dataframe(
            hits_frame(hits),
            hide_index=True,
            key="onto_hits",
            column_config={
                "Concept": st.column_config.TextColumn(width="medium"),
                "Role": st.column_config.TextColumn(width="medium"),
                "Framework": st.column_config.TextColumn(width="medium"),
                "Facet": st.column_config.TextColumn(width="medium"),
                "Discipline": st.column_config.TextColumn(width="medium"),
                "Score": st.column_config.NumberColumn(format="%.3f", width="small"),
            },
        )
        labels = [f"{h.label} — {h.role}" for h in hits]
        pick = st.selectbox(
            "Show concept", range(len(hits)), format_func=lambda i: labels[i], key="onto_pick", on_change=_picked
        )
        current = st.session_state.get(CURRENT) or hits[pick].id
    else:
        current = st.session_state.get(CURRENT)
    with st.expander("Open a concept by label or PhySH DOI"):
        st.text_input(
            "Label or DOI",
            key="onto_lookup",
            placeholder="e.g. Magnetic domains",
            on_change=lambda: _go(st.session_state["onto_lookup"]),
        )
    if current:
        with guarded("Showing the concept"):
            concept_view(current)
