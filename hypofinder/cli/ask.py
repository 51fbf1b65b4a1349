"""``hypofinder ask``: one question through the whole pipeline."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from hypofinder.outfiles import check_out_path, write_atomic


class Format(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def ask(
    query: str = typer.Argument(..., help="Your research question."),
    contexts: int = typer.Option(3, "--contexts", "-n", help="Number of role contexts (1-10)."),
    temperature: float = typer.Option(0.7, "--temperature", "-t", help="Generator temperature (0.0-1.0)."),
    model: str = typer.Option("local", "--model", "-m", help="'local' (embedded SmolLM2), 'fake', or a served model name."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
    seed: int = typer.Option(42, "--seed", help="Sampling seed (reproducible runs)."),
    validate: bool = typer.Option(True, "--validate/--no-validate", help="Check defect claims with the predictor."),
    rounds: int | None = typer.Option(None, "--rounds", help="Critique-and-revise rounds (0 = off; default per provider)."),
    tournament: bool | None = typer.Option(None, "--tournament/--no-tournament",
                                              help="Rank by pairwise matches and Elo (default per provider)."),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Use the SQLite answer cache."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="text, markdown or json."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the result to this file instead of stdout."),
) -> None:
    """Find hypotheses for QUERY: PhySH contexts -> generate -> validate -> review -> synthesize."""
    from hypofinder.pipeline import HypothesisFinder, Progress, check_query
    from hypofinder.render import print_text, to_markdown

    check_query(query)
    if out is not None:
        check_out_path(out)
    finder = HypothesisFinder(model, temperature=temperature, contexts=contexts, base_url=base_url, seed=seed,
                              validate=validate, rounds=rounds, tournament=tournament, cache=cache)
    err = Console(stderr=True)
    with err.status("starting…") as status:
        def progress(p: Progress) -> None:
            status.update(f"[bold]{p.step}[/] {p.message}")

        report = finder.find(query, on_progress=progress)

    if fmt is Format.json:
        text = report.model_dump_json(indent=2) + "\n"
    elif fmt is Format.markdown:
        text = to_markdown(report)
    else:
        if out is None:
            print_text(report, Console())
            return
        console = Console(file=__import__("io").StringIO(), width=100, force_terminal=False)
        print_text(report, console)
        text = console.file.getvalue()
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text)
        err.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
