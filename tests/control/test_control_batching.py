"""The probe asks the control in batches and paces itself to the allowance it advertises.

A real ``ControlServer`` (uvicorn on 127.0.0.1) with tight limits, a DNS test server as its
resolver and a page on 127.0.0.2 (the one address its policy allows); ``ControlClient`` as the
probe uses it: one ``evidence_for`` per target, all at once. Also an "older" control played by a
raw server that advertises nothing and answers 429 first, and the pure pacing helpers.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.control.client import ControlClient
from netcheck.control.limits import Allowance, backoff, retry_after
from netcheck.control.server import ControlServer
from tests.control.test_control import ALLOWED, TOKEN, make_config
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import closed_port, stream_server


async def allowed_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await hs.read_request(reader) is None:
        return  # the TCP stage's connect: it sends nothing
    body = b"<title>Allowed</title>"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


@pytest.fixture
async def page() -> AsyncIterator[int]:
    async with stream_server(allowed_page, host=ALLOWED) as (_, port):
        yield port


@pytest.fixture
async def resolver() -> AsyncIterator[DnsServer]:
    zone = {f"site{i}.test": [ALLOWED] for i in range(40)}
    async with DnsServer(zone) as server:
        yield server


def control(tmp_path: Path, resolver: DnsServer, **kw: Any) -> ControlServer:
    return ControlServer(make_config(tmp_path, resolver, **kw))


def urls(port: int, n: int) -> list[str]:
    return [f"http://site{i}.test:{port}/" for i in range(n)]


async def test_a_run_beyond_the_burst_is_paced_not_refused(
    tmp_path: Path, resolver: DnsServer, page: int
) -> None:
    async with control(tmp_path, resolver, max_urls=4, burst=6, rate=8.0) as srv:
        client = ControlClient(srv.url, TOKEN, timeout=20)
        found = await asyncio.gather(*(client.evidence_for(u) for u in urls(page, 30)))
    assert [e.error for e in found] == [None] * 30
    assert all(e.steps.http[-1].status == 200 for e in found)
    assert srv.answers[429] == 0  # paced by the advertised allowance, never turned away
    assert client.allowance is not None
    assert client.allowance.max_urls == 4
    assert 8 <= client.requests <= 10  # batches of at most 4, not one request per URL
    assert srv.answers[200] == client.requests


async def test_probes_sharing_an_address_back_off_and_all_get_evidence(
    tmp_path: Path, resolver: DnsServer, page: int
) -> None:
    async with control(tmp_path, resolver, max_urls=5, burst=5, rate=10.0) as srv:
        probes = [ControlClient(srv.url, TOKEN, timeout=20) for _ in range(3)]
        found = await asyncio.gather(*(p.evidence_for(u) for p in probes for u in urls(page, 12)))
    assert [e.error for e in found] == [None] * 36
    assert srv.answers[429] >= 1  # each probe's copy of the bucket ignores the others
    assert srv.answers[429] <= 2 * 9  # 9 batches: each retried once or twice, no stampede
    assert srv.answers[200] == sum(p.requests for p in probes) - srv.answers[429]


async def test_a_url_that_cannot_get_a_turn_says_so(
    tmp_path: Path, resolver: DnsServer, page: int
) -> None:
    async with control(tmp_path, resolver, max_urls=2, burst=2, rate=0.01) as srv:
        client = ControlClient(srv.url, TOKEN, timeout=5, patience=3)
        found = await asyncio.gather(*(client.evidence_for(u) for u in urls(page, 4)))
    assert [e.error for e in found[:2]] == [None, None]
    for late in found[2:]:
        assert late.error
        assert "rate limit (0.01 URL/s) left no turn within 3 s" in late.error
    assert srv.answers[429] == 0


async def test_a_batch_larger_than_the_control_takes_is_split(
    tmp_path: Path, resolver: DnsServer, page: int
) -> None:
    async with control(tmp_path, resolver, max_urls=2, burst=50, rate=1.0) as srv:
        client = ControlClient(srv.url, TOKEN, timeout=20)
        client.allowance = Allowance(max_urls=10)  # as if it had never read the advertisement
        found = await asyncio.gather(*(client.evidence_for(u) for u in urls(page, 6)))
    assert [e.error for e in found] == [None] * 6
    assert srv.answers[413] == 1
    assert srv.answers[200] == 3


async def test_a_control_that_is_down_or_refuses_the_token_is_not_asked_per_batch(
    tmp_path: Path, resolver: DnsServer, page: int
) -> None:
    async with closed_port() as (host, port):
        down = ControlClient(f"http://{host}:{port}", TOKEN, timeout=5)
        found = await asyncio.gather(*(down.evidence_for(u) for u in urls(page, 30)))
    assert {e.error for e in found} == {down.down}
    assert "cannot reach the control: ConnectError" in (down.down or "")
    assert down.requests == 0  # /v1/health already said so
    async with control(tmp_path, resolver, max_urls=3, burst=100, rate=1.0) as srv:
        wrong = ControlClient(srv.url, "not-the-token", timeout=5)
        found = await asyncio.gather(*(wrong.evidence_for(u) for u in urls(page, 30)))
    assert {e.error for e in found} == {"control answered 403: wrong token"}
    assert srv.answers[403] == wrong.requests <= wrong.parallel  # not 10 batches of 403s


async def test_an_older_control_that_answers_429_is_retried_after_retry_after() -> None:
    seen: list[float] = []

    async def older(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await hs.read_request(reader)
        if req is None:
            return
        if req.path == "/v1/health":
            body, status, extra = b'{"ok": true}', 200, ""
        else:
            seen.append(time.monotonic())
            size = int(req.header("content-length") or 0)
            asked = json.loads(await reader.readexactly(size))["urls"]
            results = [{"url": u, "refused": None, "steps": {}} for u in asked]
            body = json.dumps({"measured_at": "2024-01-01T00:00:00Z", "results": results}).encode()
            status, extra = (429, "Retry-After: 1\r\n") if len(seen) == 1 else (200, "")
        head = f"HTTP/1.1 {status} X\r\n{extra}Content-Length: {len(body)}\r\nConnection: close"
        writer.write(head.encode() + b"\r\n\r\n" + body)
        await writer.drain()

    async with stream_server(older) as (host, port):
        client = ControlClient(f"http://{host}:{port}", TOKEN, timeout=10)
        found = await client.evidence(["http://a.test/", "http://b.test/"])
    assert all(e.error is None for e in found.values())
    assert len(seen) == 2
    assert seen[1] - seen[0] >= 1.0
    assert client.allowance is not None
    assert client.allowance.rate is None


# --- the pure pacing helpers ----------------------------------------------------------------------


def test_backoff_honours_retry_after_and_spreads_retries() -> None:
    waits = [backoff(2.0, retry=1) for _ in range(200)]
    assert min(waits) >= 2.0
    assert max(waits) <= 3.0
    assert statistics.pstdev(waits) > 0.1  # not every batch at the same moment
    assert max(backoff(0.0, retry=20) for _ in range(50)) <= 30.0  # capped


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == pytest.approx(10.0)
    assert retry_after(None) == 1.0
    assert retry_after("soon") == 1.0


def test_allowance_reads_both_policy_forms_and_paces() -> None:
    old = Allowance.from_headers(
        {"ratelimit-policy": "200;w=200", "ratelimit-remaining": "5", "netcheck-max-urls": "10"}
    )
    assert (old.burst, old.rate, old.max_urls) == (200, 1.0, 10)
    new = Allowance.from_headers({"ratelimit-policy": '"default";q=100;w=50'})
    assert (new.burst, new.rate) == (100, 2.0)
    now = time.monotonic()
    assert old.wait_for(5, now) == 0.0
    old.spend(5, now)
    assert old.wait_for(10, now) == pytest.approx(10.0, abs=0.1)
    old.hold(now + 30)
    assert old.wait_for(1, now) == pytest.approx(30.0)
    assert Allowance.from_headers({}).wait_for(1000, now) == 0.0  # nothing advertised
