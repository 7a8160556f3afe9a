"""``netcheck run``: measure the catalogue (plus the agency's targets) and classify each target.

Every input is validated before anything is written: a bad flag or file ends with one line
naming it and exit code 2, and no results file is created or touched.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netcheck import netaddr, output
from netcheck.bandwidth import run as bandwidth_run
from netcheck.classify.fingerprints import load_fingerprints
from netcheck.cli import stderr, stdout
from netcheck.cli.tables import print_findings
from netcheck.control.client import ControlClient, read_token
from netcheck.errors import InputError
from netcheck.measure import dns, proxy
from netcheck.measure.pipeline import Probe, ProbeConfig
from netcheck.measure.probeid import probe_id as default_probe_id
from netcheck.measure.trust import load_trust
from netcheck.models import Result, Target
from netcheck.policy.compare import check_results, findings_exit_code
from netcheck.policy.loader import load_policy, require_network
from netcheck.targets import catalogue, load_targets


def run(
    targets: Annotated[
        list[str] | None,
        typer.Option(
            "--targets", help="YAML targets file or Citizen Lab CSV; adds to the catalogue."
        ),
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option("--service", help="Only this service (repeatable).")
    ] = None,
    function: Annotated[
        list[str] | None, typer.Option("--function", help="Only this function (repeatable).")
    ] = None,
    resolver: Annotated[
        list[str] | None,
        typer.Option("--resolver", help="IP[:PORT] of a resolver to use instead of the system's."),
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help="Public trust anchors (default: certifi).")
    ] = None,
    local_ca: Annotated[
        str | None,
        typer.Option(
            "--local-ca", help="Local/corporate anchors (default: what the OS store adds)."
        ),
    ] = None,
    allow_net: Annotated[
        list[str] | None,
        typer.Option("--allow-net", help="CIDR whose DNS answers are legitimate (repeatable)."),
    ] = None,
    proxy_opt: Annotated[
        str | None,
        typer.Option("--proxy", help="Proxy URL, 'auto' (with --pac) or 'none'. Default: env."),
    ] = None,
    pac: Annotated[str | None, typer.Option("--pac", help="PAC file path or URL.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per step.")] = 5.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Targets in their TLS/HTTP phase at once.")
    ] = 16,
    per_host: Annotated[
        int, typer.Option("--per-host", min=1, help="Targets of one host measured at once.")
    ] = 4,
    fingerprints: Annotated[
        list[str] | None,
        typer.Option("--fingerprints", help="Extra fingerprints, OONI CSV format (repeatable)."),
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", help="Label of the network this probe sits in.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="JSON Lines file (appended). Default results/netcheck-<UTC>.jsonl"
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the records on stdout.")] = False,
    max_body: Annotated[
        int, typer.Option("--max-body", min=1024, help="Bytes of each response body read at most.")
    ] = 262_144,
    probe_id: Annotated[
        str | None, typer.Option("--probe-id", help="Identity of this probe in the records.")
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="Declared policy: compare the results with it (as check)."),
    ] = None,
    control: Annotated[
        str | None,
        typer.Option("--control", help="URL of a control vantage (netcheck control serve)."),
    ] = None,
    control_token_file: Annotated[
        str | None,
        typer.Option("--control-token-file", help="File holding the control's bearer token."),
    ] = None,
    bandwidth: Annotated[
        bool, typer.Option("--bandwidth", help="Per service: goodput vs a control (throttling).")
    ] = False,
    bandwidth_control: Annotated[
        str | None,
        typer.Option("--bandwidth-control", help="Large object on the control endpoint."),
    ] = None,
    bandwidth_url: Annotated[
        list[str] | None,
        typer.Option("--bandwidth-url", help="SERVICE=URL of a large object (repeatable)."),
    ] = None,
) -> None:
    """Measure every target through DNS, TCP, TLS and HTTP and name what blocked it."""
    doc = load_policy(policy) if policy else None  # a bad policy stops us before any packet
    if doc is not None and network is not None:
        require_network(doc, network)
    selected = load_targets(targets or [], service or [], function or [])
    if not selected:
        raise InputError("no targets left after --service/--function", field="--service")
    resolvers = [dns.parse_resolver(spec) for spec in resolver or []] or None
    nets = [str(netaddr.parse_cidr(spec)) for spec in allow_net or []]
    trust = load_trust(ca_bundle, local_ca)
    fps = load_fingerprints(fingerprints or [])
    settings = proxy.proxy_settings(proxy_opt, pac, os.environ)
    pac_eval = asyncio.run(proxy.load_pac(settings))
    control_client = _control_client(control, control_token_file)
    bw_urls = _bandwidth_urls(bandwidth, bandwidth_control, bandwidth_url or [])
    config = ProbeConfig(
        trust=trust,
        proxy=settings,
        pac=pac_eval,
        resolvers=resolvers,
        allow_nets=nets,
        fingerprints=fps,
        timeout=timeout,
        concurrency=concurrency,
        per_host=per_host,
        max_body=max_body,
        network=network,
        probe_id=probe_id or default_probe_id(),
        control=control_client,
    )
    path = out or output.default_out_path()
    writer = output.JsonlWriter(path)  # last: nothing is written before every input checked out
    try:
        results = asyncio.run(_measure(config, selected, writer, json_out, bw_urls is not None))
        if bw_urls is not None and bandwidth_control is not None:
            results = _bandwidth(
                results, bw_urls, bandwidth_control, writer, json_out, trust.public_ca
            )
    finally:
        writer.close()
    if json_out:
        output.print_summary(results, stderr)
    else:
        output.print_summary(results, stdout)
    stderr.print(f"results: {path}", highlight=False)
    if doc is not None:
        findings = check_results(results, doc, network=network)
        print_findings(findings)
        raise typer.Exit(findings_exit_code(findings))
    raise typer.Exit(output.exit_code(results))


def _control_client(url: str | None, token_file: str | None) -> ControlClient | None:
    if url is None:
        if token_file is not None:
            raise InputError("given without --control", field="--control-token-file")
        return None
    if not url.startswith(("http://", "https://")):
        raise InputError(f"expected an http(s) URL, got {url!r}", field="--control")
    if token_file is None:
        raise InputError("required with --control", field="--control-token-file")
    return ControlClient(url=url, token=read_token(token_file))


def _bandwidth_urls(
    enabled: bool, control_url: str | None, specs: list[str]
) -> dict[str, str | None] | None:
    """The large-object URL per service (catalogue hints, then --bandwidth-url), or None."""
    if not enabled:
        if control_url is not None or specs:
            raise InputError("given without --bandwidth", field="--bandwidth-control")
        return None
    if control_url is None:
        raise InputError("required with --bandwidth", field="--bandwidth-control")
    if not control_url.startswith(("http://", "https://")):
        raise InputError(
            f"expected an http(s) URL, got {control_url!r}", field="--bandwidth-control"
        )
    urls = catalogue.bandwidth_hints()
    for spec in specs:
        service, sep, url = spec.partition("=")
        if not sep or not service or not url.startswith(("http://", "https://")):
            raise InputError(f"expected SERVICE=http(s)-URL, got {spec!r}", field="--bandwidth-url")
        urls[service.strip()] = url
    return urls


def _bandwidth(
    results: list[Result],
    urls: dict[str, str | None],
    control_url: str,
    writer: output.JsonlWriter,
    json_out: bool,
    ca_file: str,
) -> list[Result]:
    # after the page measurements, one service at a time; records are written once settled
    def note(text: str) -> None:
        stderr.print(text, highlight=False)

    stderr.print("measuring goodput per service against the control...")
    per_service = asyncio.run(
        bandwidth_run.measure_services(results, urls, control_url, note=note, verify=ca_file)
    )
    results = bandwidth_run.apply_all(results, per_service)
    for result in results:
        writer.write(result)
        if json_out:
            print(output.dump_line(result), flush=True)
    return results


async def _measure(
    config: ProbeConfig,
    targets: list[Target],
    writer: output.JsonlWriter,
    json_out: bool,
    defer: bool = False,
) -> list[Result]:
    probe = Probe(config)
    with Progress(
        TextColumn("[bold]measuring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(targets))

        def done(result: Result) -> None:
            if not defer:  # with --bandwidth, records are written once throttling is known
                writer.write(result)
                if json_out:
                    print(output.dump_line(result), flush=True)
            progress.update(task, advance=1, description=result.target.url)

        return await probe.run(targets, done)
