"""``hypofinder doctor``: a table of what the project needs and whether each part works."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def doctor(
    tokens: int = typer.Option(32, "--tokens", min=1, max=512, help="Tokens the embedded model decodes."),
    as_json: bool = typer.Option(False, "--json", help="A JSON list instead of a table."),
) -> None:
    """Check Python and packages, data, index, embedded model (a real decode), weights, cache, served model,
    Chromium. Exits 1 when something the default run needs is broken."""
    from hypofinder.doctor import run_checks

    rows = run_checks(tokens)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in rows], indent=2))
    else:
        table = Table("check", "status", "detail")
        for r in rows:
            status = "[green]ok[/]" if r.ok else ("[red]BROKEN[/]" if r.required else "[yellow]missing[/]")
            table.add_row(r.name, status, r.detail)
        Console().print(table)
    broken = [r.name for r in rows if r.required and not r.ok]
    if broken:
        typer.echo(f"error: broken: {', '.join(broken)}", err=True)
        raise typer.Exit(1)
