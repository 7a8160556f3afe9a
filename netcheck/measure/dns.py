"""The DNS stage: resolve one hostname the way the network under test resolves it.

In: a hostname, the resolvers to ask (or None for "what this machine would use"), a per-query
timeout and the target's monotonic start ``t0``. Out: one ``DnsStep`` per query, failed or not,
and ``addresses()`` to pull the A/AAAA answers out of them for the TCP stage.

Two engines:

- ``system``: the libc resolver through ``loop.getaddrinfo`` (what browsers on the box get,
  /etc/hosts included). It sees no rcode and no TTL, only addresses or a gaierror code.
- ``dnspython``: our own UDP exchange per (resolver, A|AAAA). We do the datagram loop ourselves
  instead of calling ``dns.asyncquery.udp`` because censorship evidence lives in what a stub
  resolver throws away: injected answers racing the real one (we count every reply with the
  query's id for a short grace window), wrong-id and garbage datagrams (ignored unless nothing
  valid ever comes), and truncation (retried over TCP inside the same deadline).

Nothing here decides "blocked": a sinkhole address is a successful answer; classification judges.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Sequence

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from netcheck import failures
from netcheck.errors import InputError
from netcheck.measure.errmap import failure_from_exception
from netcheck.models import DnsAnswer, DnsStep
from netcheck.netaddr import is_ip_literal

QUERY_TYPES = ("A", "AAAA")
#: after the first valid reply, keep listening this long to catch injected duplicates
INJECTION_GRACE = 0.2
#: datagrams with our query id parsed per query; beyond this they are ignored (CPU bound)
MAX_PARSED = 256
EDNS_PAYLOAD = 1232

_RCODE_FAILURES = {
    dns.rcode.NXDOMAIN: failures.DNS_NXDOMAIN,
    dns.rcode.SERVFAIL: failures.DNS_SERVFAIL,
    dns.rcode.REFUSED: failures.DNS_REFUSED,
}


def parse_resolver(spec: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``::1``, ``[::1]:53`` -> (ip, port); port 53 by default."""
    text = spec.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise InputError(f"unclosed '[' in resolver {spec!r}", field="--resolver")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"expected ':PORT' after ']' in {spec!r}", field="--resolver")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InputError(
            f"resolver must be an IP address, optionally with :PORT, got {spec!r}",
            field="--resolver",
        ) from None
    port = 53
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InputError(f"bad port in resolver {spec!r}", field="--resolver")
        port = int(port_text)
    return str(ip), port


