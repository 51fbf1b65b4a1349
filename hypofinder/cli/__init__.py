"""The ``hypofinder`` command line (Typer + rich).

Each room has its own sub-module here; this one mounts them and turns every
``HypofinderError`` into one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from typer._click import exceptions as cx

from hypofinder import __version__
from hypofinder.errors import HypofinderError, one_line
from hypofinder.settings import configure, reset

app = typer.Typer(
    name="hypofinder",
    help="Hypothesis finder for materials science: PhySH contexts -> LLM hypotheses -> defect-predictor evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hypofinder {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="Data folder with physh/ and 2dmd/ [env HYPOFINDER_DATA_DIR; default ../shared/data]"
    ),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Index/cache folder [env HYPOFINDER_CACHE_DIR]"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    reset()  # each command starts from the environment and config files (main() may run several in one process)
    configure(data_dir=data_dir, cache_dir=cache_dir)


def _mount() -> None:
    from hypofinder.cli import ask, defects, doctor, library, mine, models, ontology, serve
    from hypofinder.cli import eval as eval_cli

    app.add_typer(ontology.app, name="ontology")
    app.add_typer(defects.app, name="defects")
    app.add_typer(eval_cli.app, name="eval")
    app.add_typer(library.app, name="library")
    app.command("ask")(ask.ask)
    app.command("mine")(mine.mine)
    app.command("models")(models.models)
    app.command("doctor")(doctor.doctor)
    app.command("serve")(serve.serve)


_mount()


def error(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> int:
    try:
        rc = app(args=argv, standalone_mode=False)  # typer.Exit(code) comes back as the return value here
        return rc if isinstance(rc, int) else 0
    except HypofinderError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except cx.NoArgsIsHelpError as exc:
        exc.show()
        return 0
    except cx.ClickException as exc:  # usage errors: one line, not click's usage block
        typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for people; HYPOFINDER_DEBUG=1 shows the traceback
        if os.environ.get("HYPOFINDER_DEBUG"):
            raise
        typer.echo(f"error: unexpected {exc.__class__.__name__}: {one_line(exc)}", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
