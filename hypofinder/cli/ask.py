"""``hypofinder ask``: one question through the whole pipeline."""

from __future__ import annotations

import io
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from hypofinder.cli import options as o
from hypofinder.outfiles import check_out_path, write_atomic


class Format(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


@o.run_options
def ask(
    query: str = typer.Argument(..., help="Your research question."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text, markdown or json."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the result to this file instead of stdout."),
    server: Optional[str] = o.SERVER,
    *,
    options: dict,
) -> None:
    """Find hypotheses for QUERY: PhySH contexts -> generate -> validate -> review -> synthesize."""
    from hypofinder.render import print_text, to_markdown
    from hypofinder.settings import settings

    given = options
    run = settings().run.merged(**given)
    run.check_query(query)
    if out is not None:
        check_out_path(out)
    err = Console(stderr=True)
    with err.status("starting…") as status:

        def progress(step: str, message: str) -> None:
            status.update(f"[bold]{step}[/] {message}")

        if server is not None:
            from hypofinder.service.client import ask_remote

            report = ask_remote(server, query, given, progress)
        else:
            from hypofinder.pipeline import HypothesisFinder

            report = HypothesisFinder(config=run).find(query, on_progress=lambda p: progress(p.step, p.message))

    if fmt is Format.json:
        text = report.model_dump_json(indent=2) + "\n"
    elif fmt is Format.markdown:
        text = to_markdown(report)
    else:
        if out is None:
            print_text(report, Console())
            return
        console = Console(file=io.StringIO(), width=100, force_terminal=False)
        print_text(report, console)
        text = console.file.getvalue()
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text)
        err.print(f"wrote {out}")
