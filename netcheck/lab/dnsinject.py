"""The lab's on-path DNS injector and the slow relay that lets it win the race.

In: command-line arguments. Out: two long-running lab daemons
(``python -m netcheck.lab.dnsinject``):

- ``inject IFACE NAME ANSWER`` (in ``nclab-gateway``): sniffs the client-facing interface and
  answers every A query for NAME with ANSWER, spoofing the resolver the query was sent to — what
  an on-path censor does. The real resolver still answers, later: the client sees two replies to
  one query, the forged one first.
- ``relay BIND UPSTREAM DELAY`` (in ``nclab-internet``): a UDP DNS relay that forwards each query
  to UPSTREAM and returns its answer DELAY seconds later with every TTL set to 0 (so the gateway
  resolver caches nothing and asks again each time). The gateway resolver forwards the injected
  name here: an answer from far away, as on the long path a censor's forgery outruns.

Both print ``ready`` on stdout once they listen. scapy is imported in ``inject`` only: it reads
the routing table of the namespace it is imported in.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, cast

import dns.asyncquery
import dns.message

#: a relay keeps at most this many queries in flight: a flood cannot grow it without bound
MAX_PENDING = 256
MAX_DATAGRAM = 4096
UPSTREAM_TIMEOUT = 3.0


def inject(iface: str, name: str, answer: str) -> None:
    from scapy.all import AsyncSniffer, send
    from scapy.layers.dns import DNS, DNSRR
    from scapy.layers.inet import IP, UDP

    want = name.rstrip(".").lower() + "."

    def keep(pkt: Any) -> bool:
        try:
            q = pkt[DNS]
            return bool(
                UDP in pkt
                and pkt[UDP].dport == 53
                and q.qr == 0
                and q.qd[0].qtype == 1
                and q.qd[0].qname.decode().lower() == want
            )
        except Exception:  # noqa: BLE001 - anything unparsable is not a query we forge for
            return False

    def forge(pkt: Any) -> None:
        q = pkt[DNS]
        reply = (
            IP(src=pkt[IP].dst, dst=pkt[IP].src, ttl=64)
            / UDP(sport=53, dport=pkt[UDP].sport)
            / DNS(
                id=q.id,
                qr=1,
                aa=1,
                rd=q.rd,
                ra=1,
                qd=q.qd,
                an=DNSRR(rrname=want, type="A", ttl=300, rdata=answer),
            )
        )
        send(reply, verbose=False)

    ready = threading.Event()
    sniffer = AsyncSniffer(
        iface=iface, lfilter=keep, prn=forge, store=False, started_callback=ready.set
    )
    sniffer.start()
    ready.wait(5)
    print("ready", flush=True)
    sniffer.join()


class _Relay(asyncio.DatagramProtocol):
    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self.pending = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.pending >= MAX_PENDING or len(data) > MAX_DATAGRAM:
            return
        self.pending += 1
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        task.add_done_callback(lambda _: self._done())

    def _done(self) -> None:
        self.pending -= 1

    async def _answer(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            query = dns.message.from_wire(data)
            async with asyncio.timeout(UPSTREAM_TIMEOUT):
                reply = await dns.asyncquery.udp(query, self.upstream[0], port=self.upstream[1])
            for section in (reply.answer, reply.authority, reply.additional):
                for rrset in section:
                    rrset.ttl = 0
            await asyncio.sleep(self.delay)
            if self.transport is not None:
                self.transport.sendto(reply.to_wire(), addr)
        except Exception:  # noqa: BLE001 - a query the relay cannot serve simply gets no answer
            return


async def relay(bind: tuple[str, int], upstream: tuple[str, int], delay: float) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Relay(upstream, delay), local_addr=bind
    )
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()


def _addr(spec: str, port: int) -> tuple[str, int]:
    host, sep, number = spec.rpartition(":")
    return (host, int(number)) if sep else (spec, port)


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "inject":
        inject(argv[1], argv[2], argv[3])
        return 0
    if len(argv) == 4 and argv[0] == "relay":
        asyncio.run(relay(_addr(argv[1], 53), _addr(argv[2], 53), float(argv[3])))
        return 0
    print(
        "usage: python -m netcheck.lab.dnsinject inject IFACE NAME ANSWER\n"
        "       python -m netcheck.lab.dnsinject relay BIND[:PORT] UPSTREAM[:PORT] DELAY",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
