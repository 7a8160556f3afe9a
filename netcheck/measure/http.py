"""The HTTP stage: GET one URL, follow redirects hop by hop, record every exchange.

In: a URL; ``addresses`` (hostname -> the IPs the DNS stage found, so no system resolver is
asked); ``proxy_for`` (URL -> proxy URL or None for DIRECT, asked again at every hop); a
per-hop deadline; ``t0`` (the target's start, a ``time.monotonic()`` value).
Out: ``list[HttpStep]``, one per hop, the last one carrying the failure if any. Nothing raises
for a network failure: every exception becomes a failure string (``failures.py``).

Also ``open_connect_tunnel`` (a CONNECT through an explicit proxy, for this stage and the TLS
stage): an open stream pair, or a ``ProxyRefusal`` whose step holds the proxy's own answer.

A proxy's 407 is answered when the run has a way to (``proxy_auth``: URL -> ``AuthSession``,
see ``proxyauth``), on the same connection while the proxy keeps it open (NTLM needs that);
the step records the scheme used (``proxy_auth``), never the credentials. A 407 that stays is
the proxy's own answer (``from_proxy``): evidence that it wants what the probe cannot give.

Why the plumbing is ours and not httpx's defaults:
- direct hops connect to the DNS stage's addresses (pinned) while keeping Host and SNI, through
  an httpcore network backend over asyncio streams;
- TLS here never verifies: a block page served by an intercepting proxy must still be read
  (trust is the TLS stage's job); ALPN offers http/1.1 only;
- Content-Encoding is decoded here with bounded decompressors, so a gzip bomb cannot grow past
  ``max_body`` decoded bytes; the raw bytes read are capped at ``max_body`` too;
- a refused CONNECT is evidence (squid's 403 page), so we speak CONNECT ourselves and read it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from netcheck import failures
from netcheck.measure.body import BodyReader, parse_head
from netcheck.measure.errmap import failure_from_exception
from netcheck.measure.proxyauth import MAX_LEGS, AuthSession
from netcheck.models import HttpStep
from netcheck.netaddr import is_ip_literal

Resolve = Callable[[str], Awaitable[list[str]]]
ProxyFor = Callable[[str], str | None]
ProxyAuth = Callable[[str], AuthSession]

USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSER_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
    # only what BodyReader decodes with a bound; "br" is never offered
    "Accept-Encoding": "gzip, deflate",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HEAD_LIMIT = 65536  # cap on a proxy's CONNECT answer head (status line + headers)


def unverified_context() -> ssl.SSLContext:
    """TLS that reads whatever answers: no chain or name check, http/1.1 only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    # old filtering appliances still serve their block pages over TLS 1.0 and weak ciphers
    try:
        with warnings.catch_warnings():  # deprecated for clients that trust; we only read
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    return ctx


# --- httpcore plumbing over asyncio streams -------------------------------------------------


class _Stream(httpcore.AsyncNetworkStream):
    """An asyncio stream pair seen as an httpcore stream; deadlines come from asyncio.timeout."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self.writer.write(buffer)
            await self.writer.drain()

    async def aclose(self) -> None:
        # abort, not close: a TLS close waits for the peer's close_notify, a hostile peer never
        # sends it, and nothing we could still write matters once the exchange is over.
        self.writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self.writer.start_tls(ssl_context, server_hostname=server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self.writer.get_extra_info("ssl_object")
        if info == "server_addr":
            return self.writer.get_extra_info("peername")
        if info == "client_addr":
            return self.writer.get_extra_info("sockname")
        if info == "is_readable":
            return False
        return None


class _Backend(httpcore.AsyncNetworkBackend):
    """connect_tcp ignores name resolution: it tries ``pinned`` addresses in order (when given),
    or hands out an already open tunnel, or connects to the host as named (a proxy)."""

    def __init__(self, pinned: list[str] | None = None, tunnel: _Stream | None = None) -> None:
        self.pinned = pinned
        self.tunnel = tunnel
        self.used_ip: str | None = None

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if self.tunnel is not None:
            stream, self.tunnel = self.tunnel, None
            return stream
        error: OSError | None = None
        for ip in self.pinned if self.pinned is not None else [host]:
            self.used_ip = ip if self.pinned is not None else None
            try:
                reader, writer = await asyncio.open_connection(ip, port)
            except OSError as exc:
                error = exc
                continue
            return _Stream(reader, writer)
        assert error is not None
        raise error

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._response.aiter_stream():
            yield part

    async def aclose(self) -> None:
        await self._response.aclose()


class _Transport(httpx.AsyncBaseTransport):
    """The least httpx needs to run over an httpcore pool or proxy we built ourselves."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# --- one hop ---------------------------------------------------------------------------------


