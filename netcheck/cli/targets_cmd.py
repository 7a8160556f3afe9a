"""``netcheck targets list``: show the catalogue (and any targets files) as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from netcheck.cli import guard, options
from netcheck.targets import load_targets

app = typer.Typer(help="The target catalogue.", no_args_is_help=True)


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
        print(json.dumps([t.model_dump(mode="json") for t in selected], ensure_ascii=False))
        return
    # rich only for people: `targets list --json` is a start-up-time command (bench/startup.py)
    from rich.table import Table

    from netcheck.cli import stdout

    table = Table(title=f"{len(selected)} targets")
    for name in ("service", "function", "url", "official", "certificate must cover", "page shows"):
        table.add_column(name, overflow="fold")
    for t in selected:
        table.add_row(
            t.service,
            t.function,
            t.url,
            "yes" if t.official else "",
            ", ".join(t.expect.cert_names),
            ", ".join(t.expect.title_contains + t.expect.body_contains),
        )
    stdout.print(table)
