"""``netcheck browse URL...``: one-off checks of pages in the installed Chromium.

In: URLs and the probe's network flags (proxy, PAC, trust, resolver). Out: one record per URL
with its ``browser`` section, appended to ``--out`` (and on stdout with ``--json``), screenshots
beside that file, and a few lines per page on stderr: the verdict in words and what failed, each
failure with the technique netcheck measured on its host. Exit 1 when a page is blocked or
degraded; 2 for a bad flag or no browser (one line, nothing written).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from pathlib import Path
from typing import Annotated

import typer

from netcheck import output, runner
from netcheck.cli import stderr
from netcheck.cli.options import refuse_unreadable
from netcheck.errors import InputError
from netcheck.models import Result
from netcheck.netaddr import http_url_problem


def browse(
    urls: Annotated[list[str], typer.Argument(metavar="URL", help="Pages to load (http/https).")],
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            metavar="SERVICE",
            help="Whose page it is (own domains); default: from the catalogue.",
        ),
    ] = None,
    proxy_opt: Annotated[
        str | None,
        typer.Option(
            "--proxy",
            metavar="URL",
            help="Proxy URL, 'auto' (with --pac) or 'none'. Default: the environment's.",
        ),
    ] = None,
    pac: Annotated[
        str | None, typer.Option("--pac", metavar="FILE|URL", help="PAC file path or URL.")
    ] = None,
    proxy_auth: Annotated[
        str | None,
        typer.Option(
            "--proxy-auth", metavar="SCHEME", help="auto, basic, digest, ntlm or negotiate."
        ),
    ] = None,
    ca_bundle: Annotated[
        str | None,
        typer.Option("--ca-bundle", metavar="FILE", help="Public trust anchors."),
    ] = None,
    local_ca: Annotated[
        str | None,
        typer.Option("--local-ca", metavar="FILE", help="Local/corporate anchors."),
    ] = None,
    resolver: Annotated[
        list[str] | None,
        typer.Option(
            "--resolver",
            metavar="IP[:PORT]",
            help="Resolver for netcheck's own host measurements (the browser uses the system's).",
        ),
    ] = None,
    allow_net: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-net", metavar="CIDR", help="Network whose DNS answers are legitimate."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds per step.")
    ] = 5.0,
    browser_path: Annotated[
        str | None,
        typer.Option("--browser-path", metavar="FILE", help="Chromium, Chrome or Edge to drive."),
    ] = None,
    deadline: Annotated[
        float,
        typer.Option("--deadline", min=1.0, metavar="SECONDS", help="Seconds per page."),
    ] = 20.0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="JSON Lines file (appended). Default: results/netcheck-<UTC>.jsonl",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the records on stdout.")] = False,
) -> None:
    """Load pages in the installed Chromium; name what fails on them and how it is blocked."""
    for flag, value, high in (("--timeout", timeout, 300.0), ("--deadline", deadline, 600.0)):
        if not math.isfinite(value) or value > high:
            raise InputError(f"{value} is not a number of seconds up to {high:g}", field=flag)
    refuse_unreadable(ca_bundle=ca_bundle, local_ca=local_ca, pac=pac)
    for url in urls:  # a port of 99999 passed the plan and crashed the measurement
        problem = http_url_problem(url)
        if problem is not None:
            raise InputError(problem, field="URL")
    options = runner.RunOptions(
        resolvers=resolver or (),
        ca_bundle=ca_bundle,
        local_ca=local_ca,
        allow_nets=allow_net or (),
        proxy=proxy_opt,
        pac=pac,
        proxy_auth=proxy_auth,
        timeout=timeout,
        browser_path=browser_path,
        browser_deadline=deadline,
    )
    plan = runner.plan_browse(urls, options, os.environ, service)
    path = out or output.default_out_path()
    chosen = plan.browser
    assert chosen is not None  # plan_browse always plans the browser
    shots = path.parent / f"{path.stem}.screenshots"
    plan = dataclasses.replace(
        plan, browser=dataclasses.replace(chosen, shots=shots, base=path.parent)
    )
    writer = output.JsonlWriter(path)  # last: nothing is written before every input checked out
    try:

        def keep(result: Result) -> None:
            writer.write(result)
            if json_out:
                print(output.dump_line(result), flush=True)

        stderr.print(f"loading {len(plan.targets)} page(s) in {chosen.executable}...")
        results = asyncio.run(runner.measure(plan, keep))
    finally:
        writer.close()
    for result in results:
        _explain(result)
    stderr.print(f"results: {path}", highlight=False)
    raise typer.Exit(output.exit_code(results))


def _explain(result: Result) -> None:
    b = result.browser
    stderr.print(f"\n{result.target.url}: {result.verdict}", highlight=False, markup=False)
    stderr.print(f"  {result.evidence}", highlight=False, markup=False)
    if b is None:
        return
    for f in b.failed[:20]:
        how = f.technique or "not blocked by the network as measured"
        stderr.print(
            f"  - {f.type} {f.url[:120]} [{f.party}]: {f.error}; {how}",
            highlight=False,
            markup=False,
        )
    if b.screenshot:
        stderr.print(f"  screenshot: {b.screenshot}", highlight=False, markup=False)
