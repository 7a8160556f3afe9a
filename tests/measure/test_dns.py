"""The DNS stage against a real misbehaving DNS server on 127.0.0.1 (tests/servers/dns.py).

Nothing here queries the system resolver: every dnspython query goes to a local server, and
getaddrinfo is only ever asked for "localhost" (answered from /etc/hosts).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import dns.message
import dns.rcode
import pytest

from netcheck import failures
from netcheck.errors import InputError
from netcheck.measure.dns import (
    addresses,
    failure_from_gaierror,
    measure_dns,
    parse_resolver,
    system_nameservers,
)
from netcheck.models import DnsAnswer, DnsStep
from tests.support.ports import free_port
from tests.support.servers.dns import INJECTED_V4, Delay, DnsServer, Inject, Response, make_reply

ZONE = {
    "www.example.test": ["127.0.0.1", "::1"],
    "v4only.test": ["127.0.0.10"],
    "alias.test": ["cdn.test"],
    "cdn.test": ["edge.cdn.test"],
    "edge.cdn.test": ["127.0.0.20"],
    "sinkhole.test": ["0.0.0.0"],
    "injected.test": ["127.0.0.30"],
    "big.test": ["127.0.0.40"],
}
TIMEOUT = 1.0


class Got(NamedTuple):
    A: DnsStep
    AAAA: DnsStep
    elapsed: float


async def measure(server: DnsServer, name: str, timeout: float = TIMEOUT) -> Got:
    """Query ``name`` on ``server`` only; return the A step, the AAAA step and the elapsed time."""
    start = time.monotonic()
    steps = await measure_dns(name, resolvers=[server.address], timeout=timeout, t0=start)
    elapsed = time.monotonic() - start
    by_type = {step.query_type: step for step in steps}
    assert sorted(by_type) == ["A", "AAAA"]
    assert len(steps) == 2
    return Got(by_type["A"], by_type["AAAA"], elapsed)


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    behaviours = {
        "blocked.test": "nxdomain",
        "nodata.test": "nodata",
        "servfail.test": "servfail",
        "refused.test": "refused",
        "notimp.test": "notimp",
        "dropped.test": "drop",
        "garbage.test": "garbage",
        "wrongid.test": "wrong_id",
        "injected.test": "inject",
        "big.test": "truncate",
    }
    async with DnsServer(ZONE, behaviours=behaviours, ttl=123) as srv:
        yield srv


# --- answers ------------------------------------------------------------------------------------


async def test_answers_with_ttl_rcode_and_timing(server: DnsServer) -> None:
    t0 = time.monotonic()
    await asyncio.sleep(0.05)
    steps = await measure_dns(
        "www.example.test", resolvers=[server.address], timeout=TIMEOUT, t0=t0
    )
    a, aaaa = steps
    assert (a.query_type, aaaa.query_type) == ("A", "AAAA")
    for step in steps:
        assert step.engine == "dnspython"
        assert step.resolver == server.spec
        assert step.hostname == "www.example.test"
        assert step.rcode == "NOERROR"
        assert step.failure is None
        assert step.replies == 1
        assert step.t0_ms >= 50  # measured from the caller's t0, not from the query
        assert 0 < step.runtime_ms < TIMEOUT * 1000
    assert a.answers == [DnsAnswer(type="A", value="127.0.0.1", ttl=123)]
    assert aaaa.answers == [DnsAnswer(type="AAAA", value="::1", ttl=123)]
    assert addresses(steps) == ["127.0.0.1", "::1"]


async def test_cname_chain_is_recorded(server: DnsServer) -> None:
    got = await measure(server, "alias.test")
    assert got.A.answers == [
        DnsAnswer(type="CNAME", value="cdn.test", ttl=123),
        DnsAnswer(type="CNAME", value="edge.cdn.test", ttl=123),
        DnsAnswer(type="A", value="127.0.0.20", ttl=123),
    ]
    # the AAAA side has the chain but no AAAA at the end: that is NODATA, not success
    assert got.AAAA.failure == failures.DNS_NO_ANSWER
    assert addresses([got.A, got.AAAA]) == ["127.0.0.20"]


async def test_bogon_answer_is_success_not_a_verdict(server: DnsServer) -> None:
    got = await measure(server, "sinkhole.test")
    step = got.A
    assert step.failure is None
    assert step.answers[0].value == "0.0.0.0"


async def test_missing_type_is_no_answer(server: DnsServer) -> None:
    got = await measure(server, "v4only.test")
    assert got.A.failure is None
    assert got.AAAA.failure == failures.DNS_NO_ANSWER
    assert got.AAAA.rcode == "NOERROR"


# --- rcodes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rcode", "failure"),
    [
        ("blocked.test", "NXDOMAIN", failures.DNS_NXDOMAIN),
        ("not-in-zone.test", "NXDOMAIN", failures.DNS_NXDOMAIN),
        ("nodata.test", "NOERROR", failures.DNS_NO_ANSWER),
        ("servfail.test", "SERVFAIL", failures.DNS_SERVFAIL),
        ("refused.test", "REFUSED", failures.DNS_REFUSED),
        ("notimp.test", "NOTIMP", failures.DNS_NON_RECOVERABLE),
    ],
)
async def test_rcode_failures(server: DnsServer, name: str, rcode: str, failure: str) -> None:
    got = await measure(server, name)
    for qtype in ("A", "AAAA"):
        step = getattr(got, qtype)
        assert step.rcode == rcode
        assert step.failure == failure
        assert step.answers == []
        assert step.replies == 1


# --- hostile or silent servers: never past the deadline -----------------------------------------


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        ("dropped.test", failures.GENERIC_TIMEOUT),
        ("garbage.test", failures.DNS_INVALID_REPLY),
        ("wrongid.test", failures.DNS_WRONG_QUERY_ID),
    ],
)
async def test_no_valid_reply_fails_at_the_deadline(
    server: DnsServer, name: str, failure: str
) -> None:
    timeout = 0.5
    got = await measure(server, name, timeout=timeout)
    assert got.elapsed < timeout + 1.0
    for qtype in ("A", "AAAA"):
        step = getattr(got, qtype)
        assert step.failure == failure
        assert step.rcode is None
        assert step.answers == []
        assert step.replies == 0
        # it did listen until the deadline, hoping for a valid reply
        assert step.runtime_ms >= timeout * 1000 * 0.9


@pytest.mark.parametrize("junk", ["garbage", "wrong_id"])
async def test_junk_before_the_real_answer_is_ignored(junk: str) -> None:
    async with DnsServer(ZONE) as helper:
        # junk first, then the real answer, as an on-path attacker racing a slow resolver
        def handler(request: dns.message.Message) -> Response:
            return [helper.respond_as(request, junk), helper.answer(request)]

        async with DnsServer(handler=handler) as srv:
            got = await measure(srv, "www.example.test")
    assert got.A.failure is None
    assert addresses([got.A]) == ["127.0.0.1"]
    assert got.A.replies == 1


async def test_flood_of_junk_does_not_hide_the_real_answer() -> None:
    async with DnsServer(ZONE) as helper:

        def handler(request: dns.message.Message) -> Response:
            junk = [helper.respond_as(request, "wrong_id")] * 100
            return [*junk, *[helper.respond_as(request, "garbage")] * 30, helper.answer(request)]

        async with DnsServer(handler=handler) as srv:
            got = await measure(srv, "www.example.test")
    assert got.A.failure is None
    assert got.A.replies == 1
    assert addresses([got.A, got.AAAA]) == ["127.0.0.1", "::1"]


async def test_closed_port_fails_fast() -> None:
    port = free_port(kind=socket.SOCK_DGRAM)
    start = time.monotonic()
    steps = await measure_dns(
        "www.example.test", resolvers=[("127.0.0.1", port)], timeout=2.0, t0=start
    )
    assert time.monotonic() - start < 1.0  # ICMP port unreachable ends the wait
    assert {s.failure for s in steps} == {failures.CONNECTION_REFUSED}


# --- injection and truncation -------------------------------------------------------------------


async def test_injected_answer_is_counted(server: DnsServer) -> None:
    got = await measure(server, "injected.test")
    a = got.A
    assert a.replies == 2
    # the forged reply won the race: it is what a stub resolver would have used
    assert addresses([a]) == [INJECTED_V4]
    assert got.AAAA.replies == 2
    assert got.elapsed < TIMEOUT


async def test_late_real_answer_is_still_counted() -> None:
    # the censor's forgery comes first; the real resolver's answer trails it by 100 ms
    async with DnsServer(ZONE) as helper:

        def handler(request: dns.message.Message) -> Response:
            forged = helper.respond_as(request, Inject())
            assert isinstance(forged, list)
            return [forged[0], Delay(0.1, helper.answer(request))]

        async with DnsServer(handler=handler) as srv:
            got = await measure(srv, "injected.test")
    assert got.A.replies == 2
    assert addresses([got.A]) == [INJECTED_V4]


async def test_injection_with_a_custom_forged_address() -> None:
    async with DnsServer(ZONE, behaviours={"injected.test": Inject(v4="127.0.0.99")}) as srv:
        got = await measure(srv, "injected.test")
    assert addresses([got.A]) == ["127.0.0.99"]
    assert got.A.replies == 2


async def test_truncated_reply_retries_over_tcp(server: DnsServer) -> None:
    got = await measure(server, "big.test")
    assert got.A.failure is None
    assert got.A.answers == [DnsAnswer(type="A", value="127.0.0.40", ttl=123)]
    assert ("big.test", "A", "udp") in server.queries
    assert ("big.test", "A", "tcp") in server.queries


async def test_truncated_reply_with_tcp_closed_still_ends() -> None:
    async with DnsServer(ZONE, behaviours={"big.test": "truncate"}) as srv:
        assert srv._tcp is not None
        srv._tcp.close()  # UDP still answers (truncated), nobody listens on TCP any more
        await srv._tcp.wait_closed()
        got = await measure(srv, "big.test")
    assert got.A.failure == failures.CONNECTION_REFUSED
    assert got.elapsed < TIMEOUT + 1.0


# --- which resolvers get asked ------------------------------------------------------------------


async def test_given_resolvers_only_and_concurrently() -> None:
    slow = {"www.example.test": Delay(0.4, "answer")}
    async with (
        DnsServer(ZONE, behaviours=slow) as first,
        DnsServer(ZONE, behaviours=slow) as second,
        DnsServer(ZONE) as bystander,
    ):
        start = time.monotonic()
        steps = await measure_dns(
            "www.example.test",
            resolvers=[first.address, second.address],
            timeout=2.0,
            t0=start,
            system_resolvers=[bystander.address],
        )
        elapsed = time.monotonic() - start
        assert bystander.count() == 0
        assert first.count() == 2
        assert second.count() == 2
    assert [(s.resolver, s.query_type) for s in steps] == [
        (first.spec, "A"),
        (first.spec, "AAAA"),
        (second.spec, "A"),
        (second.spec, "AAAA"),
    ]
    assert {s.engine for s in steps} == {"dnspython"}  # no getaddrinfo when resolvers are given
    assert all(s.failure is None for s in steps)
    assert elapsed < 1.2  # four 0.4 s queries in parallel, not 1.6 s in a row


async def test_default_configuration_uses_system_engines() -> None:
    async with DnsServer({"localhost": ["127.0.0.1"]}) as srv:
        start = time.monotonic()
        steps = await measure_dns(
            "localhost", resolvers=None, timeout=2.0, t0=start, system_resolvers=[srv.address]
        )
        assert srv.count("localhost") == 2
    system = [s for s in steps if s.engine == "system"]
    assert len(system) == 1
    assert system[0].query_type == "ANY"
    assert system[0].resolver is None
    assert system[0].failure is None
    assert DnsAnswer(type="A", value="127.0.0.1") in system[0].answers
    assert all(a.ttl is None for a in system[0].answers)
    assert [(s.engine, s.resolver, s.query_type) for s in steps[1:]] == [
        ("dnspython", srv.spec, "A"),
        ("dnspython", srv.spec, "AAAA"),
    ]
    assert "127.0.0.1" in addresses(steps)


async def test_system_false_skips_getaddrinfo() -> None:
    async with DnsServer(ZONE) as srv:
        steps = await measure_dns(
            "www.example.test",
            resolvers=None,
            timeout=TIMEOUT,
            t0=time.monotonic(),
            system=False,
            system_resolvers=[srv.address],
        )
    assert [s.engine for s in steps] == ["dnspython", "dnspython"]


async def test_ipv6_resolver() -> None:
    async with DnsServer(ZONE, host="::1") as srv:
        assert srv.spec.startswith("[::1]:")
        got = await measure(srv, "www.example.test")
    assert got.A.resolver == srv.spec
    assert parse_resolver(srv.spec) == srv.address
    assert addresses([got.A, got.AAAA]) == ["127.0.0.1", "::1"]


@pytest.mark.parametrize("literal", ["127.0.0.1", "::1", "[::1]", "10.255.255.53"])
async def test_ip_literal_needs_no_dns(literal: str) -> None:
    steps = await measure_dns(
        literal, resolvers=None, timeout=TIMEOUT, t0=time.monotonic(), system_resolvers=[]
    )
    assert steps == []


async def test_unencodable_name_is_a_failure_not_an_exception() -> None:
    async with DnsServer(ZONE) as srv:
        steps = await measure_dns(
            "a" * 70 + ".test", resolvers=[srv.address], timeout=TIMEOUT, t0=time.monotonic()
        )
        assert srv.count() == 0
    assert [s.failure for s in steps] == [failures.DNS_NON_RECOVERABLE] * 2


async def test_custom_handler_and_sync_server() -> None:
    def handler(request: dns.message.Message) -> dns.message.Message:
        return make_reply(request, rcode=dns.rcode.SERVFAIL)

    with DnsServer(handler=handler) as srv:  # the thread-backed form, for sync callers
        steps = await measure_dns(
            "anything.test", resolvers=[srv.address], timeout=TIMEOUT, t0=time.monotonic()
        )
        assert srv.count("anything.test") == 2
    assert {s.failure for s in steps} == {failures.DNS_SERVFAIL}


# --- inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1.2.3.4", ("1.2.3.4", 53)),
        ("1.2.3.4:5353", ("1.2.3.4", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("[::1]:53", ("::1", 53)),
        ("[2001:db8::1]:5300", ("2001:db8::1", 5300)),
        (" 9.9.9.9 ", ("9.9.9.9", 53)),
    ],
)
def test_parse_resolver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "dns.google",
        "1.2.3.4:",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:x",
        "[::1",
        "[::1]x",
        "[::1]:",
        "300.1.1.1",
        "1.2.3.4:53:53",
    ],
)
def test_parse_resolver_rejects(spec: str) -> None:
    with pytest.raises(InputError) as info:
        parse_resolver(spec)
    assert info.value.field == "--resolver"


def test_system_nameservers(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nsearch lan\nnameserver 192.0.2.1\nnameserver   2001:db8::53\n"
        "nameserver not-an-ip\nnameserver 192.0.2.1\noptions ndots:1\n"
    )
    assert system_nameservers(str(conf)) == [("192.0.2.1", 53), ("2001:db8::53", 53)]
    assert system_nameservers(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (socket.EAI_NONAME, failures.DNS_NXDOMAIN),
        (socket.EAI_AGAIN, failures.DNS_TEMPORARY),
        (socket.EAI_FAIL, failures.DNS_NON_RECOVERABLE),
        (socket.EAI_NODATA, failures.DNS_NO_ANSWER),
        (socket.EAI_FAMILY, failures.UNKNOWN_FAILURE),
    ],
)
def test_gaierror_mapping(code: int, failure: str) -> None:
    assert failure_from_gaierror(socket.gaierror(code, "x")) == failure
