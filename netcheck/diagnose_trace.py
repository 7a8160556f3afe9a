"""Packet-level probes with scapy: TCP SYNs, DNS queries and QUIC Initials with growing TTLs.

In: a destination, the TTL range, a listening window. Out: every packet that came back, as
``Seen`` records (which probe it answers, what it is, who sent it, its IP TTL and IP ID, when).
Blocking, runs in a thread (``asyncio.to_thread``); needs CAP_NET_RAW (``raw_sockets_allowed``).

Each probe is told apart by its source port (base + TTL), so one listening window serves the
whole trace: ICMP time-exceeded quotes our header back, a SYN-ACK/RST or DNS reply comes back to
that port. scapy is imported inside the functions: it reads the routing table of the network
namespace it is imported in, and the diagnosis may run inside one.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

#: source-port offset of the reference probes (full TTL, other ports) within one trace
REFERENCE = 100


@dataclass(frozen=True)
class Seen:
    ttl_sent: int  # the probe's TTL; REFERENCE + n for the reference probes
    kind: str  # time-exceeded, unreachable, syn-ack, rst, dns, echo-reply
    src: str
    ip_ttl: int
    ip_id: int
    at_ms: float
    detail: str = ""
    answers: tuple[str, ...] = ()


def raw_sockets_allowed() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except PermissionError:
        return False
    return True


def _listen(iface: str | None, keep: Any, window: float, send: Any) -> list[Any]:
    from scapy.all import AsyncSniffer

    ready = threading.Event()
    sniffer = AsyncSniffer(iface=iface, lfilter=keep, store=True, started_callback=ready.set)
    sniffer.start()
    ready.wait(2)
    send()
    time.sleep(window)
    sniffer.stop()
    return list(sniffer.results or [])


def _icmp(pkt: Any, base: int, start: float) -> Seen | None:
    from scapy.layers.inet import ICMP, IP, IPerror, TCPerror, UDPerror

    icmp = pkt[ICMP]
    inner = pkt.getlayer(TCPerror) or pkt.getlayer(UDPerror)
    if inner is None or IPerror not in pkt:
        return None
    kind = {11: "time-exceeded", 3: "unreachable"}.get(int(icmp.type))
    if kind is None:
        return None
    return Seen(
        ttl_sent=int(inner.sport) - base,
        kind=kind,
        src=str(pkt[IP].src),
        ip_ttl=int(pkt[IP].ttl),
        ip_id=int(pkt[IP].id),
        at_ms=round((float(pkt.time) - start) * 1000, 3),
        detail=f"icmp type {int(icmp.type)} code {int(icmp.code)}",
    )


def tcp_trace(
    ip: str, port: int, *, max_hops: int, window: float, reference_ports: tuple[int, ...]
) -> list[Seen]:
    """SYNs to ip:port with TTL 1..max_hops, plus full-TTL SYNs to ``reference_ports``."""
    from scapy.all import conf, send
    from scapy.layers.inet import ICMP, IP, TCP

    base = random.randint(20_000, 50_000)
    iface = conf.route.route(ip)[0]
    probes = [
        IP(dst=ip, ttl=ttl)
        / TCP(sport=base + ttl, dport=port, flags="S", seq=random.getrandbits(32))
        for ttl in range(1, max_hops + 1)
    ] + [
        IP(dst=ip, ttl=64) / TCP(sport=base + REFERENCE + n, dport=ref, flags="S")
        for n, ref in enumerate(reference_ports)
    ]
    ports = range(base + 1, base + REFERENCE + len(reference_ports) + 1)

    def keep(p: Any) -> bool:
        if IP not in p:
            return False
        if ICMP in p:
            return str(p[IP].dst) != ip
        return TCP in p and str(p[IP].src) == ip and int(p[TCP].dport) in ports

    start = time.time()
    found: list[Seen] = []
    for pkt in _listen(iface, keep, window, lambda: send(probes, verbose=False)):
        if ICMP in pkt:
            seen = _icmp(pkt, base, start)
            if seen is not None and 0 < seen.ttl_sent < 2 * REFERENCE:
                found.append(seen)
        elif TCP in pkt:
            flags = int(pkt[TCP].flags)
            kind = "syn-ack" if flags & 0x12 == 0x12 else "rst" if flags & 0x04 else "tcp"
            found.append(
                Seen(
                    ttl_sent=int(pkt[TCP].dport) - base,
                    kind=kind,
                    src=str(pkt[IP].src),
                    ip_ttl=int(pkt[IP].ttl),
                    ip_id=int(pkt[IP].id),
                    at_ms=round((float(pkt.time) - start) * 1000, 3),
                    detail=f"from port {int(pkt[TCP].sport)}",
                )
            )
    return found


def dns_trace(resolver: str, port: int, name: str, *, max_hops: int, window: float) -> list[Seen]:
    """The same A query with TTL 1..max_hops, plus one at full TTL (``REFERENCE``)."""
    from scapy.all import conf, send
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import ICMP, IP, UDP

    base = random.randint(20_000, 50_000)
    iface = conf.route.route(resolver)[0]
    ttls = [*range(1, max_hops + 1), REFERENCE]
    probes = [
        IP(dst=resolver, ttl=min(ttl, 64))
        / UDP(sport=base + ttl, dport=port)
        / DNS(id=random.getrandbits(16), rd=1, qd=DNSQR(qname=name, qtype="A"))
        for ttl in ttls
    ]
    ports = {base + ttl for ttl in ttls}

    def keep(p: Any) -> bool:
        if IP not in p:
            return False
        if ICMP in p:
            return str(p[IP].dst) != resolver
        return UDP in p and int(p[UDP].dport) in ports and int(p[UDP].sport) == port

    start = time.time()
    found: list[Seen] = []
    for pkt in _listen(iface, keep, window, lambda: send(probes, verbose=False)):
        if ICMP in pkt:
            seen = _icmp(pkt, base, start)
            if seen is not None and seen.ttl_sent in ttls:
                found.append(seen)
        elif DNS in pkt:
            dns = pkt[DNS]
            answers = tuple(
                str(dns.an[i].rdata) for i in range(int(dns.ancount or 0)) if dns.an[i].type == 1
            )
            found.append(
                Seen(
                    ttl_sent=int(pkt[UDP].dport) - base,
                    kind="dns",
                    src=str(pkt[IP].src),
                    ip_ttl=int(pkt[IP].ttl),
                    ip_id=int(pkt[IP].id),
                    at_ms=round((float(pkt.time) - start) * 1000, 3),
                    detail=f"rcode {int(dns.rcode)}",
                    answers=answers,
                )
            )
    return found


def quic_trace(ip: str, port: int, *, max_hops: int, window: float) -> list[Seen]:
    """The VN-forcing QUIC Initial (``netcheck.quic``) to ip:port over UDP with TTL 1..max_hops,
    plus one at full TTL (``REFERENCE``). A Version Negotiation answering our connection IDs is
    ``quic-vn``; any other UDP datagram from ip:port is ``udp``."""
    from scapy.all import conf, send
    from scapy.layers.inet import ICMP, IP, UDP

    from netcheck.quic import make_probe, parse_version_negotiation

    base = random.randint(20_000, 50_000)
    iface = conf.route.route(ip)[0]
    ttls = [*range(1, max_hops + 1), REFERENCE]
    made = {ttl: make_probe() for ttl in ttls}
    probes = [
        IP(dst=ip, ttl=min(ttl, 64)) / UDP(sport=base + ttl, dport=port) / made[ttl].packet
        for ttl in ttls
    ]
    ports = {base + ttl for ttl in ttls}

    def keep(p: Any) -> bool:
        if IP not in p:
            return False
        if ICMP in p:
            return str(p[IP].dst) != ip
        return UDP in p and int(p[UDP].dport) in ports and str(p[IP].src) == ip

    start = time.time()
    found: list[Seen] = []
    for pkt in _listen(iface, keep, window, lambda: send(probes, verbose=False)):
        if ICMP in pkt:
            seen = _icmp(pkt, base, start)
            if seen is not None and seen.ttl_sent in ttls:
                found.append(seen)
        elif UDP in pkt:
            ttl = int(pkt[UDP].dport) - base
            versions = parse_version_negotiation(bytes(pkt[UDP].payload), made[ttl])
            found.append(
                Seen(
                    ttl_sent=ttl,
                    kind="quic-vn" if versions is not None else "udp",
                    src=str(pkt[IP].src),
                    ip_ttl=int(pkt[IP].ttl),
                    ip_id=int(pkt[IP].id),
                    at_ms=round((float(pkt.time) - start) * 1000, 3),
                    detail=f"from port {int(pkt[UDP].sport)}",
                    answers=tuple(f"0x{v:08x}" for v in versions or ()),
                )
            )
    return found
