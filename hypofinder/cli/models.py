"""``hypofinder models``: the providers in the registry and what each supports."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def models(as_json: bool = typer.Option(False, "--json", help="A JSON list instead of a table.")) -> None:
    """List the model providers: names, in-process or served, context window, structured-output modes."""
    from hypofinder.llm import all_providers

    rows = [p.describe() for p in all_providers()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "aliases", "in-process", "window", "structured output", "description")
    for r in rows:
        table.add_row(
            r["name"],
            ", ".join(r["aliases"]),
            "yes" if r["in_process"] else "no (server)",
            str(r["context_window"]),
            " > ".join(r["structured_output"]),
            r["description"],
        )
    Console().print(table)
