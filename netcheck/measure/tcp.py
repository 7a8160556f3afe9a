"""The TCP stage: can we complete a handshake with ip:port?

In: an IP literal (v4 or v6; never a name, so this stage can never trigger a DNS lookup), a port,
a deadline and the target's ``time.monotonic()`` start. Out: a ``TcpStep`` whose ``failure`` is
None or one string of ``failures.ALL_FAILURES`` (refused, reset, unreachable, timeout...).
A failed connect is data, not an exception.

``open_tcp`` is the same connect returning asyncio streams, for stages that speak over the
connection (TLS over a proxy tunnel, CONNECT requests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

from netcheck.measure.errmap import failure_from_exception
from netcheck.models import TcpStep

#: stream buffer limit for ``open_tcp``: bounds what one readline/readuntil may hold in memory
STREAM_LIMIT = 64 * 1024


def _family(ip: str) -> socket.AddressFamily:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        # A name here is a caller bug: resolving it would be a DNS query outside the DNS stage.
        raise ValueError(f"expected an IP address, got {ip!r}") from None
    return socket.AF_INET6 if addr.version == 6 else socket.AF_INET


async def _connect(ip: str, port: int) -> socket.socket:
    family = _family(ip)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (ip, port))
    except BaseException:
        # Also on cancellation (the deadline): a half-open socket must not leak.
        sock.close()
        raise
    return sock


async def measure_tcp(ip: str, port: int, *, timeout: float, t0: float) -> TcpStep:
    """Connect to ip:port within ``timeout`` seconds, close at once, record what happened."""
    start = time.monotonic()
    failure: str | None = None
    try:
        async with asyncio.timeout(timeout):
            sock = await _connect(ip, port)
        sock.close()
    except (OSError, TimeoutError) as exc:
        failure = failure_from_exception(exc)
    end = time.monotonic()
    return TcpStep(
        ip=ip,
        port=port,
        failure=failure,
        t0_ms=(start - t0) * 1000,
        runtime_ms=(end - start) * 1000,
    )


async def open_tcp(
    ip: str, port: int, *, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect within ``timeout`` and return streams; raises OSError/TimeoutError on failure.

    Callers map the exception with ``failure_from_exception`` and must close the writer.
    """
    async with asyncio.timeout(timeout):
        sock = await _connect(ip, port)
        try:
            return await asyncio.open_connection(sock=sock, limit=STREAM_LIMIT)
        except BaseException:
            sock.close()
            raise
