"""``netcheck diagnose URL``: find where on the path a URL is blocked, and how.

With raw sockets (root or CAP_NET_RAW) it traces by TTL; without, it says what it cannot do and
runs the DNS, TCP and TLS steps. Human output: the conclusion first, then the evidence; with
``--json``: the whole ``Diagnosis`` record on stdout. Exit code 0 (a block is a finding).
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

import typer

from netcheck.cli import stderr, stdout
from netcheck.diagnose import Diagnosis
from netcheck.diagnose import diagnose as run_diagnosis
from netcheck.errors import InputError
from netcheck.measure import dns
from netcheck.measure.trust import load_trust
from netcheck.netaddr import http_url_problem

#: seconds per step at most: more is a typo (the trace waits this long per hop)
MAX_TIMEOUT = 60.0


def diagnose(
    url: Annotated[str, typer.Argument(metavar="URL", help="http(s) URL to diagnose.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    resolver: Annotated[
        str | None,
        typer.Option(
            "--resolver", metavar="IP[:PORT]", help="The resolver (default: the system's)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, metavar="PORT", help="TCP port (default: URL's)."),
    ] = None,
    max_hops: Annotated[
        int, typer.Option("--max-hops", min=1, max=32, metavar="N", help="TTL limit.")
    ] = 12,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds per step.")
    ] = 3.0,
) -> None:
    """Locate the hop that blocks URL; detect forged resets and injected DNS answers."""
    if not url.startswith(("http://", "https://")):
        raise InputError(f"expected an http(s) URL, got {url!r}", field="URL")
    problem = http_url_problem(url)
    if problem is not None:
        raise InputError(problem, field="URL")
    if not math.isfinite(timeout) or timeout > MAX_TIMEOUT:
        raise InputError(
            f"{timeout} is not a number of seconds up to {MAX_TIMEOUT:g}", field="--timeout"
        )
    chosen = dns.parse_resolver(resolver) if resolver else None
    if chosen is None:
        system = dns.system_nameservers()
        chosen = system[0] if system else None
    found = asyncio.run(
        run_diagnosis(
            url,
            resolver=chosen,
            port=port,
            max_hops=max_hops,
            timeout=timeout,
            trust=load_trust(None, None),
        )
    )
    if json_out:
        print(found.model_dump_json(), flush=True)
    else:
        _print(found)


def _print(d: Diagnosis) -> None:
    for line in d.cannot:
        stderr.print(f"cannot: {line}", highlight=False)
    stdout.print(d.conclusion, highlight=False)
    for hop, ip in sorted(d.hops.items()):
        stdout.print(f"  hop {hop}: {ip}", highlight=False)
    for f in (d.dns_finding, d.tcp_finding):
        if f is not None:
            stdout.print(f"  {f.detail}", highlight=False)
