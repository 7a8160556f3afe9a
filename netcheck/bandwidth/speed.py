"""The measuring side of bandwidth: one download or upload, time-stamped read by read.

In: a URL (http or https), caps (``max_bytes``, ``max_seconds``), TLS verification settings.
Out: ``SpeedResult`` (goodput, bytes moved, seconds, RTT from a TCP connect, whether the
estimate settled, the window and slot series). Network failures are data (``failure``), never
exceptions. The stop rule itself lives in ``bandwidth.py`` (pure).

How, and why (FIELD_NOTES §4):
- the URL's name is resolved by the DNS stage (``measure.dns``: ``resolvers`` if given, else
  what this machine uses), never by httpx; every connection then goes to that address, with
  the name kept in Host and SNI (httpx's ``sni_hostname`` extension), so the certificate is
  still checked against the name;
- the RTT is the best of three TCP connects (the TCP stage, ``measure.tcp``) to the first
  address that accepts one: it sets the window width;
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
import ssl
import struct
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from netcheck import failures
from netcheck.bandwidth.estimate import MAX_SECONDS, Estimate, Estimator
from netcheck.measure import dns, tcp
from netcheck.measure.errmap import failure_from_exception
from netcheck.models import Direction, SpeedResult, Status, StopReason
from netcheck.netaddr import is_ip_literal

Resolvers = Sequence[tuple[str, int]] | None

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


@dataclass(frozen=True)
class _Path:
    """Where a transfer goes: the URL as asked, the address the DNS stage gave, the TCP RTT."""

    url: str
    ip: str | None = None
    rtt: float | None = None
    failure: str | None = None

    def request(self, headers: dict[str, str]) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        """(URL to connect to, headers, extensions): the address in the URL, the name kept in
        Host and as SNI, so no resolver is asked and the certificate is checked for the name."""
        asked = httpx.URL(self.url)
        if self.ip is None or is_ip_literal(asked.host):
            return asked, headers, {}
        host = asked.host if asked.port is None else f"{asked.host}:{asked.port}"
        return (
            asked.copy_with(host=self.ip),
            {**headers, "Host": host},
            {"sni_hostname": asked.host},
        )


def _host_port(url: str) -> tuple[str, int]:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ValueError(f"not an http(s) URL: {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


async def resolve(host: str, *, resolvers: Resolvers = None) -> tuple[list[str], str | None]:
    """The DNS stage's addresses for ``host`` (a literal is its own): (addresses, failure)."""
    if is_ip_literal(host):
        return [host], None
    steps = await dns.measure_dns(
        host, resolvers=resolvers, timeout=CONNECT_TIMEOUT, t0=time.monotonic()
    )
    found = dns.addresses(steps)
    if found:
        return found, None
    return [], next((s.failure for s in steps if s.failure), failures.DNS_NO_ANSWER)


async def tcp_rtt(
    addresses: Sequence[str], port: int, *, probes: int = RTT_PROBES
) -> tuple[str | None, float | None, str | None]:
    """Best of ``probes`` TCP connects (SYN -> SYN/ACK is one round trip) to the first address
    that accepts one: (that address, seconds, failure)."""
    failure: str | None = failures.DNS_NO_ANSWER if not addresses else None
    for ip in addresses:
        best: float | None = None
        for _ in range(probes):
            step = await tcp.measure_tcp(ip, port, timeout=CONNECT_TIMEOUT, t0=time.monotonic())
            if step.failure is not None:
                failure = step.failure
                break
            took = step.runtime_ms / 1000
            best = took if best is None else min(best, took)
        if best is not None:
            return ip, best, None
    return None, None, failure


async def _path(url: str, resolvers: Resolvers) -> _Path:
    host, port = _host_port(url)
    addresses, failure = await resolve(host, resolvers=resolvers)
    if failure is not None:
        return _Path(url, failure=failure)
    ip, rtt, failure = await tcp_rtt(addresses, port)
    return _Path(url, ip, rtt, failure)


