"""``netcheck targets list``: show the catalogue (and any targets files) as a table or JSON."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Annotated

import typer

from netcheck.cli import guard, options
from netcheck.cli.tables import text_table
from netcheck.targets import load_targets

app = typer.Typer(help="The target catalogue.", no_args_is_help=True)

COLUMNS = ("service", "function", "url", "official", "certificate must cover", "page shows")


@app.command("list")
@guard
def list_targets(
    targets: options.TargetFiles = None,
    service: options.Services = None,
    function: options.Functions = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """List the targets a run would measure."""
    selected = load_targets(targets or [], service or [], function or [])
    if json_out:
        print(json.dumps([t.as_json() for t in selected], ensure_ascii=False))
        return
    # plain text, not rich: `targets list` is a start-up-time command (bench/startup.py); folded
    # to a terminal's width, one line per target into a pipe
    rows = [
        (
            t.service,
            t.function,
            t.url,
            "yes" if t.official else "",
            ", ".join(t.expect.cert_names),
            ", ".join(t.expect.title_contains + t.expect.body_contains),
        )
        for t in selected
    ]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(text_table(f"{len(selected)} targets", COLUMNS, rows, width))