@dataclass
class _Hop:
    """What one exchange learned so far; kept when the deadline or an error cuts it short."""

    url: str
    max_body: int
    keep_body: int
    proxy: str | None = None
    ip: str | None = None
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: BodyReader | None = None
    cookies: httpx.Cookies = field(default_factory=httpx.Cookies)
    auth: AuthSession | None = None

    def step(self, failure: str | None, start: float, t0: float) -> HttpStep:
        location = next((v for k, v in self.headers if k.lower() == "location"), None)
        facts = self.body.facts(self.headers, self.keep_body) if self.body is not None else {}
        if failure is None and self.body is not None and self.body.decode_error:
            failure = failures.HTTP_INVALID_RESPONSE
        return HttpStep(
            url=self.url,
            ip=self.ip,
            proxy=self.proxy,
            # through a forwarding proxy, a 407 can only be the proxy's own answer
            from_proxy=self.proxy is not None and self.status == 407,
            proxy_auth=self.auth.used if self.auth is not None else None,
            status=self.status,
            headers=self.headers,
            location=location,
            failure=failure,
            t0_ms=(start - t0) * 1000.0,
            runtime_ms=(time.monotonic() - start) * 1000.0,
            **facts,
        )


async def _exchange(
    hop: _Hop,
    url: httpx.URL,
    backend: _Backend,
    pool: httpcore.AsyncConnectionPool,
) -> None:
    transport = _Transport(pool)
    async with httpx.AsyncClient(
        transport=transport,
        cookies=hop.cookies,
        headers=BROWSER_HEADERS,
        follow_redirects=False,
        trust_env=False,  # no .netrc, no env proxies: routing is proxy_for's job
        timeout=None,  # the deadline is the caller's asyncio.timeout
    ) as client:
        answer: str | None = None
        for _ in range(MAX_LEGS + 1):
            extra = {"Proxy-Authorization": answer} if answer else None
            async with client.stream("GET", url, headers=extra) as response:
                hop.ip = backend.used_ip
                hop.status = response.status_code
                hop.headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ]
                hop.cookies = client.cookies
                hop.body = BodyReader(response.headers.get("content-encoding"), hop.max_body)
                async for chunk in response.aiter_raw():
                    if hop.body.feed(chunk):
                        break
            # a fully read 407 leaves the connection in the pool: the next leg reuses it
            if hop.status != 407 or hop.auth is None or hop.proxy is None:
                return
            answer = await hop.auth.respond(hop.headers, "GET", str(url))
            if answer is None:
                return


async def _one_hop(
    hop: _Hop,
    url: httpx.URL,
    addresses: Resolve,
    timeout: float,
    t0: float,
    ssl_context: ssl.SSLContext,
) -> HttpStep:
    start = time.monotonic()
    deadline = asyncio.get_running_loop().time() + timeout
    backend: _Backend | None = None
    try:
        if url.scheme not in ("http", "https") or not url.host:
            return hop.step(failures.HTTP_REQUEST_FAILED, start, t0)
        if hop.proxy is not None and url.scheme == "https":
            opened = await open_connect_tunnel(
                hop.proxy,
                url.host,
                url.port or 443,
                timeout=timeout,
                t0=t0,
                max_body=hop.max_body,
                auth=hop.auth,
            )
            if isinstance(opened, ProxyRefusal):
                return opened.step.model_copy(update={"url": hop.url})
            backend = _Backend(tunnel=_Stream(*opened))
            pool = httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)
        elif hop.proxy is not None:
            backend = _Backend()
            pool = httpcore.AsyncHTTPProxy(proxy_url=hop.proxy, network_backend=backend)
        else:
            async with asyncio.timeout_at(deadline):
                ips = [url.host] if is_ip_literal(url.host) else await addresses(url.host)
            if not ips:
                return hop.step(failures.DNS_NO_ANSWER, start, t0)
            backend = _Backend(pinned=list(ips))
            pool = httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)
        async with asyncio.timeout_at(deadline):
            await _exchange(hop, url, backend, pool)
    except Exception as exc:  # noqa: BLE001 - a failure is data: record what had arrived
        hop.ip = hop.ip or (backend.used_ip if backend is not None else None)
        return hop.step(failure_from_exception(exc), start, t0)
    return hop.step(None, start, t0)


async def measure_http(
    url: str,
    *,
    addresses: Resolve,
    proxy_for: ProxyFor,
    timeout: float,
    t0: float,
    max_body: int = 262144,
    max_redirects: int = 10,
    keep_body: int = 65536,
    ca_verify: bool = False,
    into: list[HttpStep] | None = None,
    proxy_auth: ProxyAuth | None = None,
) -> list[HttpStep]:
    """GET ``url`` and follow up to ``max_redirects`` redirects; one HttpStep per hop.

    ``into``: the list hops are appended to as they end (and returned), so a caller whose own
    deadline cuts the chain short keeps the hops already measured. ``proxy_auth`` gives a fresh
    answerer to a proxy's 407 per hop (None: a 407 stands)."""
    ssl_context = ssl.create_default_context() if ca_verify else unverified_context()
    if ca_verify:
        ssl_context.set_alpn_protocols(["http/1.1"])
    steps: list[HttpStep] = [] if into is None else into
    cookies = httpx.Cookies()  # fresh per call: only cookies set earlier in this chain are sent
    current = url
    for _ in range(max_redirects + 1):
        hop = _Hop(current, max_body, keep_body, cookies=cookies)
        try:
            parsed = httpx.URL(current)
            hop.proxy = proxy_for(current)
            if hop.proxy is not None and proxy_auth is not None:
                hop.auth = proxy_auth(hop.proxy)
        except Exception:  # noqa: BLE001 - an unparsable URL (e.g. a hostile Location) is data
            steps.append(hop.step(failures.HTTP_REQUEST_FAILED, time.monotonic(), t0))
            return steps
        step = await _one_hop(hop, parsed, addresses, timeout, t0, ssl_context)
        steps.append(step)
        cookies = hop.cookies
        if step.failure is not None or step.status not in REDIRECT_STATUSES or not step.location:
            return steps
        try:
            current = str(parsed.join(step.location))
        except Exception:  # noqa: BLE001 - a Location we cannot follow ends the chain as is
            return steps
    steps[-1] = steps[-1].model_copy(update={"failure": failures.HTTP_TOO_MANY_REDIRECTS})
    return steps


