"""Diagnosis: where on the path a URL is blocked, and whether the block is a forgery.

In: a URL, a resolver, a port, a TTL range. Out: a ``Diagnosis`` record ending in one sentence
such as "blocked at hop 1 (198.19.200.1, the first router: inside the agency's own network) by a
forged TCP reset".

Two layers:
- always: the probe's own DNS, TCP and TLS stages (``netcheck.measure.dns``/``tcp``/``tls``);
  the DNS stage already counts replies to one query, so an injected answer shows even without root;
- with raw sockets (root or CAP_NET_RAW): ``diagnose_trace`` sends SYNs and DNS queries with
  TTL 1, 2, ... and listens to what comes back. A reset is *forged* when its IP TTL says it was
  sent from fewer hops away than the server's own packets (full-TTL SYNs to reference ports);
  a DNS answer is *injected* when it answers a query whose TTL expired before the resolver
  (an ICMP time-exceeded came back for that same TTL), or when one query gets differing answers.
  For https, QUIC Initials (UDP to the same port) with growing TTLs find where UDP stops being
  answered; that is reported as a clause, never as the block, since browsers fall back to TCP.
  Without raw sockets the record says what could not be done (``cannot``).

The analysis (``analyse_tcp``, ``analyse_dns``) is pure over the recorded packets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from pydantic import Field

from netcheck.diagnose.trace import (
    REFERENCE,
    Seen,
    dns_trace,
    quic_trace,
    raw_sockets_allowed,
    tcp_trace,
)
from netcheck.measure import dns, tcp, tls
from netcheck.measure.trust import Trust
from netcheck.models import DnsStep, Frozen, TcpStep, TlsStep
from netcheck.netaddr import parse_ip


class Packet(Frozen):
    ttl_sent: int
    kind: str
    src: str
    ip_ttl: int
    ip_id: int
    at_ms: float
    detail: str = ""
    answers: list[str] = Field(default_factory=list)


class Finding(Frozen):
    """What one trace concluded."""

    blocked: bool | None = None
    hop: int | None = None
    hop_ip: str | None = None
    how: str | None = (
        None  # forged-reset, reset, icmp, dropped, injected-dns, quic-dropped, quic-icmp
    )
    detail: str = ""


class Diagnosis(Frozen):
    url: str
    host: str
    port: int
    ip: str | None = None
    resolver: str | None = None
    raw_sockets: bool
    cannot: list[str] = Field(default_factory=list)
    dns: list[DnsStep] = Field(default_factory=list)
    tcp: list[TcpStep] = Field(default_factory=list)
    tls: list[TlsStep] = Field(default_factory=list)
    hops: dict[int, str] = Field(default_factory=dict, description="TTL -> router (ICMP)")
    tcp_trace: list[Packet] = Field(default_factory=list)
    dns_trace: list[Packet] = Field(default_factory=list)
    quic_trace: list[Packet] = Field(
        default_factory=list, description="UDP probes to the port (https only): QUIC Initials"
    )
    tcp_finding: Finding | None = None
    dns_finding: Finding | None = None
    quic_finding: Finding | None = None
    conclusion: str


def _packets(seen: Sequence[Seen]) -> list[Packet]:
    return [
        Packet(
            ttl_sent=s.ttl_sent,
            kind=s.kind,
            src=s.src,
            ip_ttl=s.ip_ttl,
            ip_id=s.ip_id,
            at_ms=s.at_ms,
            detail=s.detail,
            answers=list(s.answers),
        )
        for s in seen
    ]


def origin_hops(ip_ttl: int) -> int:
    """How many hops away a packet was sent from: initial TTL (32/64/128/255) minus arrival."""
    initial = next(x for x in (32, 64, 128, 255) if ip_ttl <= x)
    return initial - ip_ttl + 1


def hop_map(packets: Sequence[Packet]) -> dict[int, str]:
    return {
        p.ttl_sent: p.src for p in packets if p.kind == "time-exceeded" and p.ttl_sent < REFERENCE
    }


def _where(hop: int, hops: dict[int, str]) -> str:
    ip = hops.get(hop)
    return f"hop {hop} ({ip})" if ip else f"hop {hop}"


def _stopped_on_path(
    unreachable: Sequence[Packet],
    hops: dict[int, str],
    what: str,
    how_icmp: str,
    how_dropped: str,
    alive: str = "",
) -> Finding | None:
    """A block on the way, once the destination itself said nothing useful: a router's ICMP
    unreachable (the first one), else silence past the last router that answered."""
    if unreachable:
        u = min(unreachable, key=lambda p: p.ttl_sent)
        hop = next((t for t, r in hops.items() if r == u.src), u.ttl_sent)
        return Finding(
            blocked=True,
            hop=hop,
            hop_ip=u.src,
            how=how_icmp,
            detail=f"{u.src} answers {what} with ICMP unreachable ({u.detail})",
        )
    if hops:
        last = max(hops)
        return Finding(
            blocked=True,
            hop=last,
            hop_ip=hops[last],
            how=how_dropped,
            detail=f"{what} get no answer past {_where(last, hops)}{alive}",
        )
    return None


def analyse_tcp(packets: Sequence[Packet], ip: str, port: int) -> Finding:
    hops = hop_map(packets)
    traced = [p for p in packets if p.ttl_sent < REFERENCE]
    reference = [p for p in packets if p.ttl_sent >= REFERENCE and p.src == ip]
    real_ttls = sorted({p.ip_ttl for p in reference})
    real_hop = min((origin_hops(t) for t in real_ttls), default=None)
    # routers that expired our SYNs sit between us and the server, so it is at least one hop
    # past the farthest of them — whatever the reference packets say: a filter that resets
    # every port of the address forges those too, and they would vouch for the forgery
    routers = [t for t, src in hops.items() if src != ip]
    floor = max(routers) + 1 if routers else None
    if floor is not None and (real_hop is None or real_hop < floor):
        real_hop = floor
    answers = sorted((p for p in traced if p.kind in ("syn-ack", "rst")), key=lambda p: p.ttl_sent)
    unreachable = [p for p in traced if p.kind == "unreachable"]
    if answers and answers[0].kind == "syn-ack":
        first = answers[0]
        return Finding(
            blocked=False,
            hop=first.ttl_sent,
            hop_ip=first.src,
            detail=f"{ip}:{port} answers SYN-ACK at hop {first.ttl_sent} (IP TTL {first.ip_ttl})",
        )
    if answers:
        rst = answers[0]
        sent_from = origin_hops(rst.ip_ttl)
        forged = real_hop is not None and sent_from < real_hop
        if forged:
            ids = sorted({p.ip_id for p in reference})
            if floor is not None and real_hop == floor:
                why = (
                    f"while a router ({hops[floor - 1]}) answered at hop {floor - 1}, so "
                    f"{ip} is at least {floor} hops away"
                )
                if real_ttls:
                    why += (
                        f" (the other ports' answers, TTL {', '.join(map(str, real_ttls))}, "
                        "come from the same filter)"
                    )
            else:
                why = (
                    f"while the server's own packets arrive with TTL "
                    f"{', '.join(map(str, real_ttls))} (hop {real_hop}, "
                    f"IP ID {', '.join(map(str, ids))})"
                )
            return Finding(
                blocked=True,
                hop=sent_from,
                hop_ip=hops.get(sent_from),
                how="forged-reset",
                detail=(
                    f"the reset claiming to come from {ip} arrived with IP TTL {rst.ip_ttl} "
                    f"(sent {sent_from} hop(s) away, IP ID {rst.ip_id}) {why}"
                ),
            )
        return Finding(
            blocked=True,
            hop=sent_from,
            hop_ip=rst.src,
            how="reset",
            detail=f"{ip}:{port} answers with a reset (IP TTL {rst.ip_ttl}); no evidence of "
            "forgery" + ("" if real_ttls else " (no reference packet from the server to compare)"),
        )
    alive = f"; the server answers on other ports (hop {real_hop})" if reference else ""
    stopped = _stopped_on_path(unreachable, hops, f"SYNs to {ip}:{port}", "icmp", "dropped", alive)
    if stopped is not None:
        return stopped
    return Finding(blocked=None, detail=f"nothing came back for SYNs to {ip}:{port}")


def analyse_dns(packets: Sequence[Packet], resolver: str, name: str) -> Finding:
    hops = hop_map(packets)
    replies = sorted((p for p in packets if p.kind == "dns"), key=lambda p: p.at_ms)
    early = sorted((p for p in replies if p.ttl_sent in hops), key=lambda p: p.ttl_sent)
    full = [p for p in replies if p.ttl_sent == REFERENCE]
    distinct = {tuple(sorted(p.answers)) for p in full}
    if early:
        forged = early[0]
        real = sorted({a for p in replies if p.ttl_sent not in hops for a in p.answers})
        real = [a for a in real if a not in forged.answers]
        raced = f"; the real answer {', '.join(real)} came later" if real else ""
        return Finding(
            blocked=True,
            hop=forged.ttl_sent,
            hop_ip=hops[forged.ttl_sent],
            how="injected-dns",
            detail=(
                f"an answer for {name} ({', '.join(forged.answers) or 'no address'}) came back "
                f"for a query whose TTL expired at {_where(forged.ttl_sent, hops)}, before "
                f"reaching {resolver}: it was injected there{raced}"
            ),
        )
    if len(full) > 1 and len(distinct) > 1:
        return Finding(
            blocked=True,
            how="injected-dns",
            detail=f"{len(full)} differing replies to one query for {name}: "
            + " then ".join(",".join(p.answers) or "empty" for p in full),
        )
    if full:
        return Finding(blocked=False, detail=f"{resolver} answered {name} once")
    return Finding(blocked=None, detail=f"no reply from {resolver} for {name}")


def analyse_quic(packets: Sequence[Packet], ip: str, port: int) -> Finding:
    """Where UDP to ip:port stops: a Version Negotiation or a port unreachable from the host
    means the path is open; a router's ICMP error or silence past the last router is a block."""
    hops = hop_map(packets)
    vn = sorted((p for p in packets if p.kind == "quic-vn"), key=lambda p: p.ttl_sent)
    if vn:
        v = vn[0]
        hop = v.ttl_sent if v.ttl_sent < REFERENCE else None
        return Finding(
            blocked=False,
            hop=hop,
            hop_ip=ip,
            detail=f"{ip}:{port} answers QUIC Version Negotiation"
            + (f" at hop {hop}" if hop else "")
            + (f" (offers {', '.join(v.answers)})" if v.answers else ""),
        )
    unreachable = sorted((p for p in packets if p.kind == "unreachable"), key=lambda p: p.ttl_sent)
    at_host = [p for p in unreachable if p.src == ip]
    if at_host:
        u = at_host[0]
        return Finding(
            blocked=False,
            hop=u.ttl_sent if u.ttl_sent < REFERENCE else None,
            hop_ip=ip,
            detail=f"UDP reaches {ip}:{port} but nothing serves QUIC there ({u.detail})",
        )
    stopped = _stopped_on_path(
        unreachable, hops, f"UDP datagrams to {ip}:{port}", "quic-icmp", "quic-dropped"
    )
    if stopped is not None:
        return stopped
    return Finding(blocked=None, detail=f"nothing came back for UDP to {ip}:{port}")


