"""The ``netcheck`` command: a thin typer shell over the library.

Each sub-command lives in its own module. Tool errors (``NetcheckError``) are caught once, by
``guard``, and printed as one line on stderr with exit code 2. stdout carries machine output only.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from netcheck.errors import NetcheckError

P = ParamSpec("P")
R = TypeVar("R")

stderr = Console(stderr=True)
stdout = Console(soft_wrap=True)

app = typer.Typer(
    name="netcheck",
    help="Measure what the network does to the services the agency says staff may use.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn tool errors into one clear line and exit code 2; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except NetcheckError as exc:
            print(f"netcheck: error: {exc}", file=sys.stderr, flush=True)  # one line, unwrapped
            raise typer.Exit(2) from None

    return wrapper


def _register() -> None:
    from netcheck.cli import (
        classify_cmd,
        control_cmd,
        diagnose_cmd,
        policy_cmd,
        report_cmd,
        run_cmd,
        schema_cmd,
        speed_cmd,
        targets_cmd,
    )

    app.command("run")(guard(run_cmd.run))
    app.command("classify")(guard(classify_cmd.classify))
    app.command("check")(policy_cmd.check)  # guarded in its module
    app.command("report")(guard(report_cmd.report))
    app.command("speed")(guard(speed_cmd.speed))
    app.command("schema")(guard(schema_cmd.schema))
    app.add_typer(targets_cmd.app, name="targets")
    app.add_typer(policy_cmd.app, name="policy")
    app.add_typer(control_cmd.app, name="control")
    app.command("diagnose")(guard(diagnose_cmd.diagnose))
    try:
        from netcheck.cli import lab
    except ImportError:  # the lab is optional at import time (Linux only)
        return
    app.add_typer(lab.app, name="lab", help="The agency-network lab (root, Linux).")


_register()


def main() -> None:
    try:
        app()
    except NetcheckError as exc:  # raised outside a guarded command (e.g. a callback)
        print(f"netcheck: error: {exc}", file=sys.stderr)
        sys.exit(2)
