"""The pure half of a diagnosis: recorded packets in, findings and one sentence out.

In: the packets a trace recorded (``Packet``: which probe TTL it answers, what it is, who sent
it, its IP TTL and IP ID), the address, port or resolver traced. Out: a ``Finding`` per trace
(``analyse_tcp``, ``analyse_dns``, ``analyse_quic``) and the sentence ending a ``Diagnosis``
(``conclude``). No I/O: a saved diagnosis can be re-analysed offline.

The reasoning:
- a reset is *forged* when its IP TTL says it was sent from fewer hops away than the server is;
  where the server is comes from its own packets (full-TTL SYNs to reference ports) and, as a
  floor, from the routers that expired our SYNs (they sit between us and the server);
- a DNS answer is *injected* when it answers a query whose TTL expired before the resolver, or
  when one query gets differing answers;
- UDP (QUIC) that stops on the way is a clause, never the block: browsers fall back to TCP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from netcheck.models import DnsStep, Frozen, TcpStep, TlsStep

#: source-port offset of the reference probes (full TTL, other ports) within one trace: a
#: packet with ``ttl_sent >= REFERENCE`` answers a full-TTL probe
REFERENCE = 100


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


# --- TCP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ServerDistance:
    """How far the server is, and what says so."""

    hop: int | None  # None: nothing says
    reference_ttls: list[int]  # IP TTLs of the server's answers to the reference SYNs
    reference_ids: list[int]
    router_floor: bool  # the routers on the way, not the server's own packets, set ``hop``


def _server_distance(packets: Sequence[Packet], hops: dict[int, str], ip: str) -> _ServerDistance:
    reference = [p for p in packets if p.ttl_sent >= REFERENCE and p.src == ip]
    ttls = sorted({p.ip_ttl for p in reference})
    hop = min((origin_hops(t) for t in ttls), default=None)
    # routers that expired our SYNs sit between us and the server, so it is at least one hop
    # past the farthest of them — whatever the reference packets say: a filter that resets
    # every port of the address forges those too, and they would vouch for the forgery
    routers = [t for t, src in hops.items() if src != ip]
    floor = max(routers) + 1 if routers else None
    raised = floor is not None and (hop is None or hop < floor)
    return _ServerDistance(
        hop=floor if raised else hop,
        reference_ttls=ttls,
        reference_ids=sorted({p.ip_id for p in reference}),
        router_floor=raised,
    )


def _why_forged(server: _ServerDistance, hops: dict[int, str], ip: str) -> str:
    ttls = ", ".join(map(str, server.reference_ttls))
    if server.router_floor and server.hop is not None:
        floor = server.hop
        why = (
            f"while a router ({hops[floor - 1]}) answered at hop {floor - 1}, so "
            f"{ip} is at least {floor} hops away"
        )
        if ttls:
            why += f" (the other ports' answers, TTL {ttls}, come from the same filter)"
        return why
    ids = ", ".join(map(str, server.reference_ids))
    return f"while the server's own packets arrive with TTL {ttls} (hop {server.hop}, IP ID {ids})"


def _reset_finding(
    rst: Packet, server: _ServerDistance, hops: dict[int, str], ip: str, port: int
) -> Finding:
    sent_from = origin_hops(rst.ip_ttl)
    if server.hop is not None and sent_from < server.hop:
        return Finding(
            blocked=True,
            hop=sent_from,
            hop_ip=hops.get(sent_from),
            how="forged-reset",
            detail=(
                f"the reset claiming to come from {ip} arrived with IP TTL {rst.ip_ttl} "
                f"(sent {sent_from} hop(s) away, IP ID {rst.ip_id}) "
                f"{_why_forged(server, hops, ip)}"
            ),
        )
    unchecked = "" if server.reference_ttls else " (no reference packet from the server to compare)"
    return Finding(
        blocked=True,
        hop=sent_from,
        hop_ip=rst.src,
        how="reset",
        detail=f"{ip}:{port} answers with a reset (IP TTL {rst.ip_ttl}); no evidence of "
        f"forgery{unchecked}",
    )


def analyse_tcp(packets: Sequence[Packet], ip: str, port: int) -> Finding:
    hops = hop_map(packets)
    traced = [p for p in packets if p.ttl_sent < REFERENCE]
    server = _server_distance(packets, hops, ip)
    answers = sorted((p for p in traced if p.kind in ("syn-ack", "rst")), key=lambda p: p.ttl_sent)
    if answers and answers[0].kind == "syn-ack":
        first = answers[0]
        return Finding(
            blocked=False,
            hop=first.ttl_sent,
            hop_ip=first.src,
            detail=f"{ip}:{port} answers SYN-ACK at hop {first.ttl_sent} (IP TTL {first.ip_ttl})",
        )
    if answers:
        return _reset_finding(answers[0], server, hops, ip, port)
    alive = (
        f"; the server answers on other ports (hop {server.hop})" if server.reference_ttls else ""
    )
    unreachable = [p for p in traced if p.kind == "unreachable"]
    stopped = _stopped_on_path(unreachable, hops, f"SYNs to {ip}:{port}", "icmp", "dropped", alive)
    if stopped is not None:
        return stopped
    return Finding(blocked=None, detail=f"nothing came back for SYNs to {ip}:{port}")


# --- DNS and QUIC -----------------------------------------------------------------------------


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


# --- the sentence -----------------------------------------------------------------------------

_HOW = {
    "forged-reset": "a forged TCP reset",
    "reset": "a TCP reset",
    "icmp": "an ICMP unreachable",
    "dropped": "dropping the SYNs",
    "injected-dns": "an injected DNS answer",
}


def conclude(d: Diagnosis) -> str:
    sentence = _conclude_main(d)
    clause = _quic_clause(d)
    return sentence[:-1] + clause + "." if clause and sentence.endswith(".") else sentence


def _quic_clause(d: Diagnosis) -> str:
    """UDP 443 is never the block when TCP works (browsers fall back): a clause, not a verdict."""
    f = d.quic_finding
    if f is None or not f.blocked:
        return ""
    at = f" at hop {f.hop} ({f.hop_ip})" if f.hop and f.hop_ip else ""
    how = "rejected" if f.how == "quic-icmp" else "dropped"
    return f"; UDP {d.port} (QUIC) is {how}{at}, so browsers fall back to TCP"


def _conclude_main(d: Diagnosis) -> str:
    for f, what in ((d.dns_finding, "DNS"), (d.tcp_finding, "TCP")):
        if f is None or not f.blocked:
            continue
        at = _hop_phrase(f.hop, f.hop_ip)
        how = _HOW.get(f.how or "", what)
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