# --- CONNECT through an explicit proxy --------------------------------------------------------


@dataclass
class ProxyRefusal:
    """The tunnel did not open. ``step.failure`` is ``http_proxy_refused`` when the proxy
    answered non-2xx (``step.from_proxy``, status, headers and body hold its answer), else
    why the proxy could not be reached or spoken to (connection_refused, timeout...)."""

    step: HttpStep


def _proxy_address(proxy: str) -> tuple[str, int]:
    parsed = httpx.URL(proxy)
    return parsed.host, parsed.port or 80


async def _read_body(
    reader: asyncio.StreamReader, headers: list[tuple[str, str]], body: BodyReader
) -> None:
    """Read a response body by chunked coding, Content-Length, or until close; stop at the cap."""
    values = {k.lower(): v for k, v in headers}
    if "chunked" in values.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                return
            while size > 0:
                data = await reader.readexactly(min(size, 65536))
                size -= len(data)
                if body.feed(data):
                    return
            await reader.readexactly(2)
    elif "content-length" in values:
        left = int(values["content-length"])
        while left > 0:
            data = await reader.read(min(left, 65536))
            if not data:
                raise asyncio.IncompleteReadError(b"", left)
            left -= len(data)
            if body.feed(data):
                return
    else:
        while data := await reader.read(65536):
            if body.feed(data):
                return


def _reusable(headers: list[tuple[str, str]], body: BodyReader) -> bool:
    """Whether the connection can carry the next leg: kept alive, framed, read to the end."""
    values = {k.lower(): v.lower() for k, v in headers}
    framed = "content-length" in values or "chunked" in values.get("transfer-encoding", "")
    return framed and not body.truncated and "close" not in values.get("connection", "")


async def open_connect_tunnel(
    proxy: str,
    host: str,
    port: int,
    *,
    timeout: float,
    t0: float,
    max_body: int = 262144,
    auth: AuthSession | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | ProxyRefusal:
    """Ask ``proxy`` to CONNECT to ``host:port`` within ``timeout`` seconds, answering its 407
    with ``auth`` when given."""
    start = time.monotonic()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    shown = f"https://{authority}/" if port != 443 else f"https://{authority[: -len(':443')]}/"
    hop = _Hop(shown, max_body, max_body, proxy=proxy, auth=auth)
    writer: asyncio.StreamWriter | None = None
    failure: str | None = None
    try:
        async with asyncio.timeout(timeout):
            proxy_host, proxy_port = _proxy_address(proxy)
            answer: str | None = None
            for _ in range(MAX_LEGS + 1):
                if writer is None:
                    reader, writer = await asyncio.open_connection(
                        proxy_host, proxy_port, limit=HEAD_LIMIT
                    )
                extra = f"Proxy-Authorization: {answer}\r\n" if answer else ""
                writer.write(
                    f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
                    f"User-Agent: {USER_AGENT}\r\n{extra}\r\n".encode("latin-1")
                )
                await writer.drain()
                hop.status, hop.headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
                if 200 <= hop.status < 300:
                    return reader, writer
                coding = next((v for k, v in hop.headers if k.lower() == "content-encoding"), None)
                hop.body = BodyReader(coding, max_body)
                await _read_body(reader, hop.headers, hop.body)
                if hop.status != 407 or auth is None:
                    break
                answer = await auth.respond(hop.headers, "CONNECT", authority)
                if answer is None:
                    break
                if not _reusable(hop.headers, hop.body):
                    writer.transport.abort()  # the next leg goes on a new connection
                    writer = None
    except (asyncio.LimitOverrunError, ValueError):
        failure = failures.HTTP_INVALID_RESPONSE  # head over the cap, or not HTTP at all
    except Exception as exc:  # noqa: BLE001 - a failure is data
        failure = failure_from_exception(exc)
    finally:
        if writer is not None and not (hop.status is not None and 200 <= hop.status < 300):
            writer.transport.abort()
    if hop.status is not None:
        failure = failures.HTTP_PROXY_REFUSED  # the refusal itself is the finding
    step = hop.step(failure, start, t0).model_copy(
        update={"method": "CONNECT", "from_proxy": hop.status is not None}
    )
    return ProxyRefusal(step)