def _bytes_acked(sock: Any) -> int | None:
    """``tcpi_bytes_acked`` from Linux's ``struct tcp_info`` (offset 120), None elsewhere."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except (OSError, AttributeError, TypeError):
        return None
    return int(struct.unpack_from("=Q", raw, _TCPI_BYTES_ACKED)[0]) if len(raw) >= 128 else None


def _send_queue(sock: Any) -> int | None:
    """Bytes this end still holds, unsent or unacknowledged (Linux SIOCOUTQ), None elsewhere."""
    try:
        import fcntl  # POSIX only: imported here, so Windows can import this module
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (ImportError, OSError, AttributeError, ValueError, TypeError):
        return None
    return int(struct.unpack("=i", raw)[0])


def _client(verify: bool | str) -> httpx.AsyncClient:
    # timeouts come from our asyncio deadline; no proxies from the environment, no redirects:
    # a redirect would measure another host than the one named
    context = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
    return httpx.AsyncClient(verify=context, timeout=None, trust_env=False, follow_redirects=False)


async def measure_download(
    url: str,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
    verify: bool | str = True,
    even_slots: int | None = None,
    resolvers: Resolvers = None,
) -> SpeedResult:
    """Download ``url`` until the estimate settles or a cap is hit. ``even_slots=K``: a replay
    run for ``throttle`` (K equal slots over the transfer, goodput over its span)."""
    path = await _path(url, resolvers)
    est = Estimator(path.rtt, max_bytes=max_bytes, max_seconds=max_seconds, even_slots=even_slots)
    if path.rtt is None:
        return _result(url, "download", est.finish("failed"), None, path.failure, None)
    failure: str | None = None
    status: int | None = None
    target, headers, extensions = path.request({"Accept-Encoding": "identity"})
    async with _client(verify) as client:
        t0 = time.perf_counter()
        try:
            async with (
                asyncio.timeout(max_seconds + GRACE_S),
                client.stream("GET", target, headers=headers, extensions=extensions) as resp,
            ):
                status = resp.status_code
                if status != 200:
                    failure = failures.HTTP_UNEXPECTED_STATUS
                else:
                    async for chunk in resp.aiter_raw():
                        if est.add(time.perf_counter() - t0, len(chunk)):
                            break
        except Exception as exc:  # noqa: BLE001 - a failure is data
            failure = failure_from_exception(exc)
        end = time.perf_counter() - t0
    reason, failure = _stop_reason(failure, est.bytes > 0)
    return _result(url, "download", est.finish(reason, at=end), path.rtt, failure, status)


def _stop_reason(failure: str | None, moved: bool) -> tuple[StopReason, str | None]:
    """(why the transfer stopped, failure): a stalled transfer past the time cap that moved
    bytes is ``time_cap`` (inconclusive), not a failure."""
    if failure is None:
        return "eof", None
    if failure == failures.GENERIC_TIMEOUT and moved:
        return "time_cap", None
    return "failed", failure


@dataclass
class _Upload:
    """One upload's body generator and ACK counter: the estimator hears what the peer has
    acknowledged (TCP_INFO), since the send buffer hides the link's rate."""

    est: Estimator
    chunk: bytes
    t0: float = 0.0
    #: asyncio's TransportSocket: has getsockopt, is no socket.socket
    sockets: list[Any] = field(default_factory=list)

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None and _bytes_acked(sock) is not None:
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, UNSENT_LOWAT)
                self.sockets.append(sock)

    async def poll_acked(self) -> None:
        # count what the peer acknowledged (TCP_INFO), sampled every 5 ms: what the kernel
        # buffered would be wrong, since the send buffer takes in bursts and drains slowly
        counted = 0
        while not self.sockets:
            await asyncio.sleep(0.001)
        while self.est.stopped is None:
            await asyncio.sleep(ACK_POLL_S)
            acked = _bytes_acked(self.sockets[-1])
            if acked is None:
                return
            if acked > counted:
                # only polls that saw new ACKs: a poll that saw none would pin the byte curve
                # flat until the next ACK, and on a slow link (an ACK per 2 segments every
                # 23 ms at 1 Mbit/s) 250 ms windows then read 10 or 11 ACKs, +-4.6%; this way
                # an ACK's bytes spread over the time since the last one, as reads do
                self.est.add(time.perf_counter() - self.t0, acked - counted)
                counted = acked

    async def body(self) -> AsyncIterator[bytes]:
        written = 0
        while self.est.stopped is None:
            if written and not self.sockets:  # no TCP_INFO: the bytes the kernel took instead
                self.est.add(time.perf_counter() - self.t0, len(self.chunk))
                if self.est.stopped is not None:
                    return
            written += len(self.chunk)
            yield self.chunk

    async def settle(self, limit: float) -> int | None:
        """What the upload cost: the acknowledged bytes once the body's tail has crossed.

        When the estimate stops, the tail (in flight, and up to UNSENT_LOWAT queued) is still
        on its way, and the server may have answered before reading it (nginx's ``return 204``
        does). Closing then would let the kernel send it after we returned, uncounted; so wait
        (at most ``limit``) until the peer has acknowledged all of it, and if it has not, reset
        the connection so nothing more crosses than was counted."""
        if not self.sockets:
            return None
        sock = self.sockets[-1]
        end = time.perf_counter() + limit
        while (queued := _send_queue(sock)) and time.perf_counter() < end:
            await asyncio.sleep(ACK_POLL_S)
        if queued:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return _bytes_acked(sock)


async def measure_upload(
    url: str,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
    verify: bool | str = True,
    resolvers: Resolvers = None,
) -> SpeedResult:
    """POST a generated body to ``url`` until the estimate settles or a cap is hit.

    The server must read and discard the body (nginx ``return 204`` does)."""
    path = await _path(url, resolvers)
    est = Estimator(path.rtt, max_bytes=max_bytes, max_seconds=max_seconds)
    if path.rtt is None:
        return _result(url, "upload", est.finish("failed"), None, path.failure, None)
    upload = _Upload(est, os.urandom(UPLOAD_CHUNK))  # incompressible, if a middlebox compresses
    target, headers, extensions = path.request({"Content-Type": "application/octet-stream"})
    failure: str | None = None
    status: int | None = None
    moved: int | None = None
    async with _client(verify) as client:
        upload.t0 = t0 = time.perf_counter()
        try:
            async with asyncio.timeout(max_seconds + GRACE_S), asyncio.TaskGroup() as tasks:
                poller = tasks.create_task(upload.poll_acked())
                resp = await client.post(
                    target,
                    content=upload.body(),
                    headers=headers,
                    extensions={**extensions, "trace": upload.trace},
                )
                poller.cancel()
                left = t0 + max_seconds + GRACE_S - time.perf_counter()
                moved = await upload.settle(min(GRACE_S, left - 0.1))
                status = resp.status_code
                if status >= 400:
                    failure = failures.HTTP_UNEXPECTED_STATUS
        except Exception as exc:  # noqa: BLE001 - a failure is data
            failure = failure_from_exception(
                exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
            )
        end = time.perf_counter() - t0
    reason, failure = _stop_reason(failure, est.stopped is None and est.bytes > 0)
    return _result(url, "upload", est.finish(reason, at=end), path.rtt, failure, status, moved)
