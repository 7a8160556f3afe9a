"""The failure vocabulary: the mapping function, and the kernel errors only a namespace can give.

Each namespace test runs in a fresh network namespace with nothing but ``lo`` (tests/netns.py):
the probe's own code meets the kernel's real ENETUNREACH, EHOSTUNREACH and a resolver that cannot
be reached, and no packet can leave the namespace.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import time

import pytest

from netcheck import failures
from netcheck.measure import dns, tcp
from netcheck.measure.errmap import failure_from_exception
from tests.support.netns import isolated_netns


def test_vocabulary_is_consistent() -> None:
    assert failures.EMITTED <= failures.ALL_FAILURES
    assert failures.NETCHECK_FAILURES.isdisjoint(failures.OONI_FAILURES)
    assert failures.FALLBACK <= failures.EMITTED


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "x"), "connection_refused"),
        (ConnectionResetError(errno.ECONNRESET, "x"), "connection_reset"),
        (ConnectionAbortedError(errno.ECONNABORTED, "x"), "connection_reset"),
        (OSError(errno.EHOSTUNREACH, "x"), "host_unreachable"),
        (OSError(errno.ENETUNREACH, "x"), "network_unreachable"),
        (TimeoutError(), "generic_timeout_error"),
        (asyncio.IncompleteReadError(b"", 10), "eof_error"),
        (ssl.SSLEOFError(), "eof_error"),
        (ValueError("nothing we know"), "unknown_failure"),
    ],
)
def test_mapping(exc: BaseException, expected: str) -> None:
    assert failure_from_exception(exc) == expected


def test_mapping_follows_causes() -> None:
    outer = RuntimeError("wrapper")
    outer.__cause__ = ConnectionResetError(errno.ECONNRESET, "inner")
    assert failure_from_exception(outer) == "connection_reset"


@pytest.mark.root
async def test_network_unreachable_in_an_empty_namespace() -> None:
    with isolated_netns():
        step = await tcp.measure_tcp("198.18.99.1", 443, timeout=2, t0=time.monotonic())
    assert step.failure == "network_unreachable"


@pytest.mark.root
async def test_host_unreachable_from_an_unreachable_route() -> None:
    with isolated_netns(routes=["unreachable 198.18.99.0/24"]):
        step = await tcp.measure_tcp("198.18.99.1", 443, timeout=2, t0=time.monotonic())
    assert step.failure == "host_unreachable"


@pytest.mark.root
async def test_system_resolver_that_cannot_be_reached_is_a_temporary_failure() -> None:
    # getaddrinfo runs in executor threads that entered the namespace: the system's nameserver
    # has no route there, so glibc gives EAI_AGAIN without sending anything
    with isolated_netns():
        steps = await dns.measure_dns(
            "netcheck-test.invalid",
            resolvers=None,
            system_resolvers=[],
            timeout=3,
            t0=time.monotonic(),
        )
    system = [s for s in steps if s.engine == "system"]
    assert system
    assert system[0].failure == "dns_temporary_failure"
