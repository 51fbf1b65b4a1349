"""``hypofinder library``: bring your own papers (add, list, search, remove).

Results go to stdout; progress and problems (one line each, naming the file and line) to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    help="Literature libraries: ingest PDFs, BibTeX, JSONL/CSV records and text; search them; ground runs in them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

NAME_HELP = "Library name (letters, digits, '.', '_', '-')."


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped: don't squeeze tables into 80 columns
        console = Console(width=max(console.width, 200))
    return console


@app.command()
def add(
    paths: list[Path] = typer.Argument(..., help="Files or folders: .pdf, .bib, .jsonl, .csv, .txt, .md"),
    name: str = typer.Option(..., "--name", help=NAME_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-file progress lines."),
) -> None:
    """Add papers to library NAME (created if new). Files already in it (same bytes) are skipped.

    Each file, entry or line that cannot be read is one line on stderr and the rest is still added;
    the exit status is then 2.
    """
    from hypofinder import library

    log = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
    report = library.add(name, paths, log=log)
    for problem in report.problems:
        typer.echo(f"error: {problem}", err=True)
    if report.added or report.skipped:
        docs = sum(f.documents for f in report.added)
        chunks = sum(f.chunks for f in report.added)
        pages = f", {report.pages} PDF pages" if report.pages else ""
        skipped = f"; {len(report.skipped)} already there" if report.skipped else ""
        problems = f"; {len(report.problems)} problem(s)" if report.problems else ""
        typer.echo(
            f"library {report.name}: added {len(report.added)} file(s) ({docs} records, {chunks} passages"
            f"{pages}) in {report.seconds:.1f} s{skipped}{problems}"
        )
    if report.problems:
        raise typer.Exit(2)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print only JSON.")) -> None:
    """The libraries in the cache folder, with their sizes."""
    from hypofinder import library

    infos = library.libraries()
    if as_json:
        typer.echo(json.dumps([i.model_dump() for i in infos], indent=1))
        return
    if not infos:
        typer.echo("no libraries yet: hypofinder library add PATH --name NAME")
        return
    from rich.table import Table

    table = Table(title="Libraries")
    for col in ("name", "files", "records", "passages", "manifest"):
        table.add_column(col, overflow="fold")
    for i in infos:
        table.add_row(i.name, str(i.files), str(i.documents), str(i.chunks), i.path)
    _console().print(table)


@app.command()
def search(
    text: str = typer.Argument(..., help="What you are looking for, in plain words."),
    name: str = typer.Option(..., "--name", help=NAME_HELP),
    k: int = typer.Option(5, "-k", "--k", help="How many papers (1-100)."),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON list (id, title, score, text, ...)."),
) -> None:
    """The papers of library NAME closest to TEXT, each with its best passage."""
    from hypofinder import library

    hits = library.search(name, text, k=k)
    if as_json:
        typer.echo(json.dumps([h.model_dump(exclude_none=True) for h in hits], indent=1, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"{name}: {text[:80]}", show_lines=True)
    for col in ("#", "score", "id", "title", "passage"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(hits, 1):
        where = f" (p. {h.page})" if h.page else ""
        table.add_row(str(i), f"{h.score:.3f}", h.id + where, h.title, h.text[:300])
    _console().print(table)


@app.command()
def remove(name: str = typer.Argument(..., help="The library to delete.")) -> None:
    """Delete library NAME (its passages and manifest; your files are not touched)."""
    from hypofinder import library

    info = library.remove(name)
    typer.echo(f"removed library {info.name} ({info.files} files, {info.documents} records)")
