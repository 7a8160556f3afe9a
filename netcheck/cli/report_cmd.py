"""``netcheck report``: reports for communications officers, auditors and IT.

A thin shell over ``netcheck.report.make``. Single-document formats (html, md, json, prom) go to
``--out`` or, without it (or with ``--out -``), to stdout; folder formats (csv, parquet) need
``--out FOLDER``. The paths written are listed on stderr. ``--out`` never names an input, never
an existing folder for a document, and is written atomically; zero records write nothing
(``report.make``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netcheck.cli import stderr, stdout
from netcheck.errors import InputError
from netcheck.report import AUDIENCES
from netcheck.report.i18n import LANGUAGES


def report(
    results: Annotated[
        list[str],
        typer.Argument(
            metavar="RESULTS", help="Result .jsonl files, folders of them, or Parquet datasets."
        ),
    ],
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            help="Policy YAML: findings quote its rules (else verdicts only).",
        ),
    ] = None,
    audience: Annotated[
        str,
        typer.Option(
            "--audience", metavar="AUDIENCE", help="Who reads it: " + ", ".join(AUDIENCES)
        ),
    ] = "comms",
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="comms: html|md; audit: csv|parquet|html; it: prom|json. "
            "Default: the audience's first.",
        ),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", metavar="LANG", help="Language: " + ", ".join(LANGUAGES))
    ] = "es",
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="PATH", help="Output file (folder for csv/parquet)."),
    ] = None,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            metavar="[FORMAT:]PATH",
            help="A real config (repeatable, with --policy): the comms report names its "
            "lines that block.",
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Aggregate on a Dask cluster (tcp://HOST:8786): --audience audit, "
            "--format csv|parquet, a Parquet records archive (path or fsspec URL).",
        ),
    ] = None,
) -> None:
    """Write a report for comms officers, auditors or IT from saved results."""
    # pandas and pyarrow load here, not at start-up: every other command would pay for them
    from netcheck.report.i18n import messages
    from netcheck.report.make import FOLDER_FORMATS, check_choice, load_table, write_report

    chosen = check_choice(audience, fmt)
    messages(lang)  # an unknown language is an input error before any reading
    if out is not None and str(out) == "-":  # the usual spelling of stdout, never a file "-"
        if chosen in FOLDER_FORMATS:
            raise InputError(f"--format {chosen} writes a folder: give --out FOLDER", field="--out")
        out = None
    if dask is not None:
        from netcheck.report.dask_engine import report_on_cluster

        for path in report_on_cluster(
            results, policy, audience, chosen, out, dask, configs=config or ()
        ):
            stderr.print(str(path), highlight=False, markup=False)
        return
    # every check (inputs, policy, --out) runs before anything is written
    frame, doc = load_table(results, policy, out=out, fmt=chosen, configs=config or ())
    written = write_report(frame, doc, audience, chosen, lang, out)
    if isinstance(written, str):
        stdout.file.write(written)
        stdout.file.flush()
        return
    for path in written:
        stderr.print(str(path), highlight=False, markup=False)
