"""Literature libraries: bring your own papers, ground hypotheses in them, cite them, measure novelty.

    add(name, paths) -> AddReport                 PDF, BibTeX, JSONL/CSV records, text/Markdown; idempotent
    libraries() -> list[LibraryInfo]; remove(name) -> LibraryInfo
    search(name, text, k=10) -> list[Source]      one best passage per paper, best first
    sources_for(library, query, concept_text, k=4) -> list[Source]     a context's numbered sources
    check_citations(text, sources) -> list[CitationFlag]
    novelty(library, text) -> Novelty

Everything is offline: all-MiniLM-L6-v2 (the ontology room's embedder) and a persistent Chroma
store under ``<cache-dir>/library``. Libraries are opened by name with ``open_library``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hypofinder.errors import BadInputError
from hypofinder.library.citations import SUPPORT_THRESHOLD, check_citations
from hypofinder.library.ingest import expand, read
from hypofinder.library.models import AddReport, FileEntry, LibraryInfo
from hypofinder.library.novelty import calibrate, novelty
from hypofinder.library.search import search, sources_for
from hypofinder.library.store import (
    Library,
    check_name,
    drop,
    file_hash,
    locked,
    names,
    open_library,
)
from hypofinder.library.store import remove as _remove

__all__ = [
    "SUPPORT_THRESHOLD",
    "AddReport",
    "Library",
    "LibraryInfo",
    "add",
    "check_citations",
    "libraries",
    "novelty",
    "open_library",
    "remove",
    "search",
    "sources_for",
]

Log = Callable[[str], None]


def add(name: str, paths: list[Path | str], log: Log | None = None) -> AddReport:
    """Ingest ``paths`` into library ``name`` (created if new). Bad files and entries become one line each
    in ``problems``; everything else is stored. A file already in the library (same bytes) is skipped."""
    log = log or (lambda _msg: None)
    name = check_name(name)
    if not paths:
        raise BadInputError("no files given")
    t0 = time.perf_counter()
    files, problems = expand([Path(p) for p in paths])
    report = AddReport(name=name, problems=problems)
    if not files:
        report.seconds = round(time.perf_counter() - t0, 3)
        return report
    lib = open_library(name, create=True)
    with locked(name):
        for path in files:
            try:
                digest = file_hash(path)
            except OSError as exc:
                report.problems.append(f"{path}: cannot read ({exc.strerror})")
                continue
            if digest in lib.manifest.files:
                report.skipped.append(str(path))
                log(f"{path}: already in library {name!r}")
                continue
            try:
                parsed = read(path)
            except BadInputError as exc:
                report.problems.append(str(exc))
                continue
            report.problems += parsed.problems
            if not parsed.documents:
                continue
            entry = FileEntry(
                path=str(Path(path).resolve()),
                kind=parsed.kind,
                documents=len(parsed.documents),
                chunks=sum(len(d.chunks) for d in parsed.documents),
                pages=parsed.pages,
            )
            lib.store_file(digest, entry, parsed.documents)
            report.added.append(entry)
            log(f"{path}: {entry.documents} record(s), {entry.chunks} passage(s)")
        if report.added:
            lib.manifest.calibration = calibrate(lib)
            lib.save()
        elif not lib.manifest.files:  # nothing stored in a new library: leave no trace of it
            drop(name)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def libraries() -> list[LibraryInfo]:
    return [open_library(n).info() for n in names()]


def remove(name: str) -> LibraryInfo:
    return _remove(name)