def system_nameservers(resolv_conf: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """The ``nameserver`` lines of resolv.conf as (ip, 53); [] if the file cannot be read."""
    try:
        with open(resolv_conf, encoding="utf-8", errors="replace") as handle:
            lines = handle.read(65536).splitlines()
    except OSError:
        return []
    found: list[tuple[str, int]] = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                ip = str(ipaddress.ip_address(fields[1]))
            except ValueError:
                continue  # a malformed line: libc skips it too
            if (ip, 53) not in found:
                found.append((ip, 53))
    return found


def addresses(steps: Sequence[DnsStep]) -> list[str]:
    """Unique A/AAAA answer values across steps, in first-seen order."""
    seen: dict[str, None] = {}
    for step in steps:
        for answer in step.answers:
            if answer.type in QUERY_TYPES:
                seen.setdefault(answer.value, None)
    return list(seen)


async def measure_dns(
    hostname: str,
    *,
    resolvers: Sequence[tuple[str, int]] | None,
    timeout: float,
    t0: float,
    system: bool = True,
    system_resolvers: Sequence[tuple[str, int]] | None = None,
    into: list[DnsStep] | None = None,
) -> list[DnsStep]:
    """Resolve ``hostname``; every query runs concurrently and is bounded by ``timeout``.

    ``resolvers`` given: only those are asked (A and AAAA each), never the system. ``resolvers``
    None: getaddrinfo (unless ``system`` is False) plus A/AAAA against the system's nameservers,
    which ``system_resolvers`` overrides (tests pass local servers so nothing leaves the box).
    ``into``: a list each step is appended to the moment its query ends, so a caller whose own
    deadline cuts this call short keeps the answers that had arrived (reordered to query order
    when the call completes).
    """
    if is_ip_literal(hostname):
        return []
    if resolvers is not None:
        servers = list(dict.fromkeys(resolvers))
    else:
        chosen = system_nameservers() if system_resolvers is None else system_resolvers
        servers = list(dict.fromkeys(chosen))
    kept = len(into) if into is not None else 0

    async def recorded(query: Awaitable[DnsStep]) -> DnsStep:
        step = await query
        if into is not None:
            into.append(step)
        return step

    async with asyncio.TaskGroup() as group:
        tasks = []
        if resolvers is None and system:
            tasks.append(group.create_task(recorded(_getaddrinfo_step(hostname, timeout, t0))))
        for ip, port in servers:
            for qtype in QUERY_TYPES:
                query = _query_step(hostname, ip, port, qtype, timeout, t0)
                tasks.append(group.create_task(recorded(query)))
    found = [task.result() for task in tasks]
    if into is not None:
        del into[kept:]
        into.extend(found)
    return found


# --- the system engine --------------------------------------------------------------------------

_GAI_FAILURES = {
    socket.EAI_NONAME: failures.DNS_NXDOMAIN,
    socket.EAI_AGAIN: failures.DNS_TEMPORARY,
    socket.EAI_FAIL: failures.DNS_NON_RECOVERABLE,
}
if hasattr(socket, "EAI_NODATA"):  # glibc only
    _GAI_FAILURES[socket.EAI_NODATA] = failures.DNS_NO_ANSWER


def failure_from_gaierror(exc: socket.gaierror) -> str:
    """Map a getaddrinfo error code to a failure string (libc hides the rcode; this is all)."""
    if exc.errno is None:
        return failures.UNKNOWN_FAILURE
    return _GAI_FAILURES.get(exc.errno, failures.UNKNOWN_FAILURE)


async def _getaddrinfo_step(hostname: str, timeout: float, t0: float) -> DnsStep:
    start = time.monotonic()
    answers: list[DnsAnswer] = []
    failure: str | None = None
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                hostname, None, type=socket.SOCK_STREAM
            )
        seen: set[str] = set()
        for family, _type, _proto, _name, sockaddr in infos:
            value = str(sockaddr[0])
            if value in seen or family not in (socket.AF_INET, socket.AF_INET6):
                continue
            seen.add(value)
            answers.append(DnsAnswer(type="A" if family == socket.AF_INET else "AAAA", value=value))
    except socket.gaierror as exc:
        failure = failure_from_gaierror(exc)
    except Exception as exc:  # noqa: BLE001 - TimeoutError, UnicodeError on odd names, NUL...
        failure = failure_from_exception(exc)
    if failure is None and not answers:
        failure = failures.DNS_NO_ANSWER
    return DnsStep(
        hostname=hostname,
        engine="system",
        resolver=None,
        query_type="ANY",
        rcode=None,
        answers=answers,
        failure=failure,
        replies=1 if failure is None else 0,
        t0_ms=(start - t0) * 1000,
        runtime_ms=(time.monotonic() - start) * 1000,
    )


# --- the dnspython engine -----------------------------------------------------------------------


class _Exchange(asyncio.DatagramProtocol):
    """Sorts every datagram that comes back for one query; resolves ``first`` on a valid reply."""

    def __init__(self, query: dns.message.Message) -> None:
        self.query = query
        self.first: asyncio.Future[dns.message.Message] = asyncio.get_running_loop().create_future()
        self.parsed = 0
        self.replies = 0  # valid replies to our query, the first one included
        self.invalid = 0  # our id but unparsable or not an answer to our question
        self.wrong_id = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) >= 2 and int.from_bytes(data[:2], "big") != self.query.id:
            self.wrong_id += 1  # decided on two bytes: a flood of these costs almost nothing
            return
        self.parsed += 1
        if self.parsed > MAX_PARSED:
            return
        try:
            reply = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - dnspython raises many kinds on hostile bytes
            self.invalid += 1
            return
        if not self.query.is_response(reply):
            self.invalid += 1
        else:
            self.replies += 1
            if not self.first.done():
                self.first.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: end the wait now rather than at the deadline
        if isinstance(exc, OSError) and not self.first.done():
            self.first.set_exception(exc)


