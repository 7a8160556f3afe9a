"""``netcheck run``: measure the catalogue (plus the agency's targets) and classify each target.

In: the flags. Out: JSON Lines records appended to ``--out`` (and on stdout with ``--json``), a
summary table, the findings with ``--policy``; exit 1 when something is blocked (or, with a
policy, self-blocking). The run itself is ``netcheck.runner``: every input is checked there
before anything is written, so a bad flag or file ends with one line naming it, exit code 2, and
no results file created or touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netcheck import output, runner
from netcheck.classify.network import nothing_measured
from netcheck.cli import options, stderr, stdout
from netcheck.cli.tables import print_findings
from netcheck.models import Result
from netcheck.policy.compare import findings_exit_code


def run(
    targets: options.TargetFiles = None,
    no_catalogue: Annotated[
        bool,
        typer.Option(
            "--no-catalogue", help="Measure only the --targets files, not the built-in catalogue."
        ),
    ] = False,
    service: options.Services = None,
    function: options.Functions = None,
    resolver: options.Resolvers = None,
    ca_bundle: options.CaBundle = None,
    local_ca: options.LocalCa = None,
    allow_net: options.AllowNets = None,
    proxy_opt: options.Proxy = None,
    pac: options.Pac = None,
    proxy_auth: Annotated[
        str | None,
        typer.Option(
            "--proxy-auth",
            metavar="SCHEME",
            help="Answer the proxy's 407 with: auto (default), basic, digest, ntlm (user and "
            "password in the proxy URL) or negotiate (your Kerberos ticket).",
        ),
    ] = None,
    timeout: options.Timeout = 5.0,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", min=1, metavar="N", help="Targets in their TLS/HTTP phase at once."
        ),
    ] = 16,
    per_host: Annotated[
        int,
        typer.Option(
            "--per-host", min=1, metavar="N", help="Targets of one host measured at once."
        ),
    ] = 4,
    fingerprints: options.FingerprintFiles = None,
    network: Annotated[
        str | None,
        typer.Option("--network", metavar="LABEL", help="Label of the network this probe sits in."),
    ] = None,
    out: options.ResultsOut = None,
    json_out: options.RecordsJson = False,
    max_body: Annotated[
        int,
        typer.Option(
            "--max-body",
            min=1024,
            metavar="BYTES",
            help="Bytes of each response body read at most.",
        ),
    ] = 262_144,
    probe_id: Annotated[
        str | None,
        typer.Option("--probe-id", metavar="ID", help="Identity of this probe in the records."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            help="Declared policy: compare the results with it (as check).",
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", metavar="GROUP", help="User group id the policy decides for (--policy)."
        ),
    ] = None,
    control: Annotated[
        str | None,
        typer.Option(
            "--control",
            metavar="URL",
            help="URL of a control vantage (netcheck control serve).",
        ),
    ] = None,
    control_token_file: Annotated[
        str | None,
        typer.Option(
            "--control-token-file",
            metavar="FILE",
            help="File holding the control's bearer token.",
        ),
    ] = None,
    bandwidth: Annotated[
        bool, typer.Option("--bandwidth", help="Per service: goodput vs a control (throttling).")
    ] = False,
    bandwidth_control: Annotated[
        str | None,
        typer.Option(
            "--bandwidth-control", metavar="URL", help="Large object on the control endpoint."
        ),
    ] = None,
    bandwidth_url: Annotated[
        list[str] | None,
        typer.Option(
            "--bandwidth-url",
            metavar="SERVICE=URL",
            help="A service's large object (repeatable).",
        ),
    ] = None,
    browser: Annotated[
        bool,
        typer.Option(
            "--browser",
            help="Also load each page in the installed Chromium: what works for a person.",
        ),
    ] = False,
    browser_path: Annotated[
        str | None,
        typer.Option(
            "--browser-path", metavar="FILE", help="Chromium, Chrome or Edge to drive (--browser)."
        ),
    ] = None,
    browser_deadline: Annotated[
        float,
        typer.Option(
            "--browser-deadline", min=1.0, metavar="SECONDS", help="Seconds per page (--browser)."
        ),
    ] = 20.0,
) -> None:
    """Measure every target through DNS, TCP, TLS and HTTP and name what blocked it."""
    options = run_options(locals())
    plan = runner.plan_run(options, os.environ)
    path = out or output.default_out_path()
    runner.refuse_input_as_out(path, options)
    if plan.browser is not None:  # screenshots beside the JSON Lines file
        shots = path.parent / f"{path.stem}.screenshots"
        plan = dataclasses.replace(
            plan, browser=dataclasses.replace(plan.browser, shots=shots, base=path.parent)
        )
    writer = output.JsonlWriter(path)  # last: nothing is written before every input checked out
    try:
        results = _measure(plan, writer, json_out)
    finally:
        writer.close()
    output.print_summary(results, stderr if json_out else stdout)
    if nothing_measured(results):  # one unwrapped line: a user must not miss it in the table
        print(NOTHING_MEASURED, file=sys.stderr, flush=True)
    stderr.print(f"results: {path}", highlight=False)
    raise typer.Exit(_verdict(plan, results))


NOTHING_MEASURED = (
    "netcheck: warning: every target is inconclusive because this machine's own network setup "
    "failed (no network route, or a resolver or proxy on this machine not running): nothing was "
    "measured"
)

#: run's flag parameters -> ``RunOptions`` fields where the names differ (`agent run` shares them)
_OPTION_OF = {
    "service": "services",
    "function": "functions",
    "resolver": "resolvers",
    "allow_net": "allow_nets",
    "proxy_opt": "proxy",
    "bandwidth_url": "bandwidth_urls",
}


def run_options(flags: dict[str, Any]) -> runner.RunOptions:
    """``RunOptions`` from the values of run's flags (repeatable flags given as None -> ())."""
    options.refuse_unreadable(
        ca_bundle=flags.get("ca_bundle"), local_ca=flags.get("local_ca"), pac=flags.get("pac")
    )
    fields = {f.name for f in dataclasses.fields(runner.RunOptions)}
    values: dict[str, Any] = {}
    for name, value in flags.items():
        field = _OPTION_OF.get(name, name)
        if field in fields:
            values[field] = () if value is None and name in _REPEATABLE else value
    return runner.RunOptions(**values)


