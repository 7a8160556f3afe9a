"""The measuring side of bandwidth: one download or upload, time-stamped read by read.

In: a URL (http or https), caps (``max_bytes``, ``max_seconds``), TLS verification settings.
Out: ``SpeedResult`` (goodput, bytes moved, seconds, RTT from a TCP connect, whether the
estimate settled, the window and slot series). Network failures are data (``failure``), never
exceptions. The stop rule itself lives in ``bandwidth.py`` (pure).

How, and why (FIELD_NOTES §4):
- the RTT is the best of three TCP connects to the URL's host and port: it sets the window width;
- the httpx client is built *before* the clock starts, so its setup is not counted;
- downloads are read with ``aiter_raw`` (no decoding, ``Accept-Encoding: identity``) so each read
  is what the socket gave; uploads send a generator body; each time httpx asks for the next chunk we
  time-stamp the bytes the peer has acknowledged so far (TCP_INFO ``tcpi_bytes_acked``; the bytes
  handed to the kernel where that is not available), since the send buffer hides the link rate;
- the transfer stops as soon as the estimate settles, so a fast link costs ~1-2 s of traffic,
  not a 10 s test; every step runs under an ``asyncio`` deadline of ``max_seconds`` plus grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from netcheck import failures
from netcheck.bandwidth.estimate import MAX_SECONDS, Estimate, Estimator
from netcheck.measure.errmap import failure_from_exception
from netcheck.models import Direction, SpeedResult, Status, StopReason

CONNECT_TIMEOUT = 5.0
GRACE_S = 2.0  # past max_seconds: time for the response head / the upload's answer
RTT_PROBES = 3
UPLOAD_CHUNK = 64 * 1024
_TCPI_BYTES_ACKED = 120
ACK_POLL_S = 0.005
#: TCP_NOTSENT_LOWAT for uploads: the kernel takes more body only while less than this is
#: queued unsent. Without it the send buffer autotunes to MBs; at 100 Mbit/s, 50 ms a run that
#: counted 13.4 MB put 23.2 MB on the link, the rest draining after the run had returned
UNSENT_LOWAT = 256 * 1024
DEFAULT_MAX_BYTES = 400 * 1024 * 1024  # hard cap; the estimator's byte budget scales with the rate


def _status(est: Estimate, failure: str | None) -> Status:
    if est.stable:
        return "stable"
    return "failed" if failure is not None and est.bytes == 0 else "inconclusive"


def _result(
    url: str,
    direction: Direction,
    est: Estimate,
    rtt: float | None,
    failure: str | None,
    http_status: int | None,
    moved: int | None = None,
) -> SpeedResult:
    return SpeedResult(
        url=url,
        direction=direction,
        goodput_mbps=None if est.goodput_mbps is None else round(est.goodput_mbps, 4),
        bytes=max(est.bytes, moved or 0),
        seconds=round(est.seconds, 4),
        rtt_ms=None if rtt is None else round(rtt * 1000, 3),
        stable=est.stable,
        status=_status(est, failure),
        reason=est.reason,
        failure=failure,
        http_status=http_status,
        window_ms=round(est.window_s * 1000, 1),
        windows_mbps=[round(r, 4) for r in est.windows_mbps],
        slots_mbps=[round(r, 4) for r in est.slots_mbps],
    )


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def tcp_rtt(
    host: str, port: int, *, probes: int = RTT_PROBES
) -> tuple[float | None, str | None]:
    """Best of ``probes`` TCP connects (SYN -> SYN/ACK is one round trip): (seconds, failure)."""
    best: float | None = None
    failure: str | None = None
    for _ in range(probes):
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                start = time.perf_counter()
                _, writer = await asyncio.open_connection(host, port)
                took = time.perf_counter() - start
            best = took if best is None else min(best, took)
        except Exception as exc:  # a failure is data; the transfer will record its own too
            failure = failure_from_exception(exc)
            break
        finally:
            if writer is not None:
                writer.close()
    return best, failure


def _bytes_acked(sock: Any) -> int | None:
    """``tcpi_bytes_acked`` from Linux's ``struct tcp_info`` (offset 120), None elsewhere."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except (OSError, AttributeError, TypeError):
        return None
    return int(struct.unpack_from("=Q", raw, _TCPI_BYTES_ACKED)[0]) if len(raw) >= 128 else None


def _client(verify: bool | str) -> httpx.AsyncClient:
    # timeouts come from our asyncio deadline; no proxies from the environment, no redirects:
    # a redirect would measure another host than the one named
    return httpx.AsyncClient(verify=verify, timeout=None, trust_env=False, follow_redirects=False)


