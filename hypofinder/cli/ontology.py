"""``hypofinder ontology``: search PhySH concepts, show one, build the index.

Results go to stdout; index-building messages go to stderr, so ``--json`` output stays clean.
"""

from __future__ import annotations

import json
import time
from typing import Optional

import typer

app = typer.Typer(
    help="PhySH ontology: concept search, role contexts, concept details, the Chroma index.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped: don't squeeze tables into 80 columns
        console = Console(width=max(console.width, 260))
    return console


@app.command()
def search(
    text: str = typer.Argument(..., help="What you are looking for, in plain words"),
    k: int = typer.Option(10, "-k", "--k", help="How many concepts (1-200)."),
    facet: Optional[str] = typer.Option(
        None, "--facet", help="Only this PhySH facet, e.g. 'Computational Techniques'."
    ),
    discipline: Optional[str] = typer.Option(None, "--discipline", help="Only this PhySH discipline."),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON list of concepts."),
) -> None:
    """Concepts matching TEXT: id, label, facet, discipline, role, framework, score."""
    from hypofinder import ontology

    hits = ontology.search(text, k=k, facet=facet, discipline=discipline)
    if as_json:
        typer.echo(json.dumps([h.model_dump() for h in hits], indent=1, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"PhySH {ontology.physh_version()} concepts for: {text[:80]}", show_lines=False)
    for col in ("#", "score", "label", "facet", "discipline", "role", "framework", "id"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), f"{h.score:.3f}", h.label, h.facet or "", h.discipline or "", h.role, h.framework, h.id)
    _console().print(table)


@app.command()
def contexts(
    text: str = typer.Argument(..., help="The research question"),
    n: int = typer.Option(3, "-n", "--n", help="How many contexts (1-10)."),
    as_json: bool = typer.Option(False, "--json", help="Print only a JSON list of contexts."),
) -> None:
    """Diverse role-based contexts for TEXT (one per framework)."""
    from hypofinder import ontology

    ctxs = ontology.contexts_for(text, n=n)
    if as_json:
        typer.echo(json.dumps([c.model_dump() for c in ctxs], indent=1, ensure_ascii=False))
        return
    console = _console()
    for c in ctxs:
        console.print(f"[bold]{c.title}[/bold]  (score {c.score:.3f})", highlight=False)
        for ref in c.concepts[1:]:
            console.print(f"    + {ref.label}", highlight=False)


@app.command()
def show(
    id_or_label: str = typer.Argument(..., help="DOI URI, UUID or (alt) label of a concept"),
    as_json: bool = typer.Option(False, "--json", help="Print only JSON."),
) -> None:
    """Everything PhySH says about one concept, with its role and framework."""
    from hypofinder import ontology

    c = ontology.get_concept(id_or_label)
    if as_json:
        typer.echo(json.dumps(c.model_dump(), indent=1, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(show_header=False, title=c.label)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    links = lambda xs: ", ".join(x.label for x in xs)  # noqa: E731
    rows = [
        ("id", c.id),
        ("alt labels", ", ".join(c.alt_labels + c.hidden_labels)),
        ("scope note", c.scope_note or ""),
        ("facet", c.facet or ""),
        ("facets", ", ".join(c.facets)),
        ("discipline", c.discipline or ""),
        ("disciplines", ", ".join(c.disciplines) + (" (inherited)" if c.inherited else "")),
        ("role", c.role or ""),
        ("framework", c.framework or ""),
        ("broader", links(c.broader)),
        ("narrower", links(c.narrower)),
        ("related", links(c.related)),
    ]
    flags = [
        name
        for name, on in (
            ("deprecated", c.deprecated),
            ("excluded from indexing", c.exclude_from_indexing),
            ("facet", c.is_facet),
        )
        if on
    ]
    if flags:
        rows.append(("flags", ", ".join(flags)))
    for name, value in rows:
        if value:
            table.add_row(name, value)
    _console().print(table)


@app.command()
def build(force: bool = typer.Option(False, "--force", help="Rebuild even if the index is up to date.")) -> None:
    """Build (or check) the Chroma index of PhySH concepts and print the time taken."""
    from hypofinder import ontology

    t0 = time.perf_counter()
    info = ontology.build_index(force=force)
    seconds = time.perf_counter() - t0
    state = "built" if info.built else "up to date"
    typer.echo(
        f"index {state}: {info.count} concepts, PhySH {info.physh_version}, {info.model}, "
        f"{info.path} ({info.collection}) in {seconds:.1f} s"
    )
