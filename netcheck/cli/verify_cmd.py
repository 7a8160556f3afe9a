"""``netcheck verify PATH``: check a collector's evidence offline (signatures, chains, records).

Exit 0 when everything checks out; 2, with one ``netcheck: error:`` line, when PATH is not
something to verify or its evidence does not check out (naming the first record or batch that
was changed, removed, reordered or inserted): evidence that fails its signatures is input that
cannot be trusted, not a finding about a network (exit 1 means something is blocked).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from netcheck.cli import stderr


def verify(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="A collector data folder or a `server export` file."),
    ],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Check every record's signature and every probe's chain, offline."""
    if os.path.isdir(path):  # os.path: False, not PermissionError, for a folder out of reach
        from netcheck.server.evidence import verify_store

        report = verify_store(path)
    else:
        from netcheck.fleet.verify import verify_export

        report = verify_export(path)
    if json_out:
        print(
            json.dumps(
                {
                    "probes": report.probes,
                    "batches": report.batches,
                    "records": report.records,
                    "keys": report.keys,
                    "problem": report.problem,
                }
            )
        )
    else:
        for probe, fingerprint in sorted(report.keys.items()):
            stderr.print(f"probe {probe}: key {fingerprint}", highlight=False)
        stderr.print(
            f"checked {report.records} records in {report.batches} batches of "
            f"{report.probes} probes",
            highlight=False,
        )
    if report.problem is not None:
        print(f"netcheck: error: {path}: {report.problem}", file=sys.stderr, flush=True)
        raise typer.Exit(2)