async def measure_download(
    url: str,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
    verify: bool | str = True,
    even_slots: int | None = None,
) -> SpeedResult:
    """Download ``url`` until the estimate settles or a cap is hit. ``even_slots=K``: a replay
    run for ``throttle`` (K equal slots over the transfer, goodput over its span)."""
    host, port = _host_port(url)
    rtt, rtt_failure = await tcp_rtt(host, port)
    est = Estimator(rtt, max_bytes=max_bytes, max_seconds=max_seconds, even_slots=even_slots)
    if rtt is None:
        return _result(url, "download", est.finish("failed"), None, rtt_failure, None)
    failure: str | None = None
    status: int | None = None
    async with _client(verify) as client:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(max_seconds + GRACE_S):
                headers = {"Accept-Encoding": "identity"}
                async with client.stream("GET", url, headers=headers) as resp:
                    status = resp.status_code
                    if status != 200:
                        failure = failures.HTTP_UNEXPECTED_STATUS
                    else:
                        async for chunk in resp.aiter_raw():
                            if est.add(time.perf_counter() - t0, len(chunk)):
                                break
        except Exception as exc:
            failure = failure_from_exception(exc)
        end = time.perf_counter() - t0
    reason: StopReason = "eof" if failure is None else "failed"
    if failure == failures.GENERIC_TIMEOUT and est.bytes > 0:
        reason, failure = "time_cap", None  # a stalled transfer past the cap: inconclusive
    return _result(url, "download", est.finish(reason, at=end), rtt, failure, status)


async def measure_upload(
    url: str,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
    verify: bool | str = True,
) -> SpeedResult:
    """POST a generated body to ``url`` until the estimate settles or a cap is hit.

    The server must read and discard the body (nginx ``return 204`` does)."""
    host, port = _host_port(url)
    rtt, rtt_failure = await tcp_rtt(host, port)
    est = Estimator(rtt, max_bytes=max_bytes, max_seconds=max_seconds)
    if rtt is None:
        return _result(url, "upload", est.finish("failed"), None, rtt_failure, None)
    chunk = os.urandom(UPLOAD_CHUNK)  # incompressible, in case a middlebox compresses
    t0 = 0.0
    sockets: list[Any] = []  # asyncio's TransportSocket: has getsockopt, is no socket.socket

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None and _bytes_acked(sock) is not None:
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, UNSENT_LOWAT)
                sockets.append(sock)

    async def poll_acked() -> None:
        # count what the peer acknowledged (TCP_INFO), sampled every 5 ms: what the kernel
        # buffered would be wrong, since the send buffer takes in bursts and drains slowly
        counted = 0
        while not sockets:
            await asyncio.sleep(0.001)
        while est.stopped is None:
            await asyncio.sleep(ACK_POLL_S)
            acked = _bytes_acked(sockets[-1])
            if acked is None:
                return
            if acked > counted:
                # only polls that saw new ACKs: a poll that saw none would pin the byte curve
                # flat until the next ACK, and on a slow link (an ACK per 2 segments every
                # 23 ms at 1 Mbit/s) 250 ms windows then read 10 or 11 ACKs, +-4.6%; this way
                # an ACK's bytes spread over the time since the last one, as reads do
                est.add(time.perf_counter() - t0, acked - counted)
                counted = acked

    async def body() -> AsyncIterator[bytes]:
        written = 0
        while est.stopped is None:
            if written and not sockets:  # no TCP_INFO: the bytes the kernel took, as a fallback
                est.add(time.perf_counter() - t0, len(chunk))
                if est.stopped is not None:
                    return
            written += len(chunk)
            yield chunk

    failure: str | None = None
    status: int | None = None
    moved: int | None = None
    async with _client(verify) as client:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(max_seconds + GRACE_S), asyncio.TaskGroup() as tasks:
                poller = tasks.create_task(poll_acked())
                resp = await client.post(
                    url,
                    content=body(),
                    headers={"Content-Type": "application/octet-stream"},
                    extensions={"trace": trace},
                )
                poller.cancel()
                # the body's tail (in flight, and up to UNSENT_LOWAT queued) crossed the link
                # after the estimate stopped: the peer acknowledged it before answering
                moved = _bytes_acked(sockets[-1]) if sockets else None
                status = resp.status_code
                if status >= 400:
                    failure = failures.HTTP_UNEXPECTED_STATUS
        except Exception as exc:
            failure = failure_from_exception(
                exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
            )
        end = time.perf_counter() - t0
    reason: StopReason = "eof" if failure is None else "failed"
    if est.stopped is None and failure == failures.GENERIC_TIMEOUT and est.bytes > 0:
        reason, failure = "time_cap", None
    return _result(url, "upload", est.finish(reason, at=end), rtt, failure, status, moved)
