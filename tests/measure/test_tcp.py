"""The TCP stage against real loopback peers: success, refused, black hole (SYNs dropped)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from netcheck.failures import CONNECTION_REFUSED, GENERIC_TIMEOUT
from netcheck.measure.tcp import measure_tcp, open_tcp
from tests.support.servers.tls import closed_port, stream_server, tcp_black_hole


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.read(100))
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_connect_succeeds_and_is_timed(host: str) -> None:
    if host == "::1":
        assert _has_ipv6_loopback(), "this test needs an IPv6 loopback (::1), as CI machines have"
    async with stream_server(_echo, host=host) as (_, port):
        t0 = time.monotonic()
        await asyncio.sleep(0.02)
        step = await measure_tcp(host, port, timeout=2, t0=t0)
    assert step.failure is None
    assert (step.ip, step.port) == (host, port)
    assert step.t0_ms >= 20
    assert 0 <= step.runtime_ms < 2000


async def test_closed_port_is_connection_refused() -> None:
    async with closed_port() as (host, port):
        step = await measure_tcp(host, port, timeout=2, t0=time.monotonic())
    assert step.failure == CONNECTION_REFUSED


async def test_dropped_syns_are_a_timeout_within_the_deadline() -> None:
    async with tcp_black_hole() as (host, port):
        start = time.monotonic()
        step = await measure_tcp(host, port, timeout=0.5, t0=start)
        elapsed = time.monotonic() - start
    assert step.failure == GENERIC_TIMEOUT
    assert 0.45 <= elapsed < 1.5
    assert step.runtime_ms >= 450


async def test_open_tcp_returns_working_streams() -> None:
    async with stream_server(_echo) as (host, port):
        reader, writer = await open_tcp(host, port, timeout=2)
        writer.write(b"ping")
        await writer.drain()
        assert await reader.read(100) == b"ping"
        writer.close()
        await writer.wait_closed()


async def test_open_tcp_raises_the_mappable_error() -> None:
    async with closed_port() as (host, port):
        with pytest.raises(ConnectionRefusedError):
            await open_tcp(host, port, timeout=2)
    async with tcp_black_hole() as (host, port):
        with pytest.raises(TimeoutError):
            await open_tcp(host, port, timeout=0.3)


async def test_a_name_is_refused_rather_than_resolved() -> None:
    # The TCP stage must never cause a DNS query: names are the DNS stage's business.
    with pytest.raises(ValueError, match="IP address"):
        await measure_tcp("localhost", 80, timeout=1, t0=time.monotonic())