def _quic_clause(d: Diagnosis) -> str:
    """UDP 443 is never the block when TCP works (browsers fall back): a clause, not a verdict."""
    f = d.quic_finding
    if f is None or not f.blocked:
        return ""
    at = f" at hop {f.hop} ({f.hop_ip})" if f.hop and f.hop_ip else ""
    how = "rejected" if f.how == "quic-icmp" else "dropped"
    return f"; UDP {d.port} (QUIC) is {how}{at}, so browsers fall back to TCP"


def conclude(d: Diagnosis) -> str:
    sentence = _conclude_main(d)
    clause = _quic_clause(d)
    return sentence[:-1] + clause + "." if clause and sentence.endswith(".") else sentence


def _conclude_main(d: Diagnosis) -> str:
    for f, what in ((d.dns_finding, "DNS"), (d.tcp_finding, "TCP")):
        if f is None or not f.blocked:
            continue
        at = _hop_phrase(f.hop, f.hop_ip)
        how = {
            "forged-reset": "a forged TCP reset",
            "reset": "a TCP reset",
            "icmp": "an ICMP unreachable",
            "dropped": "dropping the SYNs",
            "injected-dns": "an injected DNS answer",
        }.get(f.how or "", what)
        return f"blocked at {at} by {how}: {f.detail}." if at else f"blocked by {how}: {f.detail}."
    return _unprivileged_conclusion(d)


