"""``netcheck classify``: re-classify saved evidence offline, with no packet sent."""

from __future__ import annotations

from typing import Annotated

import typer

from netcheck import output
from netcheck.classify import classify_result
from netcheck.classify.fingerprints import load_fingerprints
from netcheck.cli import options, stderr, stdout


def classify(
    files: Annotated[
        list[str], typer.Argument(metavar="RESULTS", help="JSON Lines results files.")
    ],
    fingerprints: options.FingerprintFiles = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the records on stdout.")] = False,
) -> None:
    """Re-classify saved records; exit 1 when something is blocked or degraded."""
    fps = load_fingerprints(fingerprints or [])
    results = []
    changed = 0
    for path in files:
        for old in output.read_results(path):
            new = classify_result(old, fingerprints=fps)
            if (new.verdict, new.technique, new.vendor) != (old.verdict, old.technique, old.vendor):
                changed += 1
            results.append(new)
            if json_out:
                print(output.dump_line(new), flush=True)
    output.print_summary(results, stderr if json_out else stdout)
    if changed:
        stderr.print(f"{changed} record(s) classified differently from when they were measured")
    raise typer.Exit(output.exit_code(results))