async def _query_step(
    hostname: str, ip: str, port: int, qtype: str, timeout: float, t0: float
) -> DnsStep:
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reply: dns.message.Message | None = None
    replies = 0
    failure: str | None = None
    try:
        query = dns.message.make_query(hostname, qtype, use_edns=0, payload=EDNS_PAYLOAD)
    except (dns.exception.DNSException, UnicodeError, ValueError):
        query = None
        failure = failures.DNS_NON_RECOVERABLE  # a name DNS cannot carry (label too long...)
    if query is not None:
        try:
            reply, replies, failure = await _exchange(query, ip, port, deadline)
        except Exception as exc:  # noqa: BLE001 - one odd query must not cancel its siblings
            failure = failure_from_exception(exc)
    answers: list[DnsAnswer] = []
    rcode: str | None = None
    if reply is not None:
        rcode = dns.rcode.to_text(reply.rcode())
        answers = _answers(reply)
        failure = _reply_failure(reply, qtype, answers)
    return DnsStep(
        hostname=hostname,
        engine="dnspython",
        resolver=f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}",
        query_type=qtype,
        rcode=rcode,
        answers=answers,
        failure=failure,
        replies=replies,
        t0_ms=(start - t0) * 1000,
        runtime_ms=(time.monotonic() - start) * 1000,
    )


async def _exchange(
    query: dns.message.Message, ip: str, port: int, deadline: float
) -> tuple[dns.message.Message | None, int, str | None]:
    """One UDP query (TCP on truncation): (reply or None, replies counted, failure or None)."""
    loop = asyncio.get_running_loop()
    transport: asyncio.DatagramTransport | None = None
    try:
        async with asyncio.timeout_at(deadline):
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            transport, exchange = await loop.create_datagram_endpoint(
                lambda: _Exchange(query), remote_addr=(ip, port), family=family
            )
            transport.sendto(query.to_wire())
            reply = await exchange.first
        if reply.flags & dns.flags.TC:
            return await _tcp(query, ip, port, deadline)
        # a censor's injected answer and the real one share the id: wait a moment for a second
        await asyncio.sleep(max(0.0, min(INJECTION_GRACE, deadline - loop.time())))
        return reply, exchange.replies, None
    except TimeoutError:
        if transport is None:
            return None, 0, failures.GENERIC_TIMEOUT
        if exchange.invalid:
            return None, 0, failures.DNS_INVALID_REPLY
        if exchange.wrong_id:
            return None, 0, failures.DNS_WRONG_QUERY_ID
        return None, 0, failures.GENERIC_TIMEOUT
    except OSError as exc:
        return None, 0, failure_from_exception(exc)
    finally:
        if transport is not None:
            transport.close()


async def _tcp(
    query: dns.message.Message, ip: str, port: int, deadline: float
) -> tuple[dns.message.Message | None, int, str | None]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            reply = await dns.asyncquery.tcp(
                query, ip, timeout=max(0.001, deadline - loop.time()), port=port
            )
    except Exception as exc:  # noqa: BLE001 - dnspython's TCP path: OSError, EOFError, FormError
        return None, 0, failure_from_exception(exc)
    return reply, 1, None


def _answers(reply: dns.message.Message) -> list[DnsAnswer]:
    found: list[DnsAnswer] = []
    for rrset in reply.answer:
        if rrset.rdclass != dns.rdataclass.IN:
            continue
        kind = dns.rdatatype.to_text(rrset.rdtype)
        for rdata in rrset:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                value = str(rdata.address)
            elif rrset.rdtype == dns.rdatatype.CNAME:
                value = rdata.target.to_text(omit_final_dot=True)
            else:
                continue
            found.append(DnsAnswer(type=kind, value=value, ttl=rrset.ttl))
    return found


def _reply_failure(reply: dns.message.Message, qtype: str, answers: list[DnsAnswer]) -> str | None:
    rcode = reply.rcode()
    if rcode == dns.rcode.NOERROR:
        return None if any(a.type == qtype for a in answers) else failures.DNS_NO_ANSWER
    return _RCODE_FAILURES.get(rcode, failures.DNS_NON_RECOVERABLE)