def _hop_phrase(hop: int | None, ip: str | None) -> str:
    """ "hop 1 (198.18.0.1, the first router: inside the agency's own network)"."""
    if not hop:
        return ""
    if not ip:
        return f"hop {hop}"
    if hop == 1:  # the staff machine's first router belongs to the network it sits in
        return f"hop 1 ({ip}, the first router: inside the agency's own network)"
    return f"hop {hop} ({ip})"


def _unprivileged_conclusion(d: Diagnosis) -> str:
    injected = [s for s in d.dns if s.replies > 1]
    if injected:
        return (
            f"{injected[0].replies} replies to one DNS query for {d.host}: an injected answer "
            "is likely"
            + ("" if d.raw_sockets else " (raw sockets are needed to find where it comes from)")
            + "."
        )
    failed = [s.failure for s in d.tcp if s.failure]
    if d.tcp and len(failed) == len(d.tcp):
        return f"TCP to {d.ip}:{d.port} failed ({failed[0]})" + (
            "; raw sockets are needed to locate the hop." if not d.raw_sockets else "."
        )
    if d.tcp_finding is not None and d.tcp_finding.blocked is False:
        return f"reachable: {d.tcp_finding.detail}."
    if d.tls and all(t.failure for t in d.tls):
        return f"TCP works but the TLS handshake failed ({d.tls[0].failure})."
    if d.tcp:
        return f"no block found on the path to {d.ip}:{d.port}."
    return f"could not resolve {d.host}."


