"""``hypofinder mine``: a file of questions through the pipeline, resumable, one JSONL result line per id.

Exit codes: 0 every question has a report; 1 some failed (error lines in the output, this run or an
earlier one) or input lines were rejected; 2 unusable input, output or options (nothing was run);
130 interrupted (finished results are kept: run the same command again to resume).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from hypofinder.cli import options as o

MAX_SHOWN_ERRORS = 10


class EngineName(str, Enum):
    local = "local"
    ray = "ray"


class RateColumn(ProgressColumn):
    """Questions per minute, from rich's speed estimate."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:.1f}/min" if speed else "-/min", style="progress.data.speed")


@o.run_options
def mine(
    queries: Path = typer.Argument(
        ..., help='Questions: .jsonl (one {"id", "query", ...} object a line) or .csv with id,query columns.'
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Results file (JSONL, appended; rerun to resume)."),
    concurrency: int = typer.Option(
        1, "--concurrency", "-j", help="Questions in parallel (worker threads or Ray actors)."
    ),
    engine: EngineName = typer.Option(EngineName.local, "--engine", help="local (threads) or ray."),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="Existing Ray cluster (default: start a local one)."
    ),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Rerun the ids that have an error line."),
    price: float = typer.Option(
        0.0, "--price-per-1k-tokens", help="Cost per 1000 tokens for the cost total (0 for local models)."
    ),
    server: Optional[str] = o.SERVER,
    *,
    options: dict,
) -> None:
    """Mine hypotheses for every question in QUERIES, appending one result line per id to --out.

    Rerun the same command to resume. Exit codes: 0 all done; 1 some questions failed or input lines were
    rejected; 2 unusable input, output or options; 130 interrupted.
    """
    from hypofinder import mining
    from hypofinder.errors import BadInputError
    from hypofinder.settings import settings

    err = Console(stderr=True)
    if price < 0:
        raise BadInputError(f"--price-per-1k-tokens must be >= 0, got {price}")
    given = options
    run = settings().run.merged(**given)
    note = lambda line: err.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)  # noqa: E731
    if server is not None:
        from hypofinder.service.client import RemoteMiningJob

        if engine is not EngineName.local or ray_address:
            raise BadInputError("--engine and --ray-address are the server's choice: not with --server")
        job = RemoteMiningJob(
            server, queries, out=out, options=given, concurrency=concurrency, retry_failed=retry_failed, on_note=note
        )
    else:
        job = mining.mine(
            queries,
            out=out,
            config=run,
            concurrency=concurrency,
            engine=engine.value,
            ray_address=ray_address,
            retry_failed=retry_failed,
            on_note=note,
        )
    stats = job.prepare()
    interrupted, shown = False, 0
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tokens]} tok, {task.fields[failed]} failed"),
        console=err,
    )
    try:
        with progress:
            task = progress.add_task("mining", total=stats.pending, tokens=0, failed=0)
            for result in job:
                if result.error and shown < MAX_SHOWN_ERRORS:
                    shown += 1
                    progress.console.print(
                        f"[red]failed[/] {escape(result.id)}: {escape(result.error)}", highlight=False, soft_wrap=True
                    )
                progress.update(task, advance=1, tokens=job.stats.tokens, failed=job.stats.failed)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        job.close()
    if job.stats.failed > shown:
        err.print(
            f"{job.stats.failed - shown} more error(s): see the error lines in {escape(str(out))}",
            highlight=False,
            soft_wrap=True,
        )
    Console().print(summary_table(job.stats, out, price))
    if interrupted:
        err.print(
            f"interrupted: {job.stats.done + job.stats.failed} result(s) of this run are saved in "
            f"{escape(str(out))}; run the same command again to resume",
            highlight=False,
            soft_wrap=True,
        )
        if mining.busy_workers():
            # a worker is still inside a model call: leaving through interpreter shutdown would abort
            # in native code; every finished line is already fsynced, so exit now
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        sys.exit(130)
    if stats.skipped_failed:
        err.print(
            f"{stats.skipped_failed} id(s) still have error lines from an earlier run: add --retry-failed",
            highlight=False,
        )
    if job.stats.exit_code:
        # sys.exit, not typer.Exit: hypofinder.cli.main() runs Typer with standalone_mode=False, which turns
        # typer.Exit(code) into a return value that main() drops (exit status 0).
        sys.exit(job.stats.exit_code)


def summary_table(stats, out: Path, price: float) -> Table:
    table = Table(title=f"mining summary: {out}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("questions", stats.total),
        ("done (this run)", stats.done),
        ("failed (this run)", stats.failed),
        ("skipped (already done)", stats.skipped),
        ("skipped (earlier error)", stats.skipped_failed),
        ("error lines retried", stats.retried),
        ("rejected input lines", stats.rejected),
        ("reports from cache", stats.cached),
        ("LLM calls", stats.llm_calls),
        ("tokens (prompt + completion)", f"{stats.prompt_tokens} + {stats.completion_tokens} = {stats.tokens}"),
        ("cost", f"{stats.tokens / 1000 * price:.4f}"),
        ("time", f"{stats.seconds:.1f} s"),
        ("rate", f"{stats.per_minute:.1f} questions/min"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table
