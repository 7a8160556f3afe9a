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

import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netcheck.diagnose.analyse import REFERENCE

# scapy logs every unroutable probe ("No route found", "Network is unreachable") on stderr;
# what the trace could not do is said once, in the diagnosis itself
logging.getLogger("scapy").setLevel(logging.CRITICAL)


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


def _seen(pkt: Any, ttl_sent: int, kind: str, start: float, detail: str, **extra: Any) -> Seen:
    from scapy.layers.inet import IP

    return Seen(
        ttl_sent=ttl_sent,
        kind=kind,
        src=str(pkt[IP].src),
        ip_ttl=int(pkt[IP].ttl),
        ip_id=int(pkt[IP].id),
        at_ms=round((float(pkt.time) - start) * 1000, 3),
        detail=detail,
        **extra,
    )


def _icmp(pkt: Any, base: int, start: float) -> Seen | None:
    from scapy.layers.inet import ICMP, IPerror, TCPerror, UDPerror

    icmp = pkt[ICMP]
    inner = pkt.getlayer(TCPerror) or pkt.getlayer(UDPerror)
    if inner is None or IPerror not in pkt:
        return None
    kind = {11: "time-exceeded", 3: "unreachable"}.get(int(icmp.type))
    if kind is None:
        return None
    detail = f"icmp type {int(icmp.type)} code {int(icmp.code)}"
    return _seen(pkt, int(inner.sport) - base, kind, start, detail)


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
            detail = f"from port {int(pkt[TCP].sport)}"
            found.append(_seen(pkt, int(pkt[TCP].dport) - base, kind, start, detail))
    return found


def _udp_trace(
    dst: str,
    port: int,
    payload: Callable[[int], Any],
    reply: Callable[[Any, int, float], Seen | None],
    *,
    max_hops: int,
    window: float,
    from_port: bool = False,
) -> list[Seen]:
    """One UDP datagram per TTL 1..max_hops plus one at full TTL (``REFERENCE``), each from its
    own source port; ICMP answers become ``Seen`` here, UDP answers through ``reply`` (None:
    not an answer to us, ignored).
    ``from_port``: accept replies by source port (a resolver) rather than by source address."""
    from scapy.all import conf, send
    from scapy.layers.inet import ICMP, IP, UDP

    base = random.randint(20_000, 50_000)
    iface = conf.route.route(dst)[0]
    ttls = [*range(1, max_hops + 1), REFERENCE]
    probes = [
        IP(dst=dst, ttl=min(ttl, 64)) / UDP(sport=base + ttl, dport=port) / payload(ttl)
        for ttl in ttls
    ]
    ports = {base + ttl for ttl in ttls}

    def keep(p: Any) -> bool:
        if IP not in p:
            return False
        if ICMP in p:
            return str(p[IP].dst) != dst
        if UDP not in p or int(p[UDP].dport) not in ports:
            return False
        return int(p[UDP].sport) == port if from_port else str(p[IP].src) == dst

    start = time.time()
    found: list[Seen] = []
    for pkt in _listen(iface, keep, window, lambda: send(probes, verbose=False)):
        if ICMP in pkt:
            seen = _icmp(pkt, base, start)
            if seen is not None and seen.ttl_sent in ttls:
                found.append(seen)
        elif UDP in pkt and (seen := reply(pkt, int(pkt[UDP].dport) - base, start)):
            found.append(seen)
    return found


def dns_trace(resolver: str, port: int, name: str, *, max_hops: int, window: float) -> list[Seen]:
    """The same A query with TTL 1..max_hops, plus one at full TTL (``REFERENCE``)."""
    from scapy.layers.dns import DNS, DNSQR

    def payload(ttl: int) -> Any:
        return DNS(id=random.getrandbits(16), rd=1, qd=DNSQR(qname=name, qtype="A"))

    def reply(pkt: Any, ttl: int, start: float) -> Seen | None:
        if DNS not in pkt:
            return None
        dns = pkt[DNS]
        count = int(dns.ancount or 0)
        answers = tuple(str(dns.an[i].rdata) for i in range(count) if dns.an[i].type == 1)
        return _seen(pkt, ttl, "dns", start, f"rcode {int(dns.rcode)}", answers=answers)

    return _udp_trace(
        resolver, port, payload, reply, max_hops=max_hops, window=window, from_port=True
    )


def quic_trace(ip: str, port: int, *, max_hops: int, window: float) -> list[Seen]:
    """The VN-forcing QUIC Initial (``netcheck.measure.quic``) to ip:port over UDP with TTL
    1..max_hops, plus one at full TTL (``REFERENCE``). A Version Negotiation answering our
    connection IDs is ``quic-vn``; any other UDP datagram from ip:port is ``udp``."""
    from scapy.layers.inet import UDP

    from netcheck.measure.quic import make_probe, parse_version_negotiation

    made: dict[int, Any] = {}

    def payload(ttl: int) -> Any:
        made[ttl] = make_probe()
        return made[ttl].packet

    def reply(pkt: Any, ttl: int, start: float) -> Seen:
        versions = parse_version_negotiation(bytes(pkt[UDP].payload), made[ttl])
        return _seen(
            pkt,
            ttl,
            "quic-vn" if versions is not None else "udp",
            start,
            f"from port {int(pkt[UDP].sport)}",
            answers=tuple(f"0x{v:08x}" for v in versions or ()),
        )

    return _udp_trace(ip, port, payload, reply, max_hops=max_hops, window=window)
