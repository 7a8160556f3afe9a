"""What netcheck's HTTP services (the collector, the control vantage) share on uvicorn.

In: an ASGI application and the service's limits. Out: a ``uvicorn.Config`` with those limits as
settings (connections, keep-alive, head size) and ``HeadDeadlineProtocol``, uvicorn's h11
protocol plus the one limit uvicorn lacks: every request head must arrive within
``HEAD_DEADLINE`` seconds — the first on a connection (from connect) and each later one on a
kept-alive connection (from the end of the previous response; uvicorn's keep-alive timer stops
guarding once any byte arrives). A client too slow gets a JSON ``408`` and the connection closes,
so slow-loris clients cannot hold every slot. The protocol's own ``400`` is JSON too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_DEADLINE = 10.0
HEAD_LIMIT = 16_384
_REASONS = {400: "Bad Request", 408: "Request Timeout"}


def raw_json(transport: Any, status: int, error: str) -> None:
    """An answer written by the protocol itself (no request cycle to answer through), then close."""
    body = json.dumps({"error": error}).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError, RuntimeError):
        transport.write(head.encode() + body)
    transport.close()


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on every request head (see the module docstring)."""

    _head_timer: asyncio.TimerHandle | None = None
    _next_head: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(HEAD_DEADLINE, self._head_too_slow)

    def handle_events(self) -> None:
        super().handle_events()
        if self._head_timer is not None and self.cycle is not None:
            self._head_timer.cancel()  # the first request head arrived in time
            self._head_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._next_head is not None:
            self._next_head.cancel()
        if not self.transport.is_closing():
            self._next_head = self.loop.call_later(HEAD_DEADLINE, self._late_head, self.cycle)

    def _late_head(self, served: object) -> None:
        self._next_head = None
        if self.cycle is served and not self.transport.is_closing():
            raw_json(self.transport, 408, "request not received in time")

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is None and self.transport is not None and not self.transport.is_closing():
            raw_json(self.transport, 408, "request not received in time")

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._next_head):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._next_head = None
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        raw_json(self.transport, 400, "request head too large or not HTTP/1.1")


def config(
    app: Any,
    *,
    max_connections: int,
    keep_alive: int,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    log_level: str = "info",
    graceful: int | None = None,
) -> uvicorn.Config:
    """uvicorn settings every netcheck service uses: its limits, no server header, no proxy
    headers trusted, no access log (records of who asked what stay out of logs)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=HeadDeadlineProtocol,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        limit_concurrency=max_connections,
        timeout_keep_alive=keep_alive,
        timeout_graceful_shutdown=graceful,
        h11_max_incomplete_event_size=HEAD_LIMIT,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
        access_log=False,
        log_config=None if log_level == "warning" else uvicorn.config.LOGGING_CONFIG,
        log_level=log_level,
    )
