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


def ask(
    query: str = typer.Argument(..., help="Your research question."),
    contexts: Optional[int] = o.CONTEXTS,
    temperature: Optional[float] = o.TEMPERATURE,
    model: Optional[str] = o.MODEL,
    base_url: Optional[str] = o.BASE_URL,
    seed: Optional[int] = o.SEED,
    validate: Optional[bool] = o.VALIDATE,
    cache: Optional[bool] = o.CACHE,
    max_retries: Optional[int] = o.MAX_RETRIES,
    timeout: Optional[float] = o.TIMEOUT,
    library: Optional[str] = o.LIBRARY,
    rounds: Optional[int] = o.ROUNDS,
    tournament: Optional[bool] = o.TOURNAMENT,
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text, markdown or json."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the result to this file instead of stdout."),
    server: Optional[str] = o.SERVER,
) -> None:
    """Find hypotheses for QUERY: PhySH contexts -> generate -> validate -> review -> synthesize."""
    from hypofinder.render import print_text, to_markdown
    from hypofinder.settings import settings

    given = o.given(
        contexts=contexts,
        temperature=temperature,
        model=model,
        base_url=base_url,
        seed=seed,
        validate=validate,
        cache=cache,
        max_retries=max_retries,
        timeout=timeout,
        library=library,
        rounds=rounds,
        tournament=tournament,
    )
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