_REPEATABLE = {
    "targets",
    "service",
    "function",
    "resolver",
    "allow_net",
    "fingerprints",
    "bandwidth_url",
}


def _measure(plan: runner.RunPlan, writer: output.JsonlWriter, json_out: bool) -> list[Result]:
    """The page measurements, then (``--bandwidth``) goodput; each record written once settled."""

    def keep(result: Result) -> None:
        writer.write(result)
        if json_out:
            print(output.dump_line(result), flush=True)

    deferred = plan.goodput is not None  # records wait until throttling is known
    results = asyncio.run(_with_progress(plan, None if deferred else keep))
    if deferred:
        stderr.print("measuring goodput per service against the control...")
        results = runner.measure_goodput(
            plan, results, lambda text: stderr.print(text, highlight=False)
        )
        for result in results:
            keep(result)
    return results


async def _with_progress(plan: runner.RunPlan, keep: runner.Callback | None) -> list[Result]:
    with Progress(
        TextColumn("[bold]measuring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(plan.targets))

        def done(result: Result) -> None:
            if keep is not None:
                keep(result)
            progress.update(task, advance=1, description=result.target.url)

        return await runner.measure(plan, done)


def _verdict(plan: runner.RunPlan, results: list[Result]) -> int:
    """Exit code: with a policy, the findings decide (printed); else the verdicts do."""
    findings = runner.compare(plan, results)
    if findings is None:
        return output.exit_code(results)
    print_findings(findings)
    return findings_exit_code(findings)
