"""The control measures through the probe's pipeline, with the probe's guarantees.

Real local servers throughout (a DNS test server as the control's resolver, HTTP peers on
127.0.0.2, the one address the control's policy allows): a deadline that fires mid-way keeps
every step measured so far plus the timed-out one; a stage that timed out is tried once more;
the policy still refuses redirect hops to forbidden addresses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.control.limits import DestinationPolicy
from netcheck.control.measure import ControlConfig, measure_url
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab, stream_server

ALLOWED = "127.0.0.2"


def slow_redirect(location: str, delay: float) -> Any:
    """Answer a redirect to ``location`` after ``delay`` seconds."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await hs.read_request(reader)
        await asyncio.sleep(delay)
        if request is None:
            return
        path = request.path
        if path == "/":
            head = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            writer.write(head.encode())
        else:  # the second hop never answers: the URL's deadline fires while it waits
            await asyncio.sleep(30)
        await writer.drain()

    return client


@pytest.fixture
async def resolver() -> AsyncIterator[DnsServer]:
    async with DnsServer({"ok.test": [ALLOWED], "inside.test": ["127.0.0.1"]}) as server:
        yield server


def config(tmp_path: Path, resolver: DnsServer, **kw: Any) -> ControlConfig:
    base: dict[str, Any] = dict(
        token="t",
        trust=TlsLab(tmp_path).trust,
        policy=DestinationPolicy.from_specs([f"{ALLOWED}/32"]),
        resolvers=[resolver.address],
        timeout=2.0,
    )
    base.update(kw)
    return ControlConfig(**base)


async def test_deadline_mid_way_keeps_every_step_and_the_timed_out_one(
    tmp_path: Path, resolver: DnsServer
) -> None:
    async with stream_server(slow_redirect("/next", 0.3), host=ALLOWED) as (_, port):
        cfg = config(tmp_path, resolver, deadline=1.5)
        start = time.monotonic()
        measured = await measure_url(f"http://ok.test:{port}/", cfg)
        took = time.monotonic() - start
    assert measured.refused is None
    steps = measured.steps
    assert took < 2.5  # the URL's cap, not the per-step timeout (2 s) nor its retry
    assert {s.query_type for s in steps.dns} == {"A", "AAAA"}
    assert [(s.ip, s.failure) for s in steps.tcp] == [(ALLOWED, None)]
    first, cut = steps.http
    assert (first.status, first.location, first.failure) == (302, "/next", None)
    assert cut.url == f"http://ok.test:{port}/next"
    assert cut.failure == "generic_timeout_error"


async def test_a_timed_out_hop_is_tried_once_more_and_recorded(
    tmp_path: Path, resolver: DnsServer
) -> None:
    answered: list[float] = []

    async def late_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await hs.read_request(reader) is None:
            return  # the TCP stage's connect: it sends nothing
        if not answered:  # the first answer comes after the step's deadline
            answered.append(time.monotonic())
            await asyncio.sleep(5)
        body = b"<title>Allowed</title>"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    async with stream_server(late_once, host=ALLOWED) as (_, port):
        measured = await measure_url(f"http://ok.test:{port}/", config(tmp_path, resolver))
    steps = measured.steps
    assert [h.failure for h in steps.http] == ["generic_timeout_error", None]
    assert steps.http[-1].title == "Allowed"
    assert steps.retried == ["http"]


async def test_redirect_to_a_forbidden_name_is_still_refused(
    tmp_path: Path, resolver: DnsServer
) -> None:
    async with (
        hs.HttpServer(default=hs.page("<title>internal</title>")) as internal,
        stream_server(
            slow_redirect(f"http://inside.test:{internal.port}/admin", 0.0), host=ALLOWED
        ) as (_, port),
    ):
        measured = await measure_url(f"http://ok.test:{port}/", config(tmp_path, resolver))
    assert measured.refused == "redirect: inside.test resolves to 127.0.0.1 is a loopback address"
    assert measured.steps.http == []
    assert internal.requests == []
