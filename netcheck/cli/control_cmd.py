"""``netcheck control serve``: run the control vantage outside the network under test.

Every option is checked before the socket is bound: a bad token file, CIDR or address ends with
one line naming it and exit code 2; an address already in use too. The service (Starlette on
uvicorn, ``control.server``) logs one line per request on stderr and stops on SIGINT/SIGTERM.
The defaults let one probe's whole catalogue run through at once (``control.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import sys
from typing import Annotated

import typer

from netcheck.cli import guard
from netcheck.cli.options import refuse_unreadable
from netcheck.control.client import read_token
from netcheck.control.limits import (
    DEFAULT_BURST,
    DEFAULT_MAX_URLS,
    DEFAULT_RATE,
    DestinationPolicy,
)
from netcheck.control.measure import ControlConfig
from netcheck.control.server import ControlServer
from netcheck.errors import InputError
from netcheck.measure import dns
from netcheck.measure.trust import load_trust

app = typer.Typer(
    help="A control vantage: measures URLs from outside the agency, for `run --control`.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """A control vantage outside the agency network (issue 7)."""


#: the largest values the service's flags take: beyond them a limit is no limit (a burst of
#: 10^20 URLs, a step that never times out) or a typo
MAX_TIMEOUT = 300.0
MAX_RATE = 10_000.0
MAX_URLS = 1_000
MAX_BYTES = 64 * 1024 * 1024
MAX_BURST = 100_000


def _in_range(flag: str, value: float, low: float, high: float) -> None:
    """``value`` is a finite number from ``low`` to ``high`` (click's ranges let NaN through)."""
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(f"{value} is not a number from {low:g} to {high:g}", field=flag)


def parse_bind(spec: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[V6]:PORT`` -> (addr, port); port 0 picks a free one."""
    host, sep, port = spec.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        if not (port.isascii() and port.isdigit()):
            raise ValueError(port)
        number = int(port)
    except ValueError:
        raise InputError(f"expected ADDR:PORT, got {spec!r}", field="--bind") from None
    if not sep or not 0 <= number <= 65535:
        raise InputError(f"expected ADDR:PORT, got {spec!r}", field="--bind")
    return host, number


@app.command("serve")
@guard
def serve(
    bind: Annotated[
        str, typer.Option("--bind", metavar="ADDR:PORT", help="Address and port to listen on.")
    ],
    token_file: Annotated[
        str,
        typer.Option(
            "--token-file",
            metavar="FILE",
            help="File holding the bearer token clients must send.",
        ),
    ],
    allow_dest: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-dest",
            metavar="CIDR",
            help="CIDR the control may reach although private/reserved (repeatable).",
        ),
    ] = None,
    resolver: Annotated[
        list[str] | None,
        typer.Option(
            "--resolver", metavar="IP[:PORT]", help="The resolver the control uses (repeatable)."
        ),
    ] = None,
    ca_bundle: Annotated[
        str | None,
        typer.Option(
            "--ca-bundle", metavar="FILE", help="Public trust anchors (default: certifi)."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds per step.")
    ] = 5.0,
    max_urls: Annotated[
        int, typer.Option("--max-urls", min=1, metavar="N", help="URLs per request.")
    ] = DEFAULT_MAX_URLS,
    max_bytes: Annotated[
        int,
        typer.Option(
            "--max-bytes", min=1024, metavar="BYTES", help="Body bytes read per URL and hop."
        ),
    ] = 262_144,
    rate: Annotated[
        float,
        typer.Option("--rate", min=0.001, metavar="PER_SECOND", help="URLs per second per client."),
    ] = DEFAULT_RATE,
    burst: Annotated[
        int, typer.Option("--burst", min=1, metavar="N", help="URLs a client may burst.")
    ] = DEFAULT_BURST,
) -> None:
    """Serve POST /v1/measure (bearer token) until interrupted."""
    host, port = parse_bind(bind)
    _in_range("--timeout", timeout, 0.1, MAX_TIMEOUT)
    _in_range("--rate", rate, 0.001, MAX_RATE)
    _in_range("--max-urls", max_urls, 1, MAX_URLS)
    _in_range("--max-bytes", max_bytes, 1024, MAX_BYTES)
    _in_range("--burst", burst, 1, MAX_BURST)
    refuse_unreadable(ca_bundle=ca_bundle)
    config = ControlConfig(
        token=read_token(token_file, field="--token-file"),
        trust=load_trust(ca_bundle, None),
        policy=DestinationPolicy.from_specs(allow_dest or []),
        resolvers=[dns.parse_resolver(spec) for spec in resolver or []] or None,
        timeout=timeout,
        max_urls=max_urls,
        max_bytes=max_bytes,
        rate=rate,
        burst=max(burst, max_urls),
    )
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a user stops the service
        asyncio.run(_serve(config, host, port))


async def _serve(config: ControlConfig, host: str, port: int) -> None:
    try:
        server = await ControlServer(config, host, port).start()
    except OSError as exc:
        why = f"cannot listen on {host}:{port}: {exc.strerror}"
        raise InputError(why, field="--bind") from None
    print(f"netcheck control: listening on {server.url}", file=sys.stderr, flush=True)
    await server.serve_forever()
