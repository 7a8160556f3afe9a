"""The control vantage's HTTP service, on Starlette and uvicorn: ``POST /v1/measure``.

In: a ``ControlConfig`` and an address to bind. Out: a running server. Requests::

    POST /v1/measure HTTP/1.1
    Authorization: Bearer <token>
    Content-Type: application/json
    Content-Length: N

    {"urls": ["https://www.example.test/", ...]}

Answers ``200 {"control": "netcheck <version>", "measured_at": ..., "results": [{"url",
"refused", "steps"}]}`` where ``steps`` is a ``models.Steps`` record. ``GET /v1/health`` answers
``{"ok": true}`` without a token (for load balancers; it measures nothing and costs nothing).

Both advertise the limits a probe paces itself by, as headers (the IETF httpapi draft's
``RateLimit-*`` fields, a token bucket seen as ``burst`` units per ``burst / rate`` seconds)::

    RateLimit-Policy: 200;w=200     RateLimit-Limit: 200
    RateLimit-Remaining: 187        RateLimit-Reset: 13      Netcheck-Max-Urls: 10

Errors are JSON ``{"error": "..."}`` with ``Connection: close``: 400 bad JSON, URL list or
request head, 401 no token, 403 wrong token, 404, 405, 408 head or body too slow, 411 no
Content-Length, 413 body or URL list too large, 429 rate limited (``Retry-After``), 503 too many
connections (uvicorn's own answer, plain text).

What guards the service: uvicorn's limits (connections, keep-alive, head size) and
``netcheck.asgi.HeadDeadlineProtocol`` (shared with the collector), a deadline on every request
head; the body is read under its own deadline and size cap. One unit of the rate limit is one URL,
and the first unit is charged before the token is checked, so guessing tokens costs as much as
measuring. The token is compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import socket
from collections import Counter
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from netcheck import __version__, asgi
from netcheck.control.limits import TokenBucket, advertised
from netcheck.control.measure import ControlConfig, Measured, measure_url
from netcheck.models import utc_now

log = logging.getLogger("netcheck.control")

#: seconds a client has to send its request body once the head has arrived
BODY_DEADLINE = 10.0
#: seconds an idle connection is kept open for the probe's next batch
KEEP_ALIVE = 5
#: seconds measurements in progress get to finish when the service stops
GRACE = 2
MAX_URL_LENGTH = 2048


class _Reply(Exception):
    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or {}


class ControlServer:
    """``async with ControlServer(cfg, "127.0.0.1", 0) as srv: srv.url`` -> http://127.0.0.1:P

    ``answers`` counts the statuses of ``/v1/measure`` answers (what an operator, or a test,
    reads to see how often probes were turned away)."""

    def __init__(self, config: ControlConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.bucket = TokenBucket(rate=config.rate, burst=config.burst)
        self.answers: Counter[int] = Counter()
        self._measuring = asyncio.Semaphore(max(1, config.concurrency))
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/health", self._health, methods=["GET"]),
                Route("/v1/measure", self._measure_endpoint, methods=["POST"]),
            ],
            exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        )

    async def start(self) -> ControlServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = asgi.config(
            self.app(),
            max_connections=self.config.max_connections,
            keep_alive=KEEP_ALIVE,
            graceful=GRACE,
            log_level="warning",  # its start-up lines would come before "listening on"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            sock.close()
            await self._task  # raises what stopped it
            raise RuntimeError("the control service stopped while starting")
        return self

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            async with asyncio.timeout(GRACE + 3):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def serve_forever(self) -> None:
        """Serve until the process is asked to stop (SIGINT or SIGTERM, through uvicorn)."""
        if self._task is None:
            await self.start()
        assert self._task is not None
        await self._task

    async def __aenter__(self) -> ControlServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- endpoints -----------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True}, headers=self._limits(_client(request)))

    async def _measure_endpoint(self, request: Request) -> Response:
        client = _client(request)
        try:
            body = await self._measure(request, client)
            response: Response = JSONResponse(body, headers=self._limits(client))
        except _Reply as reply:
            headers = {**self._limits(client), **reply.headers, "Connection": "close"}
            response = JSONResponse({"error": reply.error}, reply.status, headers=headers)
        response.headers["Cache-Control"] = "no-store"
        self.answers[response.status_code] += 1
        log.info("control: %s %s", client, response.status_code)
        return response

    async def _measure(self, request: Request, client: str) -> dict[str, Any]:
        self._charge(client, 1)
        self._authorize(request.headers.get("authorization", ""))
        urls = self._urls(await self._body(request))
        self._charge(client, len(urls) - 1)
        results = await asyncio.gather(*(self._measure_one(u) for u in urls))
        return {
            "control": f"netcheck {__version__}",
            "measured_at": utc_now(),
            "results": [
                {"url": m.url, "refused": m.refused, "steps": m.steps.model_dump(mode="json")}
                for m in results
            ],
        }

    def _limits(self, client: str) -> dict[str, str]:
        return advertised(self.bucket, client, self.config.max_urls)

    def _charge(self, client: str, cost: int) -> None:
        if cost <= 0:
            return
        wait = self.bucket.take(client, cost)
        if wait > 0:
            retry = "3600" if math.isinf(wait) else str(max(1, math.ceil(wait)))
            raise _Reply(429, "rate limit exceeded", {"Retry-After": retry})

    def _authorize(self, value: str) -> None:
        scheme, _, given = value.partition(" ")
        if scheme.casefold() != "bearer" or not given.strip():
            raise _Reply(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
        expected = self.config.token.encode("utf-8")
        if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected):
            raise _Reply(403, "wrong token")

    async def _body(self, request: Request) -> bytes:
        if "transfer-encoding" in request.headers:
            raise _Reply(411, "send a Content-Length, not a chunked body")
        text = request.headers.get("content-length", "").strip()
        if not text.isdigit():
            raise _Reply(411, "Content-Length required")
        if int(text) > self.config.max_request:
            raise _Reply(413, f"request body over {self.config.max_request} bytes")
        data = bytearray()
        try:
            async with asyncio.timeout(BODY_DEADLINE):
                async for chunk in request.stream():
                    data += chunk
                    if len(data) > self.config.max_request:  # h11 keeps to Content-Length
                        raise _Reply(413, f"request body over {self.config.max_request} bytes")
        except TimeoutError:
            raise _Reply(408, "request not received in time") from None
        except ClientDisconnect:
            raise _Reply(400, "request cut short") from None
        return bytes(data)

    def _urls(self, raw: bytes) -> list[str]:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _Reply(400, "body is not JSON") from None
        urls = doc.get("urls") if isinstance(doc, dict) else None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise _Reply(400, 'expected {"urls": ["http(s)://...", ...]}')
        if len(urls) > self.config.max_urls:
            raise _Reply(
                413,
                f"at most {self.config.max_urls} URLs per request",
                {"Netcheck-Max-Urls": str(self.config.max_urls)},
            )
        if any(len(u) > MAX_URL_LENGTH for u in urls):
            raise _Reply(400, f"URL longer than {MAX_URL_LENGTH} characters")
        return list(urls)

    async def _measure_one(self, url: str) -> Measured:
        async with self._measuring:
            return await measure_url(url, self.config)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route, wrong method), in the service's JSON form."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    headers["Connection"] = "close"
    error = {
        404: "no such endpoint; POST /v1/measure",
        405: f"use {headers.get('Allow', 'another method')}",
    }.get(status, "refused")
    return JSONResponse({"error": error}, status, headers=headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug costs one request, never the service (uvicorn logs the traceback)."""
    log.error("control: request from %s failed: %r", _client(request), exc)
    return JSONResponse({"error": "internal error"}, 500, headers={"Connection": "close"})
