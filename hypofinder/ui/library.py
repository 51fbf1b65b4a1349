"""Page "Library": upload papers (PDF, BibTeX, JSONL/CSV, text), list libraries, search one; and the
view of a context's sources and novelty that the results page shows for grounded runs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from hypofinder.ui.common import guarded

UPLOAD_TYPES = ["pdf", "bib", "jsonl", "csv", "txt", "md"]
NEW = "➕ New library…"


def library_names() -> list[str]:
    from hypofinder.library.store import names

    return names()


def libraries_frame() -> pd.DataFrame:
    from hypofinder import library

    return pd.DataFrame(
        [
            {"Library": i.name, "Files": i.files, "Records": i.documents, "Passages": i.chunks}
            for i in library.libraries()
        ]
    )


def add_uploads(name: str, uploads) -> None:
    """Write the uploads under their own names in a temp folder, add them, report per file."""
    from hypofinder import library

    with tempfile.TemporaryDirectory(prefix="hypofinder-upload-") as tmp:
        paths = []
        for up in uploads:
            path = Path(tmp) / Path(up.name).name
            path.write_bytes(up.getvalue())
            paths.append(path)
        with st.spinner(f"Adding {len(paths)} file(s) to {name}…"):
            report = library.add(name, paths)
    prefix = tmp + "/"
    for problem in report.problems:
        st.warning(problem.replace(prefix, ""), icon=":material/warning:")
    if report.added:
        records = sum(f.documents for f in report.added)
        st.success(
            f"Added {len(report.added)} file(s) to **{name}**: {records} records in {report.seconds:.1f} s.",
            icon=":material/check_circle:",
        )
    if report.skipped:
        st.info(f"Already in {name}: " + ", ".join(Path(p).name for p in report.skipped))


def sources_view(sources, novelty=None, flags=()) -> None:
    """A grounded context's numbered sources, its novelty and any citation flags."""
    if novelty is not None:
        closest = (
            f" — closest paper: *{novelty.closest_title}* (similarity {novelty.similarity:.2f})"
            if novelty.closest_title
            else ""
        )
        st.markdown(f"**Novelty against the library:** {novelty.score:.2f}{closest}")
        st.progress(novelty.score)
    for i, s in enumerate(sources, 1):
        where = f", p. {s.page}" if s.page else ""
        year = f" ({s.year})" if s.year else ""
        st.markdown(f"**[S{i}]** {s.title}{year} · `{s.id}`{where} · score {s.score:.2f}")
        st.caption(s.text)
    for f in flags:
        why = "no such source" if f.problem == "unknown source" else f"source does not support it ({f.support:.2f})"
        st.warning(f"[{f.ref}] {why}: “{f.sentence}”", icon=":material/flag:")


def page() -> None:
    from hypofinder import library

    st.title("Library")
    st.caption(
        "Bring your own papers: hypotheses are grounded in them, cite them as [S1]…, and get a novelty "
        "score against them. Everything stays on this machine."
    )
    names = library_names()

    with st.container(border=True):
        st.subheader("Add papers", anchor=False)
        cols = st.columns([1, 1])
        choice = cols[0].selectbox("Library", [*names, NEW], key="lib_add_choice")
        name = (
            cols[1].text_input(
                "New library name", key="lib_new_name", placeholder="e.g. my-reading", disabled=choice != NEW
            )
            if choice == NEW
            else choice
        )
        uploads = st.file_uploader(
            "PDF, BibTeX, JSONL/CSV (id, title, abstract, year, doi, url), text or Markdown",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            key="lib_uploads",
        )
        if st.button("Add to library", type="primary", disabled=not (uploads and name)):
            with guarded("Adding papers"):
                add_uploads(name, uploads)
                names = library_names()

    if not names:
        st.info("No libraries yet: add some papers above.")
        return
    st.subheader("Libraries", anchor=False)
    with guarded("Listing libraries"):
        st.dataframe(libraries_frame(), hide_index=True, width="stretch")

    with st.container(border=True):
        st.subheader("Search", anchor=False)
        cols = st.columns([1, 3, 1])
        lib = cols[0].selectbox("Library", names, key="lib_search_name")
        text = cols[1].text_input("Search text", key="lib_search_text", placeholder="what are you looking for?")
        k = cols[2].number_input("Papers", min_value=1, max_value=50, value=5, key="lib_search_k")
        if text.strip():
            with guarded("Search"):
                for i, hit in enumerate(library.search(lib, text, k=int(k)), 1):
                    where = f", p. {hit.page}" if hit.page else ""
                    st.markdown(f"**{i}. {hit.title}** · `{hit.id}`{where} · score {hit.score:.3f}")
                    st.caption(hit.text)

    with st.expander("Remove a library"):
        gone = st.selectbox("Library to remove", names, key="lib_remove_name")
        if st.button(f"Remove {gone}", key="lib_remove"):
            with guarded("Removing the library"):
                info = library.remove(gone)
                st.success(f"Removed {info.name} ({info.documents} records). Your files were not touched.")
                st.rerun()
