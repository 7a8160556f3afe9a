"""The collector's HTTP API, on Starlette: enrollment, signed batches, health and metrics.

In: a ``Store`` and the admin token. Out: an ASGI application. Endpoints:

- ``POST /v1/enroll`` ``{"code", "public_key", "platform"}`` → ``{"probe_id", "network"}``; a
  one-time code from ``netcheck server enroll`` (401 unknown, used or expired; 409 key known).
- ``POST /v1/batches`` a signed batch (``fleet.evidence``): 200 ``stored`` or ``already-stored``;
  400 malformed, 401 unknown or revoked probe or bad signature, 409 chain break or fork, 413 too
  large, 422 invalid record (``line`` names it), 429 with ``Retry-After``. A refused batch stores
  nothing.
- ``GET /v1/health`` → ``{"ok": true}``, the only endpoint that needs no key or token.
- ``GET /metrics`` (Prometheus text) and ``GET /v1/probes``, ``GET /v1/state``: admin token.
- ``/dashboard/...``: the read-only dashboard (``netcheck.server.dashboard``), behind its own
  sign-in; a dashboard session opens none of the endpoints above.

The body is read under a deadline and a size cap before anything else happens, so a slow or
huge client costs one connection slot, never the service. Tokens and signatures are compared in
constant time. Database work runs in a worker thread: the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from netcheck import __version__
from netcheck.errors import InputError
from netcheck.fleet.evidence import (
    MAX_RECORD_BYTES,
    MAX_RECORDS,
    BatchError,
    check_signature,
    load_public,
    open_batch,
)
from netcheck.output import parse_line
from netcheck.policy.loader import PolicyDoc
from netcheck.server import metrics
from netcheck.server.dashboard import Dashboard
from netcheck.server.store import Conflict, Probe, Store, Stored

log = logging.getLogger("netcheck.server")

MAX_BODY = MAX_RECORDS * 8 * 1024 + 65_536  # a full batch of typical records, with room
MAX_ENROLL_BODY = 4_096
READ_DEADLINE = 30.0


@dataclass
class RateLimit:
    """Per-probe token bucket on batches: a runaway agent gets 429, the others do not notice."""

    rate: float = 5.0
    burst: float = 20.0
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, key: str) -> float:
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self.buckets[key] = (tokens - 1, now)
        return 0.0


@dataclass
class Collector:
    store: Store
    admin_token: str
    limit: RateLimit = field(default_factory=RateLimit)
    max_body: int = MAX_BODY
    writer: Writer | None = None
    #: the declared policy the dashboard compares with (``server serve --policy``)
    policy: PolicyDoc | None = None
    #: called after each stored batch (the notifier checks for changes at once)
    on_stored: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = Writer(self.store)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(max(1, round(extra.pop("retry_after"))))
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def _body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > cap):
        raise BatchError(413, f"body larger than {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(READ_DEADLINE):
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise BatchError(413, f"body larger than {cap} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise BatchError(400, "the body is not JSON") from None


def record_facts(text: str, number: int, network: str) -> dict[str, Any]:
    """Validate one record against the result schema; the fields the collector indexes."""
    try:
        # as strictly as classify and the report read it back: a record the collector keeps
        # must never be one its own archive's readers refuse
        result = parse_line(text, "record", number)
    except InputError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise BatchError(422, f"{where}{exc.message}", line=number) from None
    claimed = result.probe.network
    if claimed is not None and claimed != network:
        raise BatchError(
            422,
            f"the record claims network {claimed!r}; this probe is enrolled in {network!r}",
            line=number,
        )
    return {
        "measured_at": result.measured_at,
        "url": result.target.url,
        "service": result.target.service,
        "function": result.target.function,
        "official": result.target.official,
        "verdict": result.verdict,
        "technique": result.technique,
    }


def _checked(collector: Collector, body: Any) -> tuple[Probe, Any, str, str, list[str]]:
    header, header_text, signature, texts = open_batch(body)
    probe = collector.store.probe(header.probe)
    if probe is None or probe.revoked:
        raise BatchError(401, "unknown or revoked probe")
    if not check_signature(probe.public_key, header_text, signature):
        raise BatchError(401, "the signature does not match the probe's key")
    return probe, header, header_text, signature, texts


def _prepare(collector: Collector, data: bytes) -> Store.Item:
    """Everything but storing, outside the writer: parse, signature, hashes, schema, label."""
    probe, header, header_text, signature, texts = _checked(collector, _json(data))
    facts = [record_facts(t, n, probe.network) for n, t in enumerate(texts, start=1)]
    return Store.Item(probe, header, header_text, signature, texts, facts)


class Writer:
    """One thread owns the database's writes and commits whatever batches are waiting in one
    fsynced transaction (group commit): with many probes uploading at once, one fsync serves
    them all, and each batch is still answered only after its commit."""

    MAX_GROUP = 256

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queue: queue.Queue[tuple[Store.Item, Future[Stored]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="writer", daemon=True)
        self.thread.start()

    def submit(self, item: Store.Item) -> Future[Stored]:
        done: Future[Stored] = Future()
        self.queue.put((item, done))
        return done

    def _loop(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.MAX_GROUP:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)
                    break
                group.append(more)
            try:
                results = self.store.ingest_many([item for item, _ in group])
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the error
                for _, done in group:
                    done.set_exception(exc)
                continue
            for (_, done), result in zip(group, results, strict=True):
                if isinstance(result, Conflict):
                    done.set_exception(BatchError(409, str(result)))
                else:
                    done.set_result(result)

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(30)


class _RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"retry after {wait:.1f} s")
        self.wait = wait


Handler = Callable[[Request], Awaitable[Response]]


class Api:
    """The endpoints, as methods over one ``Collector``."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.store = collector.store

    def bump(self, name: str, by: int = 1) -> None:
        try:
            self.store.bump(name, by)
        except Exception:  # noqa: BLE001 - a counter must never turn an answer into a 500
            log.exception("counter %s", name)

    def refusals(self, fn: Handler) -> Handler:
        """``BatchError`` and slow bodies become their status, counted; nothing else is caught."""

        async def run(request: Request) -> Response:
            try:
                return await fn(request)
            except BatchError as exc:
                self.bump(f"refused_{exc.status}")
                extra = {"line": exc.line} if exc.line is not None else {}
                return _error(exc.status, exc.message, **extra)
            except _RateLimited as exc:
                self.bump("refused_429")
                return _error(429, "too many batches: slow down", retry_after=exc.wait)
            except TimeoutError:
                self.bump("refused_408")
                return _error(408, "the request body came too slowly")

        return run

    def admin(self, fn: Handler) -> Handler:
        token = self.collector.admin_token.encode()

        async def run(request: Request) -> Response:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
                return _error(401, "admin token required")
            return await fn(request)

        return run

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "collector": f"netcheck {__version__}"})

    async def enroll(self, request: Request) -> Response:
        body = _json(await _body(request, MAX_ENROLL_BODY))
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("code", "public_key")
        ):
            raise BatchError(400, "expected {code, public_key}")
        load_public(body["public_key"])
        try:
            probe, network = await asyncio.to_thread(
                self.store.enroll, body["code"], body["public_key"], str(body.get("platform", ""))
            )
        except LookupError as exc:
            raise BatchError(401, str(exc)) from None
        except Conflict as exc:
            raise BatchError(409, str(exc)) from None
        log.info("enrolled probe %s in network %s", probe, network)
        return JSONResponse({"probe_id": probe, "network": network})

    async def batches(self, request: Request) -> Response:
        who = request.headers.get("x-netcheck-probe") or (
            request.client.host if request.client else ""
        )
        wait = self.collector.limit.retry_after(who)
        if wait > 0:
            raise _RateLimited(wait)
        data = await _body(request, self.collector.max_body)
        item = await asyncio.to_thread(_prepare, self.collector, data)
        assert self.collector.writer is not None
        stored = await asyncio.wrap_future(self.collector.writer.submit(item))
        self.bump("batches_" + stored.status.replace("-", "_"))
        self.bump("records_stored", stored.records)
        if self.collector.on_stored is not None and stored.status == "stored":
            self.collector.on_stored()
        return JSONResponse(
            {
                "status": stored.status,
                "seq": item.header.seq,
                "records": stored.records,
                "duplicates": stored.duplicates,
            }
        )

    async def metrics(self, request: Request) -> Response:
        text = await asyncio.to_thread(metrics.render, self.store)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def probes(self, request: Request) -> Response:
        return JSONResponse({"probes": await asyncio.to_thread(self.store.probes)})

    async def state(self, request: Request) -> Response:
        return JSONResponse({"state": await asyncio.to_thread(self.store.latest)})


def build_app(collector: Collector) -> Starlette:
    api = Api(collector)
    routes = [
        Route("/v1/health", api.health, methods=["GET"]),
        Route("/v1/enroll", api.refusals(api.enroll), methods=["POST"]),
        Route("/v1/batches", api.refusals(api.batches), methods=["POST"]),
        Route("/metrics", api.admin(api.metrics), methods=["GET"]),
        Route("/v1/probes", api.admin(api.probes), methods=["GET"]),
        Route("/v1/state", api.admin(api.state), methods=["GET"]),
        # the read-only dashboard: its own sign-in, never the admin token's endpoints
        *Dashboard(collector.store, collector.store.data, collector.policy).routes(),
    ]
    return Starlette(routes=routes)


__all__ = ["MAX_RECORD_BYTES", "Collector", "RateLimit", "build_app", "record_facts"]