async def diagnose(
    url: str,
    *,
    resolver: tuple[str, int] | None,
    port: int | None,
    max_hops: int,
    timeout: float,
    trust: Trust,
) -> Diagnosis:
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    dport = port or parts.port or (443 if parts.scheme == "https" else 80)
    raw = await asyncio.to_thread(raw_sockets_allowed)
    cannot = (
        []
        if raw
        else [
            "no raw sockets (run as root or with CAP_NET_RAW): no TTL traceroute, no "
            "reset forensics, no locating of DNS injection"
        ]
    )
    t0 = time.monotonic()
    resolvers = [resolver] if resolver else None
    dns_steps = (
        []
        if parse_ip(host)
        else await dns.measure_dns(
            host, resolvers=resolvers, timeout=timeout, t0=t0, system=resolver is None
        )
    )
    addrs = [host] if parse_ip(host) else dns.addresses(dns_steps)
    ip = addrs[0] if addrs else None
    tcp_steps: list[TcpStep] = []
    tls_steps: list[TlsStep] = []
    tcp_packets: list[Packet] = []
    dns_packets: list[Packet] = []
    quic_packets: list[Packet] = []
    tcp_finding: Finding | None = None
    dns_finding: Finding | None = None
    quic_finding: Finding | None = None
    if ip is not None:
        tcp_steps.append(await tcp.measure_tcp(ip, dport, timeout=timeout, t0=t0))
        if parts.scheme == "https" and tcp_steps[0].failure is None:
            tls_steps.append(
                await tls.measure_tls(ip, dport, host, trust=trust, timeout=timeout, t0=t0)
            )
    window = min(max(timeout, 0.5), 3.0)
    if raw and ip is not None:
        refs = tuple(p for p in (80, 443, 22) if p != dport)[:2]
        seen = await asyncio.to_thread(
            tcp_trace, ip, dport, max_hops=max_hops, window=window, reference_ports=refs
        )
        tcp_packets = _packets(seen)
        tcp_finding = analyse_tcp(tcp_packets, ip, dport)
        if parts.scheme == "https":
            seen = await asyncio.to_thread(quic_trace, ip, dport, max_hops=max_hops, window=window)
            quic_packets = _packets(seen)
            quic_finding = analyse_quic(quic_packets, ip, dport)
    if raw and resolver is not None and not parse_ip(host):
        seen = await asyncio.to_thread(
            dns_trace, resolver[0], resolver[1], host, max_hops=max_hops, window=window
        )
        dns_packets = _packets(seen)
        dns_finding = analyse_dns(dns_packets, resolver[0], host)
    elif raw and not parse_ip(host):
        cannot.append("DNS trace needs --resolver (the resolver to send queries to)")
    draft = Diagnosis(
        url=url,
        host=host,
        port=dport,
        ip=ip,
        resolver=f"{resolver[0]}:{resolver[1]}" if resolver else None,
        raw_sockets=raw,
        cannot=cannot,
        dns=dns_steps,
        tcp=tcp_steps,
        tls=tls_steps,
        hops={**hop_map(quic_packets), **hop_map(dns_packets), **hop_map(tcp_packets)},
        tcp_trace=tcp_packets,
        dns_trace=dns_packets,
        quic_trace=quic_packets,
        tcp_finding=tcp_finding,
        dns_finding=dns_finding,
        quic_finding=quic_finding,
        conclusion="",
    )
    return draft.model_copy(update={"conclusion": conclude(draft)})
