"""The run options as Typer options, generated from ``RunConfig`` so names, help text, defaults and limits
are declared once: ``@run_options`` gives a command every run option and hands it the ones the user gave as
``options`` (a dict keyed by RunConfig field). Every option defaults to None: an option not given leaves the
configuration (defaults, ``HYPOFINDER_*`` variables, config file) in force.

Adding an option: one field on ``RunConfig`` (hypofinder/settings.py); ``ask``, ``mine``, ``eval run``, the
app's settings and the service schema pick it up. Only a short flag or a flag name other than ``--<field>``
is said here (``FLAGS``).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from typing import Any, Optional

import typer

from hypofinder.settings import RunConfig

# flag names other than --<field-with-dashes> (booleans: --<flag>/--no-<flag>), and short flags
FLAGS = {
    "model": ("--model", "-m"),
    "temperature": ("--temperature", "-t"),
    "contexts": ("--contexts", "-n"),
    "validate_claims": ("--validate",),
    "timeout_s": ("--timeout",),
}
NOT_ON_CLI = frozenset({"max_query_chars"})  # a limit of the configuration, not of one run
CLI_FIELDS = tuple(k for k in RunConfig.model_fields if k not in NOT_ON_CLI)

SERVER = typer.Option(
    None, "--server", help="Send the work to a running 'hypofinder serve' at this URL (key from HYPOFINDER_API_KEY)."
)


def _base_type(name: str) -> Any:
    """The field's type without None (``int | None`` -> int)."""
    ann = RunConfig.model_fields[name].annotation
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    return ann


def _opt(name: str) -> Any:
    flags = FLAGS.get(name, (f"--{name.replace('_', '-')}",))
    if _base_type(name) is bool:
        flags = (f"{flags[0]}/--no-{flags[0][2:]}", *flags[1:])
    default = RunConfig.model_fields[name].default
    return typer.Option(None, *flags, help=RunConfig.help(name), show_default=str(default))


def run_options(fn):
    """Give a Typer command every run option of ``RunConfig`` (after its own arguments); the command takes
    them as ``options``: the options given (not None), keyed by RunConfig field."""
    sig = inspect.signature(fn)
    own = [p for p in sig.parameters.values() if p.name != "options"]
    added = [
        inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=_opt(k), annotation=Optional[_base_type(k)])
        for k in CLI_FIELDS
    ]
    clash = {p.name for p in own} & set(CLI_FIELDS)
    if clash:
        raise TypeError(f"{fn.__name__} declares run option(s) itself: {', '.join(sorted(clash))}")

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {k: v for k in CLI_FIELDS if (v := kwargs.pop(k, None)) is not None}
        return fn(*args, options=given, **kwargs)

    command.__signature__ = sig.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    command.__annotations__ = {
        **{k: v for k, v in fn.__annotations__.items() if k != "options"},
        **{p.name: p.annotation for p in added},
    }
    return command
