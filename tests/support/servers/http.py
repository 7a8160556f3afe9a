"""Hostile and normal HTTP peers on 127.0.0.1, port 0, written on raw asyncio streams.

They are raw (no framework) so they can misbehave on purpose. Every server records what it
received, so tests can assert on what the client really sent.

API
---
``HttpServer(routes=None, *, default=None, ssl_context=None)``
    An HTTP/1.1 server (HTTPS when ``ssl_context`` is given, e.g. one made by trustme).
    ``routes`` maps a request path (query stripped) to a handler; unknown paths go to
    ``default`` (a 404 page when None). Use ``async with HttpServer(...) as srv:``.
    ``srv.port``; ``srv.url(path="/", host="www.example.test")``; ``srv.requests`` is a list of
    ``Request`` (method, target, version, headers in order, ``sni`` for HTTPS, ``peer``).
    ``Request.header(name)`` returns the first value of a header (case-insensitive) or None.
    The SNI is read through the context's ``sni_callback`` (an existing callback is chained).

Handlers (``Handler = async (request, reader, writer) -> None``), made by these factories:
    ``page(body=b"", status=200, headers=(), reason="OK")``  normal response, Content-Length
    ``redirect(location, status=302, headers=())``  one redirect (Set-Cookie via headers)
    ``trickle(interval=0.1)``                 headers, then one body byte per interval, forever
    ``endless_chunked(interval=0.0)``         chunked body that never ends
    ``gzip_bomb(size=10 MiB)``                zeros gzipped, served with Content-Encoding: gzip
    ``huge_headers(size=1 MiB)``              a status line then a header of ``size`` bytes
    ``garbage(data=...)``                     bytes that are not HTTP
    ``reset_mid_body(sent=1000, declared=100000)``  part of the body, then a TCP RST
    ``close_without_response()``              reads the request and closes
Each endless handler stops by itself after ``MAX_HANDLER_SECONDS`` or when the client goes away.

``ForwardProxy(allow=None, deny=(), upstream=None)``
    A squid-like explicit proxy: absolute-form ``GET http://...`` and ``CONNECT host:port``.
    A host is denied when it matches ``deny``, or when ``allow`` is given and it matches none
    of it (entries match like squid ``dstdomain``: ``.example.test`` covers the domain and its
    subdomains, ``www.example.test`` only itself). Denied requests get 403 with
    ``X-Squid-Error: ERR_ACCESS_DENIED 0`` and an HTML error page (``DENY_TITLE``).
    ``upstream`` maps hostnames to IPs; by default every name goes to 127.0.0.1, so the proxy
    never uses a resolver. ``proxy.url`` is ``http://127.0.0.1:PORT``; ``proxy.requests``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import TracebackType
from urllib.parse import urlsplit

MAX_HANDLER_SECONDS = 30.0
HEAD_LIMIT = 65536
DENY_TITLE = "ERROR: The requested URL could not be retrieved"


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    sni: str | None = None
    peer: tuple[str, int] | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def path(self) -> str:
        target = self.target
        if "://" in target:
            target = urlsplit(target).path or "/"
        return target.split("?", 1)[0]


Handler = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request head; None when the client sent nothing usable."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.append((name.strip(), value.strip()))
    return Request(parts[0], parts[1], parts[2], headers)


def _head(status: int, reason: str, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _drip(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    """Write ``data`` every ``interval`` until the client leaves or the time cap passes."""
    end = time.monotonic() + MAX_HANDLER_SECONDS
    while time.monotonic() < end and not writer.is_closing():
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(interval)


def page(
    body: bytes | str = b"",
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    reason: str = "OK",
) -> Handler:
    data = body.encode() if isinstance(body, str) else body

    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        names = {k.lower() for k, _ in headers}
        extra = [] if "content-type" in names else [("Content-Type", "text/html; charset=utf-8")]
        all_headers = [*headers, *extra, ("Content-Length", str(len(data)))]
        w.write(_head(status, reason, all_headers) + data)
        await w.drain()

    return handle


def redirect(location: str, status: int = 302, headers: Sequence[tuple[str, str]] = ()) -> Handler:
    return page(b"", status, [("Location", location), *headers], reason="Found")


def trickle(interval: float = 0.1) -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(_head(200, "OK", [("Content-Type", "text/html"), ("Content-Length", "10000000")]))
        await _drip(w, b"a", interval)

    return handle


def endless_chunked(interval: float = 0.0) -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(
            _head(200, "OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        )
        await _drip(w, b"400\r\n" + b"x" * 1024 + b"\r\n", interval)

    return handle


@cache
def _bomb(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


def gzip_bomb(size: int = 10 * 1024 * 1024) -> Handler:
    return page(_bomb(size), headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])


def huge_headers(size: int = 1024 * 1024) -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nX-Big: ")
        sent = 0
        while sent < size and not w.is_closing():
            w.write(b"b" * 65536)
            sent += 65536
            await w.drain()
        w.write(b"\r\nContent-Length: 0\r\n\r\n")
        await w.drain()

    return handle


def garbage(data: bytes = b"\x16\x03\x01 this is not HTTP at all\r\n\r\n") -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(data)
        await w.drain()

    return handle


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def reset_mid_body(sent: int = 1000, declared: int = 100000) -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(_head(200, "OK", [("Content-Length", str(declared))]) + b"r" * sent)
        await w.drain()
        await asyncio.sleep(0.2)  # let the client read the head and part of the body first
        reset(w)

    return handle


def close_without_response() -> Handler:
    async def handle(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        return None

    return handle


async def _not_found(req: Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await page(b"<html><title>Not found</title></html>", 404, reason="Not Found")(req, r, w)


class _BaseServer:
    """Accept loop, handler task tracking and clean shutdown shared by the servers."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Request] = []
        self.port = 0
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sni: dict[int, str | None] = {}
        if ssl_context is not None:
            previous = ssl_context.sni_callback

            def remember(obj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
                self._sni[id(obj)] = name
                if previous is not None:
                    previous(obj, name, ctx)  # type: ignore[arg-type]

            ssl_context.sni_callback = remember  # type: ignore[assignment]

    async def __aenter__(self) -> _BaseServer:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", 0, ssl=self._ssl, limit=HEAD_LIMIT
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            req = await read_request(reader)
            if req is not None:
                ssl_obj = writer.get_extra_info("ssl_object")
                req.sni = self._sni.get(id(ssl_obj)) if ssl_obj is not None else None
                req.peer = writer.get_extra_info("peername")
                self.requests.append(req)
                await self.handle(req, reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # our own shutdown; asyncio would log a cancelled connection callback
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def handle(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        raise NotImplementedError


class HttpServer(_BaseServer):
    def __init__(
        self,
        routes: Mapping[str, Handler] | None = None,
        *,
        default: Handler | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(ssl_context)
        self.routes = dict(routes or {})
        self.default = default or _not_found

    async def __aenter__(self) -> HttpServer:
        await super().__aenter__()
        return self

    def url(self, path: str = "/", host: str = "www.example.test") -> str:
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def handle(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self.routes.get(req.path, self.default)(req, reader, writer)


def _matches(host: str, entries: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in entries:
        entry = entry.lower()
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
        elif host == entry:
            return True
    return False


def squid_denial_page() -> bytes:
    return (
        "<!DOCTYPE html>\n<html><head>\n"
        f"<title>{DENY_TITLE}</title>\n</head><body>\n"
        "<h1>ERROR</h1><h2>The requested URL could not be retrieved</h2>\n"
        "<p>Access control configuration prevents your request from being allowed at this time."
        "</p>\n<p>Generated by lab-proxy (squid/5.7)</p>\n</body></html>\n"
    ).encode()


class ForwardProxy(_BaseServer):
    def __init__(
        self,
        allow: Sequence[str] | None = None,
        deny: Sequence[str] = (),
        upstream: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(None)
        self.allow = allow
        self.deny = deny
        self.upstream = dict(upstream or {})

    async def __aenter__(self) -> ForwardProxy:
        await super().__aenter__()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def allowed(self, host: str) -> bool:
        if _matches(host, self.deny):
            return False
        return self.allow is None or _matches(host, self.allow)

    async def handle(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if req.method == "CONNECT":
            host, _, port_text = req.target.rpartition(":")
            host = host.strip("[]")
        else:
            parts = urlsplit(req.target)
            host, port_text = parts.hostname or "", str(parts.port or 80)
        if not self.allowed(host):
            body = squid_denial_page()
            writer.write(
                _head(
                    403,
                    "Forbidden",
                    [
                        ("Server", "squid/5.7"),
                        ("Mime-Version", "1.0"),
                        ("Content-Type", "text/html;charset=utf-8"),
                        ("Content-Length", str(len(body))),
                        ("X-Squid-Error", "ERR_ACCESS_DENIED 0"),
                        ("Vary", "Accept-Language"),
                        ("Content-Language", "en"),
                        ("Connection", "keep-alive"),
                    ],
                )
                + body
            )
            await writer.drain()
            # keep-alive like squid: the client must stop at Content-Length, not wait for EOF
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                await asyncio.wait_for(reader.read(1), 5.0)
            return
        ip = self.upstream.get(host, "127.0.0.1")
        up_reader, up_writer = await asyncio.open_connection(ip, int(port_text))
        try:
            if req.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                target = urlsplit(req.target)
                path = (target.path or "/") + (f"?{target.query}" if target.query else "")
                kept = [(k, v) for k, v in req.headers if k.lower() not in _HOP_HEADERS]
                up_writer.write(
                    (
                        f"{req.method} {path} HTTP/1.1\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in kept)
                        + "Connection: close\r\nVia: 1.1 lab-proxy (squid/5.7)\r\n\r\n"
                    ).encode("latin-1")
                )
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.transport.abort()


_HOP_HEADERS = {"proxy-connection", "connection", "keep-alive", "proxy-authorization"}


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    end = time.monotonic() + MAX_HANDLER_SECONDS
    try:
        while time.monotonic() < end:
            data = await src.read(65536)
            if not data:
                break
            dst.write(data)
            await dst.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        if dst.can_write_eof():
            with contextlib.suppress(OSError):
                dst.write_eof()
