"""``netcheck speed``: download (and upload) goodput per URL, measured cheaply and honestly.

In: ``--url`` (repeatable; no default internet URL: the catalogue's bandwidth hints are used when
present, else the command asks for one), ``--upload-url``, caps. Out: a table on stdout, or with
``--json`` one JSON object: ``{"results": [SpeedResult...], "live_ingest": {...}}`` where
``live_ingest`` says, for an upload, which catalogue stream levels its goodput sustains.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from netcheck.bandwidth.estimate import MAX_SECONDS
from netcheck.bandwidth.speed import DEFAULT_MAX_BYTES, measure_download, measure_upload
from netcheck.cli import stderr, stdout
from netcheck.errors import InputError
from netcheck.models import SpeedResult
from netcheck.netaddr import http_url_problem
from netcheck.targets import catalogue

MAX_SECONDS_LIMIT = 60.0
#: 10 GB: more is a typo, and no staff network should carry it for a test
MAX_BYTES_LIMIT = 10**10


def _check_url(url: str, flag: str) -> str:
    problem = http_url_problem(url)
    if problem is not None:
        raise InputError(problem, field=flag)
    return url


def live_readiness(
    upload_mbps: float | None, thresholds: dict[str, dict[str, float]]
) -> dict[str, dict[str, bool]]:
    """Per service and level, whether an upload goodput sustains the stream's bitrate."""
    return {
        service: {
            level: upload_mbps is not None and upload_mbps >= need for level, need in levels.items()
        }
        for service, levels in thresholds.items()
    }


async def _measure(
    urls: list[str], upload_url: str | None, max_bytes: int, max_seconds: float
) -> list[SpeedResult]:
    # one after the other: concurrent transfers would share (and split) the bottleneck
    results = [
        await measure_download(u, max_bytes=max_bytes, max_seconds=max_seconds) for u in urls
    ]
    if upload_url is not None:
        results.append(
            await measure_upload(upload_url, max_bytes=max_bytes, max_seconds=max_seconds)
        )
    return results


def _table(results: list[SpeedResult], ready: dict[str, Any]) -> None:
    table = Table(title="goodput")
    for name in ("url", "dir", "Mbit/s", "stable", "MB moved", "s", "RTT ms", "note"):
        table.add_column(name, overflow="fold")
    for r in results:
        table.add_row(
            r.url,
            r.direction,
            "-" if r.goodput_mbps is None else f"{r.goodput_mbps:.2f}",
            "yes" if r.stable else "inconclusive",
            f"{r.bytes / 1e6:.2f}",
            f"{r.seconds:.2f}",
            "-" if r.rtt_ms is None else f"{r.rtt_ms:.1f}",
            r.failure or ("" if r.stable else r.reason),
        )
    stdout.print(table)
    for service, levels in ready.items():
        ok = [lvl for lvl, yes in levels.items() if yes]
        stdout.print(f"live stream to {service}: " + (", ".join(ok) if ok else "not sustained"))


def speed(
    url: Annotated[
        list[str] | None,
        typer.Option("--url", metavar="URL", help="Large object to download (repeatable)."),
    ] = None,
    upload_url: Annotated[
        str | None,
        typer.Option("--upload-url", metavar="URL", help="URL that accepts (and discards) a POST."),
    ] = None,
    max_bytes: Annotated[
        int,
        typer.Option("--max-bytes", metavar="BYTES", help="Stop a transfer after this many bytes."),
    ] = DEFAULT_MAX_BYTES,
    max_seconds: Annotated[
        float,
        typer.Option(
            "--max-seconds", metavar="SECONDS", help="Stop a transfer after this many seconds."
        ),
    ] = MAX_SECONDS,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Measure goodput; stops once the windows agree: far fewer bytes than a 10 s test."""
    urls = [_check_url(u, "--url") for u in (url or [])]
    if not urls and upload_url is None:
        urls = [u for u in catalogue.bandwidth_hints().values() if u]
        if not urls:
            raise InputError(
                "give a URL of a large object to download (the catalogue names none, and"
                " netcheck never measures someone's server by default)",
                field="--url",
            )
    if upload_url is not None:
        _check_url(upload_url, "--upload-url")
    if not 0 < max_bytes <= MAX_BYTES_LIMIT:
        raise InputError(f"must be from 1 to {MAX_BYTES_LIMIT} bytes", field="--max-bytes")
    if not 0 < max_seconds <= MAX_SECONDS_LIMIT:
        raise InputError(f"must be in (0, {MAX_SECONDS_LIMIT:g}]", field="--max-seconds")
    if not json_out:
        stderr.print(f"measuring {len(urls) + (upload_url is not None)} transfer(s)...")
    results = asyncio.run(_measure(urls, upload_url, max_bytes, max_seconds))
    uploads = [r for r in results if r.direction == "upload"]
    ready = (
        live_readiness(uploads[0].goodput_mbps, catalogue.live_ingest_thresholds())
        if uploads
        else {}
    )
    if json_out:
        payload = {"results": [r.model_dump(mode="json") for r in results], "live_ingest": ready}
        print(json.dumps(payload, ensure_ascii=False))
        return
    _table(results, ready)
