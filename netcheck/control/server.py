"""The control vantage's HTTP service: ``POST /v1/measure`` with a bearer token, JSON in and out.

In: a ``ControlConfig`` and an address to bind. Out: a running server. Requests::

    POST /v1/measure HTTP/1.1
    Authorization: Bearer <token>
    Content-Type: application/json
    Content-Length: N

    {"urls": ["https://www.example.test/", ...]}

Answers ``200 {"control": "netcheck <version>", "measured_at": ..., "results": [{"url",
"refused", "steps"}]}`` where ``steps`` is a ``models.Steps`` record. ``GET /v1/health`` answers
``{"ok": true}`` without a token (for load balancers; it measures nothing).

Errors, always JSON ``{"error": "..."}`` and ``Connection: close``: 400 bad JSON or URL list,
401 no token, 403 wrong token, 404, 405, 408 head or body too slow, 411 no Content-Length,
413 body or URL list too large, 429 rate limited (``Retry-After``), 503 too many connections.

A raw asyncio HTTP/1.1 server, one request per connection: the service has one endpoint and
every byte it reads is capped and under a deadline, which is simpler to make hostile-proof
than a framework. The token is compared in constant time; the rate limit is charged before the
token is checked, so guessing costs as much as measuring.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
from typing import Any

from netcheck import __version__
from netcheck.control.limits import TokenBucket
from netcheck.control.measure import ControlConfig, Measured, measure_url
from netcheck.models import utc_now

log = logging.getLogger("netcheck.control")

HEAD_LIMIT = 16_384
#: seconds a client has to send its whole request (head and body): slow clients are cut
READ_DEADLINE = 10.0
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _Reply(Exception):
    def __init__(self, status: int, error: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers


class ControlServer:
    """``async with ControlServer(cfg, "127.0.0.1", 0) as srv: srv.url`` -> http://127.0.0.1:P"""

    def __init__(self, config: ControlConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.bucket = TokenBucket(rate=config.rate, burst=config.burst)
        self._measuring = asyncio.Semaphore(max(1, config.concurrency))
        self._connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> ControlServer:
        self._server = await asyncio.start_server(
            self._client, self.host, self.port, limit=HEAD_LIMIT
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.stop()

    async def __aenter__(self) -> ControlServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- one connection ----------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "?"
        self._connections += 1
        status: int = 500
        body: dict[str, Any] = {"error": "internal error"}
        headers: tuple[tuple[str, str], ...] = ()
        try:
            if self._connections > self.config.max_connections:
                raise _Reply(503, "too many connections")
            status, body = 200, await self._request(reader, client)
        except _Reply as reply:
            status, body, headers = reply.status, {"error": reply.error}, reply.headers
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except Exception:  # a bug must cost one request, never the service
            log.exception("control: request from %s failed", client)
        finally:
            self._connections -= 1
            if task is not None:
                self._tasks.discard(task)
        log.info("control: %s %s", client, status)
        await _respond(writer, status, body, headers)

    async def _request(self, reader: asyncio.StreamReader, client: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(READ_DEADLINE):
                head = await reader.readuntil(b"\r\n\r\n")
                method, path, headers = _parse_head(head)
                if path == "/v1/health" and method == "GET":
                    return {"ok": True}
                if path != "/v1/measure":
                    raise _Reply(404, "no such endpoint; POST /v1/measure")
                if method != "POST":
                    raise _Reply(405, "use POST", (("Allow", "POST"),))
                self._charge(client, 1)
                self._authorize(headers.get("authorization", ""))
                raw = await self._body(reader, headers)
        except TimeoutError:
            raise _Reply(408, "request not received in time") from None
        except (asyncio.LimitOverrunError, ValueError):
            raise _Reply(400, "request head too large or not HTTP/1.1") from None
        except asyncio.IncompleteReadError:
            raise _Reply(400, "request cut short") from None
        urls = self._urls(raw)
        self._charge(client, len(urls) - 1)
        results = await asyncio.gather(*(self._measure(u) for u in urls))
        return {
            "control": f"netcheck {__version__}",
            "measured_at": utc_now(),
            "results": [
                {"url": m.url, "refused": m.refused, "steps": m.steps.model_dump(mode="json")}
                for m in results
            ],
        }

    def _charge(self, client: str, cost: int) -> None:
        if cost <= 0:
            return
        wait = self.bucket.take(client, cost)
        if wait > 0:
            retry = "3600" if math.isinf(wait) else str(max(1, math.ceil(wait)))
            raise _Reply(429, "rate limit exceeded", (("Retry-After", retry),))

    def _authorize(self, value: str) -> None:
        scheme, _, given = value.partition(" ")
        if scheme.casefold() != "bearer" or not given.strip():
            raise _Reply(401, "missing bearer token", (("WWW-Authenticate", "Bearer"),))
        expected = self.config.token.encode("utf-8")
        if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected):
            raise _Reply(403, "wrong token")

    async def _body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "transfer-encoding" in headers:
            raise _Reply(411, "send a Content-Length, not a chunked body")
        text = headers.get("content-length")
        if text is None or not text.strip().isdigit():
            raise _Reply(411, "Content-Length required")
        size = int(text)
        if size > self.config.max_request:
            raise _Reply(413, f"request body over {self.config.max_request} bytes")
        return await reader.readexactly(size)

    def _urls(self, raw: bytes) -> list[str]:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Reply(400, "body is not JSON") from None
        urls = doc.get("urls") if isinstance(doc, dict) else None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise _Reply(400, 'expected {"urls": ["http(s)://...", ...]}')
        if len(urls) > self.config.max_urls:
            raise _Reply(413, f"at most {self.config.max_urls} URLs per request")
        if any(len(u) > 2048 for u in urls):
            raise _Reply(400, "URL longer than 2048 characters")
        return list(urls)

    async def _measure(self, url: str) -> Measured:
        async with self._measuring:
            return await measure_url(url, self.config)


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError("not an HTTP/1.x request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError("bad header line")
            headers.setdefault(name.strip().casefold(), value.strip())
    return parts[0], parts[1].split("?", 1)[0], headers


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: dict[str, Any],
    headers: tuple[tuple[str, str], ...],
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Connection: close",
        "Cache-Control: no-store",
        *(f"{k}: {v}" for k, v in headers),
    ]
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        async with asyncio.timeout(READ_DEADLINE):
            await writer.drain()
    except (OSError, TimeoutError):
        pass
    finally:
        writer.transport.abort() if writer.transport.get_write_buffer_size() else writer.close()
