"""Diagnosis: where on the path a URL is blocked, and whether the block is a forgery.

In: a URL, a resolver, a port, a TTL range. Out: a ``Diagnosis`` record ending in one sentence
such as "blocked at hop 1 (198.19.200.1, the first router: inside the agency's own network) by a
forged TCP reset".

Three modules:
- here, the orchestration: the probe's own DNS, TCP and TLS stages (``netcheck.measure.dns``/
  ``tcp``/``tls``) always run; the DNS stage already counts replies to one query, so an injected
  answer shows even without root. Then, with raw sockets, the traces;
- ``trace``: raw sockets (root or CAP_NET_RAW) sending SYNs, DNS queries and, for https, QUIC
  Initials with TTL 1, 2, ... and recording what comes back. Without raw sockets the record says
  what could not be done (``cannot``);
- ``analyse``: the pure reasoning over the recorded packets (``analyse_tcp``/``dns``/``quic``,
  ``conclude``): forged resets, injected answers, where UDP stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from netcheck.diagnose.analyse import (
    REFERENCE,
    Diagnosis,
    Finding,
    Packet,
    analyse_dns,
    analyse_quic,
    analyse_tcp,
    conclude,
    hop_map,
    origin_hops,
)
from netcheck.diagnose.trace import Seen, dns_trace, quic_trace, raw_sockets_allowed, tcp_trace
from netcheck.errors import InputError
from netcheck.measure import dns, tcp, tls
from netcheck.measure.trust import Trust
from netcheck.models import DnsStep, TcpStep, TlsStep
from netcheck.netaddr import parse_ip, split_url

__all__ = [
    "REFERENCE",
    "Diagnosis",
    "Finding",
    "Packet",
    "analyse_dns",
    "analyse_quic",
    "analyse_tcp",
    "conclude",
    "diagnose",
    "hop_map",
    "origin_hops",
]

NO_RAW_SOCKETS = (
    "no raw sockets (run as root or with CAP_NET_RAW): no TTL traceroute, no "
    "reset forensics, no locating of DNS injection"
)
NO_RESOLVER = "DNS trace needs --resolver (the resolver to send queries to)"
NO_TRACE = "this machine could not send or capture the traces (no interface up or no route?)"


def _packets(seen: Sequence[Seen]) -> list[Packet]:
    """The trace's packets as the record keeps them (same fields, read by name)."""
    return [Packet.model_validate(s, from_attributes=True) for s in seen]


@dataclass
class _Stages:
    """What the probe's own stages saw: needs no privilege."""

    dns: list[DnsStep] = field(default_factory=list)
    ip: str | None = None
    tcp: list[TcpStep] = field(default_factory=list)
    tls: list[TlsStep] = field(default_factory=list)


@dataclass
class _Traces:
    """What the raw-socket traces saw, and what each concluded."""

    tcp: list[Packet] = field(default_factory=list)
    dns: list[Packet] = field(default_factory=list)
    quic: list[Packet] = field(default_factory=list)
    tcp_finding: Finding | None = None
    dns_finding: Finding | None = None
    quic_finding: Finding | None = None


async def _stages(
    host: str,
    port: int,
    https: bool,
    *,
    resolver: tuple[str, int] | None,
    timeout: float,
    trust: Trust,
) -> _Stages:
    t0 = time.monotonic()
    out = _Stages()
    if parse_ip(host):
        out.ip = host
    else:
        out.dns = await dns.measure_dns(
            host,
            resolvers=[resolver] if resolver else None,
            timeout=timeout,
            t0=t0,
            system=resolver is None,
        )
        addrs = dns.addresses(out.dns)
        out.ip = addrs[0] if addrs else None
    if out.ip is None:
        return out
    out.tcp.append(await tcp.measure_tcp(out.ip, port, timeout=timeout, t0=t0))
    if https and out.tcp[0].failure is None:
        out.tls.append(
            await tls.measure_tls(out.ip, port, host, trust=trust, timeout=timeout, t0=t0)
        )
    return out


async def _trace_path(
    ip: str | None, port: int, https: bool, *, max_hops: int, window: float
) -> _Traces:
    out = _Traces()
    if ip is None:
        return out
    refs = tuple(p for p in (80, 443, 22) if p != port)[:2]
    seen = await asyncio.to_thread(
        tcp_trace, ip, port, max_hops=max_hops, window=window, reference_ports=refs
    )
    out.tcp = _packets(seen)
    out.tcp_finding = analyse_tcp(out.tcp, ip, port)
    if https:
        seen = await asyncio.to_thread(quic_trace, ip, port, max_hops=max_hops, window=window)
        out.quic = _packets(seen)
        out.quic_finding = analyse_quic(out.quic, ip, port)
    return out


async def _trace_dns(
    traces: _Traces, resolver: tuple[str, int], host: str, *, max_hops: int, window: float
) -> None:
    seen = await asyncio.to_thread(
        dns_trace, resolver[0], resolver[1], host, max_hops=max_hops, window=window
    )
    traces.dns = _packets(seen)
    traces.dns_finding = analyse_dns(traces.dns, resolver[0], host)


async def diagnose(
    url: str,
    *,
    resolver: tuple[str, int] | None,
    port: int | None,
    max_hops: int,
    timeout: float,
    trust: Trust,
) -> Diagnosis:
    try:
        scheme, host, url_port = split_url(url)
    except ValueError as exc:  # a bad port or an unclosed [: the URL as typed is wrong
        raise InputError(f"not a URL ({exc}): {url[:80]!r}", field="URL") from None
    if not host:
        raise InputError(f"no host in {url[:80]!r}", field="URL")
    https = scheme == "https"
    dport = port or url_port
    raw = await asyncio.to_thread(raw_sockets_allowed)
    cannot = [] if raw else [NO_RAW_SOCKETS]
    stages = await _stages(host, dport, https, resolver=resolver, timeout=timeout, trust=trust)
    traces = _Traces()
    if raw:
        window = min(max(timeout, 0.5), 3.0)
        try:
            traces = await _trace_path(stages.ip, dport, https, max_hops=max_hops, window=window)
            named = not parse_ip(host)  # an address needs no resolving, so no DNS trace
            if named and resolver is None:
                cannot.append(NO_RESOLVER)
            elif named and resolver is not None:
                await _trace_dns(traces, resolver, host, max_hops=max_hops, window=window)
        except OSError as exc:
            # no interface up, no route: this machine cannot send the traces (what was traced
            # before stays); exactly when someone runs diagnose, so said, not a crash
            cannot.append(f"{NO_TRACE}: {exc.strerror or exc}")
    draft = Diagnosis(
        url=url,
        host=host,
        port=dport,
        ip=stages.ip,
        resolver=f"{resolver[0]}:{resolver[1]}" if resolver else None,
        raw_sockets=raw,
        cannot=cannot,
        dns=stages.dns,
        tcp=stages.tcp,
        tls=stages.tls,
        hops={**hop_map(traces.quic), **hop_map(traces.dns), **hop_map(traces.tcp)},
        tcp_trace=traces.tcp,
        dns_trace=traces.dns,
        quic_trace=traces.quic,
        tcp_finding=traces.tcp_finding,
        dns_finding=traces.dns_finding,
        quic_finding=traces.quic_finding,
        conclusion="",
    )
    return draft.model_copy(update={"conclusion": conclude(draft)})
