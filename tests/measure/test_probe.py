"""The whole pipeline against real local servers: each technique named from real evidence.

Every target resolves through a real DNS server on loopback (``--resolver``), then meets a real
TCP/TLS/HTTP peer that behaves like the filtering technique under test. Nothing leaves 127/8.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from netcheck.measure.pipeline import Limits, Pipeline
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.measure.proxy import ProxySettings
from netcheck.models import Expect, Result, Target
from tests.support.paths import TESTS
from tests.support.servers import http as hs
from tests.support.servers.dns import Delay, DnsServer
from tests.support.servers.tls import (
    TlsLab,
    closed_port,
    tcp_black_hole,
    tls_black_hole_server,
    tls_reset_server,
)

HOST = "www.example.test"
LOOPBACK = ["127.0.0.0/8", "::1/128"]
REAL_PAGE = (
    b"<html><head><title>Example Service</title></head>"
    b"<body>Welcome to the example service, the real one.</body></html>"
)


def target(url: str, **expect: Any) -> Target:
    return Target(
        url=url,
        service="example",
        function="view",
        expect=Expect(cert_names=[HOST], **expect),
    )


def config(lab: TlsLab, dns: DnsServer, **kw: Any) -> ProbeConfig:
    base: dict[str, Any] = dict(
        trust=lab.trust,
        proxy=ProxySettings(mode="none"),
        resolvers=[dns.address],
        allow_nets=LOOPBACK,
        timeout=1.0,
    )
    base.update(kw)
    return ProbeConfig(**base)


async def measure(cfg: ProbeConfig, tgt: Target) -> Result:
    return await Probe(cfg).measure(tgt)


@pytest.fixture
def lab(tmp_path: Path) -> TlsLab:
    return TlsLab(tmp_path)


@contextlib.asynccontextmanager
async def dns_for(zone: Mapping[str, list[str]], **behaviours: Any) -> AsyncIterator[DnsServer]:
    async with DnsServer(zone, behaviours=behaviours) as server:
        yield server


async def test_accessible_https_records_every_step(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.page(REAL_PAGE), ssl_context=lab.good_context(HOST)) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url(), title_contains=["Example"]))
    assert result.verdict == "accessible", result.evidence
    assert result.technique is None
    assert not result.intercepted
    steps = result.steps
    assert {s.query_type for s in steps.dns} == {"A", "AAAA"}
    assert [s.ip for s in steps.tcp] == ["127.0.0.1"]
    assert steps.tcp[0].failure is None
    assert steps.tls[0].trusted_public is True
    assert steps.tls[0].hostname_matches is True
    assert steps.http[-1].status == 200
    assert steps.http[-1].title == "Example Service"
    assert srv.requests[0].header("host") == f"{HOST}:{srv.port}"
    assert srv.requests[0].sni == HOST


@pytest.mark.parametrize(
    ("behaviour", "technique"),
    [
        ("nxdomain", "dns-nxdomain"),
        ("nodata", "dns-nodata"),
        ("servfail", "dns-servfail"),
        ("refused", "dns-refused"),
        ("drop", "dns-timeout"),
    ],
)
async def test_dns_techniques(lab: TlsLab, behaviour: str, technique: str) -> None:
    async with dns_for({}, **{HOST: behaviour}) as dns:
        result = await measure(config(lab, dns), target(f"https://{HOST}/"))
    assert (result.verdict, result.technique) == ("blocked", technique), result.evidence
    assert HOST in result.evidence


async def test_dns_sinkhole_to_bogon(lab: TlsLab) -> None:
    # 0.0.0.0 is a sinkhole answer; connecting to it stays on this machine
    async with closed_port() as (_, port), dns_for({HOST: ["0.0.0.0"]}) as dns:
        result = await measure(config(lab, dns, allow_nets=[]), target(f"https://{HOST}:{port}/"))
    assert (result.verdict, result.technique) == ("blocked", "dns-sinkhole"), result.evidence


async def test_allow_net_makes_a_private_answer_legitimate(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.page(REAL_PAGE), ssl_context=lab.good_context(HOST)) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        plain = await measure(config(lab, dns, allow_nets=[]), target(srv.url()))
        allowed = await measure(config(lab, dns, allow_nets=["127.0.0.0/8"]), target(srv.url()))
    assert plain.technique == "dns-sinkhole"
    assert allowed.verdict == "accessible", allowed.evidence


async def test_dns_mismatch_when_resolvers_disagree(lab: TlsLab) -> None:
    # the honest resolver leads to the real server; the lying one to a server whose certificate
    # is for another name
    # the URL carries one port: the liar is reached at 127.0.0.2 on the real server's port,
    # through a relay to its own port
    async with (
        hs.HttpServer(default=hs.page(REAL_PAGE), ssl_context=lab.good_context(HOST)) as real,
        hs.HttpServer(
            default=hs.page(b"<title>Other</title>"), ssl_context=lab.wrong_name_context()
        ) as liar,
        _relay("127.0.0.2", real.port, ("127.0.0.1", liar.port)),
        dns_for({HOST: ["127.0.0.1"]}) as honest,
        dns_for({HOST: ["127.0.0.2"]}) as lying,
    ):
        cfg = config(lab, honest, resolvers=[honest.address, lying.address])
        result = await measure(cfg, target(real.url()))
    assert (result.verdict, result.technique) == ("blocked", "dns-mismatch"), result.evidence


@contextlib.asynccontextmanager
async def _relay(host: str, port: int, to: tuple[str, int]) -> AsyncIterator[None]:
    """A TCP relay listening on host:port that forwards to ``to`` (same-port trick)."""

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        w.close()

    async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(*to)
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    server = await asyncio.start_server(on_client, host, port)
    try:
        yield
    finally:
        server.close()


@pytest.mark.parametrize(
    ("peer", "technique"),
    [
        (closed_port, "tcp-reset"),
        (tcp_black_hole, "tcp-timeout"),
        (tls_reset_server, "tls-reset"),  # like an SNI filter
        (tls_black_hole_server, "tls-timeout"),
    ],
)
async def test_connection_level_blocks(
    lab: TlsLab, peer: Callable[[], AbstractAsyncContextManager[tuple[str, int]]], technique: str
) -> None:
    async with peer() as (_, port), dns_for({HOST: ["127.0.0.1"]}) as dns:
        result = await measure(config(lab, dns), target(f"https://{HOST}:{port}/"))
    assert (result.verdict, result.technique) == ("blocked", technique), result.evidence


async def test_tls_mismatch(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.page(REAL_PAGE), ssl_context=lab.wrong_name_context()) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url()))
    assert (result.verdict, result.technique) == ("blocked", "tls-mismatch"), result.evidence


async def test_interception_passthrough_is_accessible_but_flagged(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.page(REAL_PAGE), ssl_context=lab.corporate_context(HOST)) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url(), title_contains=["Example"]))
    assert result.verdict == "accessible", result.evidence
    assert result.intercepted is True
    assert "Agency Interception CA" in result.evidence


async def test_interception_serving_a_block_page(lab: TlsLab) -> None:
    page = (TESTS / "data" / "blockpages").glob("fortiguard*.html")
    body = next(iter(page)).read_bytes()
    async with (
        hs.HttpServer(
            default=hs.page(body, status=200), ssl_context=lab.corporate_context(HOST)
        ) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url(), title_contains=["Example"]))
    assert (result.verdict, result.technique) == ("blocked", "http-blockpage"), result.evidence
    assert result.vendor == "fortiguard"
    assert result.intercepted is True


async def test_proxy_denied_on_connect(lab: TlsLab) -> None:
    async with (
        hs.ForwardProxy(deny=[".example.test"]) as proxy,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        cfg = config(lab, dns, proxy=ProxySettings(mode="explicit", url=proxy.url))
        result = await measure(cfg, target(f"https://{HOST}:443/"))
    assert (result.verdict, result.technique) == ("blocked", "proxy-denied"), result.evidence
    assert result.vendor == "squid"
    refusal = result.steps.http[0]
    assert refusal.from_proxy
    assert refusal.status == 403
    assert ("X-Squid-Error", "ERR_ACCESS_DENIED 0") in refusal.headers


async def test_proxy_allowed_connect_is_accessible(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.page(REAL_PAGE), ssl_context=lab.good_context(HOST)) as srv,
        hs.ForwardProxy() as proxy,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        cfg = config(lab, dns, proxy=ProxySettings(mode="explicit", url=proxy.url))
        result = await measure(cfg, target(srv.url(), title_contains=["Example"]))
    assert result.verdict == "accessible", result.evidence
    assert result.steps.tls[0].proxy == proxy.url
    assert result.steps.tls[0].trusted_public is True
    assert result.steps.tcp == []  # through a proxy, the probe never connects to the origin


async def test_squid_deny_page_over_plain_http(lab: TlsLab) -> None:
    async with (
        hs.ForwardProxy(deny=[".example.test"]) as proxy,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        cfg = config(lab, dns, proxy=ProxySettings(mode="explicit", url=proxy.url))
        result = await measure(cfg, target(f"http://{HOST}/"))
    assert (result.verdict, result.technique) == ("blocked", "http-blockpage"), result.evidence
    assert result.vendor == "squid"


async def test_redirect_to_a_vendor_block_url(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(
            routes={
                "/": hs.redirect("http://127.0.0.1:1/php/urlblock.php?args=abc&url=example"),
            }
        ) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url()))
    assert (result.verdict, result.technique) == ("blocked", "http-redirect"), result.evidence
    assert result.vendor == "paloalto"


@pytest.mark.parametrize(
    ("status", "reason", "found"),
    [
        # RFC 7725's status is a filter's (or a court's) answer by itself
        (451, "Unavailable For Legal Reasons", ("blocked", "http-status")),
        # a bare 403 with no sign of a filter may be the site's own front: doubt, not blame
        (403, "Forbidden", ("inconclusive", None)),
    ],
)
async def test_http_status_on_plain_http(
    lab: TlsLab, status: int, reason: str, found: tuple[str, str | None]
) -> None:
    async with (
        hs.HttpServer(
            default=hs.page(b"<html><body>nope</body></html>", status=status, reason=reason)
        ) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url()))
    assert (result.verdict, result.technique) == found, result.evidence


async def test_http_reset(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.reset_mid_body()) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        result = await measure(config(lab, dns), target(srv.url()))
    assert (result.verdict, result.technique) == ("blocked", "http-reset"), result.evidence


async def test_http_timeout_on_a_trickling_server(lab: TlsLab) -> None:
    async with (
        hs.HttpServer(default=hs.trickle(0.05)) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        start = time.monotonic()
        result = await measure(config(lab, dns), target(srv.url()))
        elapsed = time.monotonic() - start
    assert (result.verdict, result.technique) == ("blocked", "http-timeout"), result.evidence
    assert elapsed < 3.0


async def test_hostile_peers_do_not_stop_the_others(lab: TlsLab) -> None:
    """A gzip bomb, huge headers, a redirect loop, garbage and a redirect to a non-web scheme,
    next to a good target."""
    async with (
        hs.HttpServer(
            routes={
                "/bomb": hs.gzip_bomb(),
                "/headers": hs.huge_headers(),
                "/loop": hs.redirect("/loop"),
                "/garbage": hs.garbage(),
                "/ftp": hs.redirect("ftp://files.example.test/x"),
                "/": hs.page(REAL_PAGE),
            }
        ) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        paths = ("/bomb", "/headers", "/loop", "/garbage", "/ftp", "/")
        targets = [target(srv.url(p)) for p in paths]
        got: list[Result] = []
        start = time.monotonic()
        await Probe(config(lab, dns, max_body=65536)).run(targets, got.append)
        elapsed = time.monotonic() - start
    by_path = {r.target.url.rsplit("/", 1)[-1]: r for r in got}
    assert len(got) == 6, [r.target.url for r in got]
    assert elapsed < 6
    assert by_path[""].verdict == "accessible"
    bomb = by_path["bomb"].steps.http[-1]
    assert bomb.body_length is not None
    assert bomb.body_length <= 65536
    assert bomb.body_truncated
    assert by_path["headers"].steps.http[-1].failure == "http_invalid_response"
    assert by_path["loop"].steps.http[-1].failure == "http_too_many_redirects"
    loop = by_path["loop"].steps
    assert len(loop.http) == 11 + (loop.retried == ["http"])  # a hop timed out on a busy box
    assert by_path["garbage"].steps.http[-1].failure == "http_invalid_response"
    assert by_path["ftp"].steps.http[-1].failure == "http_request_failed"
    assert by_path["ftp"].steps.http[-1].failure == "http_request_failed"


async def test_black_holed_targets_cost_about_two_timeouts(lab: TlsLab) -> None:
    """Sixty black-holed targets, default concurrency: one TCP timeout and its retry, not sixty."""
    names = {f"t{i}.example.test": ["127.0.0.1"] for i in range(60)}
    async with tcp_black_hole() as (_, port), dns_for(names) as dns:
        targets = [target(f"https://{name}:{port}/") for name in names]
        got: list[Result] = []
        start = time.monotonic()
        await Probe(config(lab, dns, timeout=1.0)).run(targets, got.append)
        elapsed = time.monotonic() - start
    assert {r.technique for r in got} == {"tcp-timeout"}
    assert {tuple(r.steps.retried) for r in got} == {("tcp",)}
    assert elapsed < 4.0  # sixty sequential timeouts would take 60 s


# --- a busy machine is not a blocked network (issue 13 §2) ---------------------------------------


def slow_page(delay: float, body: bytes = REAL_PAGE) -> hs.Handler:
    """A working origin that takes ``delay`` seconds to the first byte."""

    async def handle(req: hs.Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay)
        await hs.page(body)(req, r, w)

    return handle


async def test_slow_but_working_origin_stays_accessible(lab: TlsLab) -> None:
    """3.5 s to the first byte at the default 5 s timeout: slow, not blocked, no retry."""
    async with (
        hs.HttpServer(default=slow_page(3.5)) as srv,
        dns_for({HOST: ["127.0.0.1"]}) as dns,
    ):
        cfg = config(lab, dns, timeout=ProbeConfig.timeout)
        result = await measure(cfg, target(srv.url(), title_contains=["Example"]))
    assert result.verdict == "accessible", result.evidence
    assert result.steps.http[-1].status == 200
    assert result.steps.http[-1].runtime_ms >= 3500
    assert result.steps.retried == []
    assert len(srv.requests) == 1


def block_the_loop(after: float, seconds: float) -> asyncio.TimerHandle:
    """Make this process busy: the event loop runs nothing for ``seconds``."""
    return asyncio.get_running_loop().call_later(after, time.sleep, seconds)


async def test_an_answer_the_busy_probe_missed_is_tried_once_more(lab: TlsLab) -> None:
    """The DNS server (its own thread) answers after 0.3 s while this loop is stuck for 1.3 s:
    the query times out on the probe's side only; its retry gets the answer."""
    with DnsServer({HOST: ["127.0.0.1"]}, behaviours={HOST: Delay(0.3, "answer")}) as dns:
        async with hs.HttpServer(default=hs.page(REAL_PAGE)) as srv:
            block_the_loop(0.1, 1.3)
            result = await measure(config(lab, dns), target(srv.url()))
    assert result.verdict == "accessible", result.evidence
    assert result.steps.retried == ["dns"]
    assert [s.failure for s in result.steps.dns[:2]] == ["generic_timeout_error"] * 2
    assert result.steps.loop_lag_ms is not None
    assert result.steps.loop_lag_ms >= 1000


