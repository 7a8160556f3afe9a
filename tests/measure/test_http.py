"""The HTTP stage against real local servers, normal and hostile (tests/servers/http.py).

Every hostname is pinned to 127.0.0.1 by the ``addresses`` callback: no resolver is asked.
Hostile peers are bounded in time (a hop ends within its deadline + 1 s) and in memory
(``body_length <= max_body`` whatever the server sends).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import ssl
import time
import zlib
from typing import Any

import pytest
import trustme

from netcheck import failures
from netcheck.measure.http import ProxyRefusal, measure_http, open_connect_tunnel
from netcheck.models import HttpStep
from tests.support.servers.http import (
    DENY_TITLE,
    ForwardProxy,
    Handler,
    HttpServer,
    Request,
    close_without_response,
    endless_chunked,
    garbage,
    gzip_bomb,
    huge_headers,
    page,
    redirect,
    reset_mid_body,
    trickle,
)

HOST = "www.example.test"
MAX_BODY = 65536


class Pinned:
    """The ``addresses`` callback: every name -> the given IPs; remembers what was asked."""

    def __init__(self, *ips: str) -> None:
        self.ips = list(ips)
        self.asked: list[str] = []

    async def __call__(self, name: str) -> list[str]:
        self.asked.append(name)
        return self.ips


async def fetch(
    url: str,
    *,
    addresses: Pinned | None = None,
    proxy: str | None = None,
    timeout: float = 2.0,
    **kwargs: Any,
) -> tuple[list[HttpStep], float]:
    start = time.monotonic()
    steps = await measure_http(
        url,
        addresses=addresses or Pinned("127.0.0.1"),
        proxy_for=lambda _url: proxy,
        timeout=timeout,
        t0=start,
        max_body=kwargs.pop("max_body", MAX_BODY),
        **kwargs,
    )
    return steps, time.monotonic() - start


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST, "cdn.example.test").configure_cert(ctx)
    return ctx


# --- normal exchanges ------------------------------------------------------------------------


async def test_page_fetched_from_pinned_address_with_original_host() -> None:
    body = "<html><head><title>\n  Fish &amp;\tChips </title></head><body>hello</body></html>"
    pinned = Pinned("127.0.0.1")
    async with HttpServer({"/": page(body, headers=[("X-One", "1"), ("X-Two", "2")])}) as srv:
        [step], _ = await fetch(srv.url("/"), addresses=pinned)
        [req] = srv.requests
    assert pinned.asked == [HOST]
    assert (step.status, step.ip, step.failure, step.proxy) == (200, "127.0.0.1", None, None)
    assert step.headers[:2] == [("X-One", "1"), ("X-Two", "2")]
    assert step.title == "Fish & Chips"
    assert step.body == body
    assert step.body_length == len(body)
    assert not step.body_truncated
    assert step.body_sha256 == hashlib.sha256(body.encode()).hexdigest()
    assert req.header("Host") == f"{HOST}:{srv.port}"
    assert "Mozilla/5.0" in (req.header("User-Agent") or "")
    assert req.header("Cookie") is None
    assert req.header("Authorization") is None
    assert step.runtime_ms > 0
    assert step.t0_ms >= 0


async def test_addresses_tried_in_order_until_one_connects() -> None:
    async with HttpServer({"/": page("ok")}) as srv:
        # the server listens on 127.0.0.1 only: 127.0.0.2 refuses
        [step], _ = await fetch(srv.url("/"), addresses=Pinned("127.0.0.2", "127.0.0.1"))
        [refused], _ = await fetch(srv.url("/"), addresses=Pinned("127.0.0.2"))
    assert (step.ip, step.status, step.failure) == ("127.0.0.1", 200, None)
    assert (refused.ip, refused.status, refused.failure) == (
        "127.0.0.2",
        None,
        "connection_refused",
    )


async def test_no_addresses_is_dns_no_answer_and_nothing_is_sent() -> None:
    async with HttpServer({"/": page("ok")}) as srv:
        [step], _ = await fetch(srv.url("/"), addresses=Pinned())
        assert srv.requests == []
    assert step.failure == failures.DNS_NO_ANSWER
    assert step.status is None


async def test_https_keeps_sni_and_host_and_does_not_verify(server_tls: ssl.SSLContext) -> None:
    # the client does not trust the trustme CA: the HTTP stage reads the page anyway
    async with HttpServer({"/": page("<title>secure</title>")}, ssl_context=server_tls) as srv:
        [step], _ = await fetch(srv.url("/"))
        [req] = srv.requests
    assert (step.status, step.title, step.ip, step.failure) == (200, "secure", "127.0.0.1", None)
    assert req.sni == HOST
    assert req.header("Host") == f"{HOST}:{srv.port}"


async def test_ca_verify_refuses_an_untrusted_certificate(server_tls: ssl.SSLContext) -> None:
    async with HttpServer({"/": page("x")}, ssl_context=server_tls) as srv:
        [step], _ = await fetch(srv.url("/"), ca_verify=True)
    assert step.failure == failures.SSL_UNKNOWN_AUTHORITY


async def test_redirects_recorded_hop_by_hop_with_chain_cookies_only() -> None:
    async with HttpServer() as srv:
        routes = srv.routes
        routes["/a"] = redirect("/b", headers=[("Set-Cookie", "session=s1; Path=/")])
        routes["/b"] = redirect(srv.url("/c", host="cdn.example.test"), status=301)
        routes["/c"] = redirect(srv.url("/d"), status=307)
        routes["/d"] = page("<title>landed</title>")
        pinned = Pinned("127.0.0.1")
        steps, _ = await fetch(srv.url("/a"), addresses=pinned)
        again, _ = await fetch(srv.url("/d"))
        cookies = [r.header("Cookie") for r in srv.requests]
        hosts = [r.header("Host") for r in srv.requests]
    assert [s.url for s in steps] == [
        srv.url("/a"),
        srv.url("/b"),
        srv.url("/c", host="cdn.example.test"),
        srv.url("/d"),
    ]
    assert [s.status for s in steps] == [302, 301, 307, 200]
    assert steps[0].location == "/b"
    assert steps[-1].location is None
    assert steps[-1].title == "landed"
    assert all(s.failure is None for s in steps)
    assert pinned.asked == [HOST, HOST, "cdn.example.test", HOST]
    assert hosts[2] == f"cdn.example.test:{srv.port}"
    # the cookie goes back to its own host only, and never into a new measurement
    assert cookies == [None, "session=s1", None, "session=s1", None]
    assert len(again) == 1


async def test_redirect_loop_ends_as_too_many_redirects() -> None:
    async with HttpServer({"/loop": redirect("/loop")}) as srv:
        steps, _ = await fetch(srv.url("/loop"), max_redirects=3)
        assert len(srv.requests) == 4
    assert len(steps) == 4
    assert [s.failure for s in steps] == [None, None, None, failures.HTTP_TOO_MANY_REDIRECTS]


async def test_proxy_is_chosen_again_at_each_hop() -> None:
    async with HttpServer({}) as srv, ForwardProxy() as proxy:
        srv.routes["/start"] = redirect(srv.url("/end", host="direct.example.test"))
        srv.routes["/end"] = page("end")
        start = time.monotonic()
        steps = await measure_http(
            srv.url("/start"),
            addresses=Pinned("127.0.0.1"),
            proxy_for=lambda url: None if "direct." in url else proxy.url,
            timeout=2.0,
            t0=start,
        )
        [via_proxy] = proxy.requests
    assert [(s.proxy, s.ip, s.status) for s in steps] == [
        (proxy.url, None, 302),
        (None, "127.0.0.1", 200),
    ]
    assert via_proxy.target == srv.url("/start")  # absolute-form through the proxy


# --- bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib header
    ],
)
async def test_content_encoding_decoded(encoding: str, encode: Any) -> None:
    html = b"<html><title>Zipped page</title>" + b"z" * 5000 + b"</html>"
    headers = [("Content-Type", "text/html"), ("Content-Encoding", encoding)]
    async with HttpServer({"/": page(encode(html), headers=headers)}) as srv:
        [step], _ = await fetch(srv.url("/"))
        [req] = srv.requests
    assert "br" not in (req.header("Accept-Encoding") or "")
    assert step.title == "Zipped page"
    assert step.body_length == len(html)
    assert step.body_sha256 == hashlib.sha256(html).hexdigest()
    assert step.failure is None


async def test_charset_and_body_excerpt() -> None:
    body = "<title>Caf\u00e9 d\u00e9j\u00e0</title>" + "\u00e9" * 500
    headers = [("Content-Type", "text/html; charset=ISO-8859-1")]
    async with HttpServer({"/": page(body.encode("latin-1"), headers=headers)}) as srv:
        [step], _ = await fetch(srv.url("/"), keep_body=30)
    assert step.title == "Caf\u00e9 d\u00e9j\u00e0"
    assert step.body == body[:30]
    assert step.body_length == len(body)


async def test_corrupt_gzip_is_an_invalid_response() -> None:
    headers = [("Content-Encoding", "gzip")]
    async with HttpServer(
        {"/": page(b"\x1f\x8b\x08\x00garbage-not-deflate" * 4, headers=headers)}
    ) as srv:
        [step], _ = await fetch(srv.url("/"))
    assert step.status == 200
    assert step.failure == failures.HTTP_INVALID_RESPONSE


# --- hostile peers ---------------------------------------------------------------------------

TIMEOUT = 1.0


@pytest.mark.parametrize(
    ("handler", "failure", "status"),
    [
        (trickle(0.05), failures.GENERIC_TIMEOUT, 200),
        (endless_chunked(interval=0.05), failures.GENERIC_TIMEOUT, 200),
        (huge_headers(), failures.HTTP_INVALID_RESPONSE, None),
        (garbage(), failures.HTTP_INVALID_RESPONSE, None),
        (reset_mid_body(), failures.CONNECTION_RESET, 200),
        (close_without_response(), failures.EOF_ERROR, None),
    ],
    ids=["trickle", "slow-chunked", "huge-headers", "garbage", "reset", "close"],
)
async def test_hostile_server(handler: Handler, failure: str, status: int | None) -> None:
    async with HttpServer({"/": handler}) as srv:
        [step], elapsed = await fetch(srv.url("/"), timeout=TIMEOUT)
    assert step.failure == failure
    assert step.status == status
    assert step.ip == "127.0.0.1"
    assert elapsed < TIMEOUT + 1.0
    assert (step.body_length or 0) <= MAX_BODY
    if status is not None:  # what arrived before the failure is kept as evidence
        assert step.headers
        assert (step.body_length or 0) > 0


async def test_endless_body_is_cut_at_the_cap() -> None:
    async with HttpServer({"/": endless_chunked()}) as srv:
        [step], elapsed = await fetch(srv.url("/"), timeout=TIMEOUT)
    assert (step.body_length, step.body_truncated, step.failure) == (MAX_BODY, True, None)
    assert elapsed < TIMEOUT + 1.0


async def test_gzip_bomb_never_exceeds_the_cap() -> None:
    async with HttpServer({"/": gzip_bomb(10 * 1024 * 1024)}) as srv:
        [step], elapsed = await fetch(srv.url("/"), timeout=TIMEOUT)
    assert (step.body_length, step.body_truncated, step.failure) == (MAX_BODY, True, None)
    assert step.body_sha256 == hashlib.sha256(b"\0" * MAX_BODY).hexdigest()
    assert elapsed < TIMEOUT + 1.0


# --- explicit proxies ------------------------------------------------------------------------


async def test_refused_connect_is_recorded_as_the_proxys_answer(
    server_tls: ssl.SSLContext,
) -> None:
    async with (
        HttpServer({"/": page("never")}, ssl_context=server_tls) as srv,
        ForwardProxy(deny=[".example.test"]) as proxy,
    ):
        steps, elapsed = await fetch(srv.url("/"), proxy=proxy.url, timeout=TIMEOUT)
        assert srv.requests == []
        [connect] = proxy.requests
    [step] = steps
    assert (connect.method, connect.target) == ("CONNECT", f"{HOST}:{srv.port}")
    assert step.url == srv.url("/")
    assert step.method == "CONNECT"
    assert (step.from_proxy, step.proxy, step.status) == (True, proxy.url, 403)
    assert ("X-Squid-Error", "ERR_ACCESS_DENIED 0") in step.headers
    assert step.title == DENY_TITLE
    assert step.failure == failures.HTTP_PROXY_REFUSED
    # the body was read by Content-Length on a kept-alive connection, not until close
    assert elapsed < 1.0


async def test_allowed_connect_fetches_the_page_through_the_tunnel(
    server_tls: ssl.SSLContext,
) -> None:
    pinned = Pinned("127.0.0.1")
    async with (
        HttpServer({"/": page("<title>tunnelled</title>")}, ssl_context=server_tls) as srv,
        ForwardProxy(allow=[HOST]) as proxy,
    ):
        [step], _ = await fetch(srv.url("/"), proxy=proxy.url, addresses=pinned)
        [req] = srv.requests
        [connect] = proxy.requests
    assert (step.status, step.title, step.failure) == (200, "tunnelled", None)
    assert (step.proxy, step.ip, step.from_proxy) == (proxy.url, None, False)
    assert connect.method == "CONNECT"
    assert req.sni == HOST
    assert req.header("Host") == f"{HOST}:{srv.port}"
    assert pinned.asked == []  # the proxy resolves names, not us


async def test_plain_http_goes_in_absolute_form_through_the_proxy() -> None:
    async with HttpServer({"/p": page("<title>via proxy</title>")}) as srv, ForwardProxy() as proxy:
        [step], _ = await fetch(srv.url("/p?q=1"), proxy=proxy.url)
        [seen] = proxy.requests
        [req] = srv.requests
    assert (step.status, step.title, step.proxy, step.ip) == (200, "via proxy", proxy.url, None)
    assert seen.method == "GET"
    assert seen.target == srv.url("/p?q=1")
    assert req.target == "/p?q=1"
    assert req.header("Host") == f"{HOST}:{srv.port}"


async def test_plain_http_denied_by_proxy_keeps_its_page() -> None:
    async with HttpServer({"/": page("x")}) as srv, ForwardProxy(deny=[HOST]) as proxy:
        [step], _ = await fetch(srv.url("/"), proxy=proxy.url)
        assert srv.requests == []
    assert step.status == 403
    assert step.title == DENY_TITLE
    assert ("X-Squid-Error", "ERR_ACCESS_DENIED 0") in step.headers


async def test_open_connect_tunnel_gives_a_usable_stream(server_tls: ssl.SSLContext) -> None:
    async with (
        HttpServer({"/": page("tls-ok")}, ssl_context=server_tls) as srv,
        ForwardProxy() as proxy,
    ):
        opened = await open_connect_tunnel(proxy.url, HOST, srv.port, timeout=2.0, t0=0.0)
        assert not isinstance(opened, ProxyRefusal)
        reader, writer = opened
        client_ctx = ssl.create_default_context()
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
        await writer.start_tls(client_ctx, server_hostname=HOST)
        writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(4096), 2.0)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"tls-ok")


async def _silent(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def test_connect_failures_are_data() -> None:
    async with HttpServer(default=_silent) as mute, HttpServer(default=garbage()) as junk:
        start = time.monotonic()
        silent = await open_connect_tunnel(
            mute.url("/", "127.0.0.1"), HOST, 443, timeout=TIMEOUT, t0=start
        )
        elapsed = time.monotonic() - start
        nonsense = await open_connect_tunnel(
            junk.url("/", "127.0.0.1"), HOST, 443, timeout=TIMEOUT, t0=start
        )
    down = await open_connect_tunnel("http://127.0.0.1:1", HOST, 443, timeout=TIMEOUT, t0=start)
    assert isinstance(silent, ProxyRefusal)
    assert isinstance(nonsense, ProxyRefusal)
    assert isinstance(down, ProxyRefusal)
    assert silent.step.failure == failures.GENERIC_TIMEOUT
    assert elapsed < TIMEOUT + 1.0
    assert nonsense.step.failure == failures.HTTP_INVALID_RESPONSE
    assert down.step.failure == failures.CONNECTION_REFUSED
    assert not down.step.from_proxy
    assert down.step.url == f"https://{HOST}/"


def _refusing(head: bytes, body: bytes, close: bool) -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(head + body)
        await w.drain()
        if not close:
            await asyncio.sleep(30)  # keep-alive: the reader must rely on the framing

    return handle


@pytest.mark.parametrize(
    ("head", "body", "close", "length", "truncated"),
    [
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\n<titl\r\n9\r\ne>Auth</t\r\n6\r\nitle>!\r\n0\r\n\r\n",
            False,
            20,
            False,
        ),
        (
            b"HTTP/1.0 403 Forbidden\r\n\r\n",
            b"<title>Auth</title>" + b"!" * 99999,
            True,
            4096,
            True,
        ),
    ],
    ids=["chunked", "until-close"],
)
async def test_refusal_body_framing(
    head: bytes, body: bytes, close: bool, length: int, truncated: bool
) -> None:
    async with HttpServer(default=_refusing(head, body, close)) as fake:
        start = time.monotonic()
        got = await open_connect_tunnel(
            fake.url("/", "127.0.0.1"), HOST, 443, timeout=TIMEOUT, t0=start, max_body=4096
        )
        elapsed = time.monotonic() - start
    assert isinstance(got, ProxyRefusal)
    assert got.step.from_proxy
    assert got.step.failure == failures.HTTP_PROXY_REFUSED
    assert got.step.title == "Auth"
    assert (got.step.body_length, got.step.body_truncated) == (length, truncated)
    assert elapsed < 0.5  # neither framing waited for the deadline


async def test_oversized_proxy_answer_is_invalid() -> None:
    async with HttpServer(default=huge_headers()) as fake:
        start = time.monotonic()
        got = await open_connect_tunnel(
            fake.url("/", "127.0.0.1"), HOST, 443, timeout=TIMEOUT, t0=start
        )
    assert isinstance(got, ProxyRefusal)
    assert (got.step.status, got.step.failure) == (None, failures.HTTP_INVALID_RESPONSE)