async def test_a_timeout_while_the_probe_was_busy_is_inconclusive(lab: TlsLab) -> None:
    """A black hole: two 1 s connects (the first and its retry). A stall during the first
    attempt only is no excuse (the retry timed out on a quiet loop); one over the retry's
    deadline is."""
    async with tcp_black_hole() as (_, port), dns_for({HOST: ["127.0.0.1"]}) as dns:
        block_the_loop(0.3, 0.6)  # inside the first attempt
        quiet = await measure(config(lab, dns), target(f"https://{HOST}:{port}/"))
        block_the_loop(1.6, 0.8)  # over the retry's deadline (DNS ~0.2 s, then 1 s + 1 s)
        busy = await measure(config(lab, dns), target(f"https://{HOST}:{port}/"))
    assert (quiet.verdict, quiet.technique) == ("blocked", "tcp-timeout"), quiet.evidence
    assert quiet.steps.retried == ["tcp"]
    assert [t.failure for t in quiet.steps.tcp] == ["generic_timeout_error"] * 2
    assert (busy.verdict, busy.technique) == ("inconclusive", None), busy.evidence
    assert "the probe's own machine was busy" in busy.evidence
    assert busy.steps.loop_lag_ms is not None
    assert busy.steps.loop_lag_ms >= 700


async def test_deadline_during_a_hop_a_hostile_location_led_to(lab: TlsLab) -> None:
    """``http://[bad`` is no URL to urllib (unclosed bracket) but httpx follows it (to host
    ``%5bbad``); when the URL's cap fires during that hop, the cut step names the hop as the
    HTTP stage fetched it, and the measurement still returns (it raised ValueError)."""
    pipeline = Pipeline(
        lab.trust,
        limits=Limits(timeout=3.0, deadline=1.0, retry_timeouts=False),
        resolvers=None,
    )
    async with (
        hs.HttpServer(default=hs.redirect("http://[bad")) as srv,
        dns_for({HOST: ["127.0.0.1"]}, **{"%5bbad": Delay(5.0, "answer")}) as dns,
    ):
        log = await replace(pipeline, resolvers=[dns.address]).measure(srv.url())
    first, cut = log.http
    assert (first.status, first.location) == (302, "http://[bad")
    assert cut.failure == "generic_timeout_error"
    assert cut.url == "http://%5bbad"
