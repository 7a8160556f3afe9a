"""The QUIC stage: does UDP 443 reach something that speaks QUIC?

In: an IP literal, a port (443), a deadline and the target's ``time.monotonic()`` start. Out: a
``TcpStep`` (the record's ``steps.quic`` shape) whose ``failure`` says what UDP met:

- None: a QUIC server answered with Version Negotiation (``quic_versions`` lists what it offers);
- ``connection_refused``: an ICMP port unreachable came back; the path is open, nothing serves
  QUIC there. Not a block;
- ``generic_timeout_error``: nothing came back by the deadline, the usual way an agency blocks
  UDP 443 (browsers then fall back to TCP);
- ``host_unreachable`` / ``network_unreachable``: another ICMP error, or no route.

No handshake is attempted: the probe is a client Initial carrying a reserved version
(RFC 9000 §15, ``0x?a?a?a?a``), which every QUIC server must answer with Version Negotiation
(RFC 9000 §6) without keeping state. It is padded to 1200 bytes because servers drop shorter
Initials (§14.1) and middleboxes that filter QUIC see a plausible one. The socket is connected,
so the kernel hands ICMP errors for this flow back to us as errno on the next receive.
Datagrams that are not a valid reply to our connection IDs are ignored.

Cost (issue 13 §4): a silent UDP 443 is the common case, so waiting the step timeout for it
would make every clean run slow. Given the path's TCP round trip (``rtt``, an awaitable the TCP
stage fulfils while this probe already runs), the deadline shrinks to
``max(1 s, 8 × RTT)``: a QUIC server answers Version Negotiation within one round trip, and eight
leave room for a lost copy. ``QuicProbes`` shares one probe per (host, address, port) across a
run, so a host that many targets name costs three datagrams, not three per target.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

from netcheck.measure.errmap import failure_from_exception
from netcheck.measure.tcp import _family
from netcheck.models import TcpStep

#: RFC 9000 §14.1: a client's Initial datagram is at least this long
INITIAL_SIZE = 1200
#: reserved version (RFC 9000 §15 pattern 0x?a?a?a?a) that forces Version Negotiation
GREASE_VERSION = 0x1A2A3A4A
CID_LEN = 8
#: copies of the probe sent within the deadline: one lost datagram must not read as a block
SENDS = 3
#: largest datagram read; a VN packet listing many versions still fits
MAX_DATAGRAM = 2048
#: the shortest deadline once the TCP RTT is known, and how many RTTs it allows otherwise
RTT_FLOOR_S = 1.0
RTT_FACTOR = 8.0


def rtt_deadline(rtt_s: float) -> float:
    """Seconds a QUIC probe waits on a path whose TCP handshake took ``rtt_s``."""
    return max(RTT_FLOOR_S, RTT_FACTOR * rtt_s)


@dataclass(frozen=True)
class Probe:
    """One VN-forcing packet and the connection IDs a genuine answer must echo."""

    dcid: bytes
    scid: bytes
    packet: bytes


def make_probe(version: int = GREASE_VERSION) -> Probe:
    """A long-header Initial (type 0) with random CIDs, padded to ``INITIAL_SIZE``."""
    dcid, scid = os.urandom(CID_LEN), os.urandom(CID_LEN)
    # 0xC3: long header, fixed bit, type Initial, 4-byte packet number
    head = bytes([0xC3]) + struct.pack("!I", version)
    head += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    head += b"\x00"  # token length 0
    rest = INITIAL_SIZE - len(head) - 2
    # length as a 2-byte varint (0x4000 | n), then packet number and an opaque "payload": the
    # server cannot decrypt a version it does not know, so only the invariant header matters
    body = struct.pack("!H", 0x4000 | rest) + os.urandom(rest)
    return Probe(dcid=dcid, scid=scid, packet=head + body)


def parse_version_negotiation(data: bytes, probe: Probe) -> list[int] | None:
    """The versions offered, when ``data`` is a Version Negotiation answering ``probe``.

    RFC 9000 §17.2.1: long header bit set, version 0, the server's DCID is our SCID and its SCID
    is our DCID, then 4-byte versions. A VN that lists the version we sent is discarded (§6.2).
    """
    if len(data) < 7 or not data[0] & 0x80 or data[1:5] != b"\x00\x00\x00\x00":
        return None
    pos = 5
    dlen = data[pos]
    dcid = data[pos + 1 : pos + 1 + dlen]
    pos += 1 + dlen
    if pos >= len(data):
        return None
    slen = data[pos]
    scid = data[pos + 1 : pos + 1 + slen]
    pos += 1 + slen
    if dcid != probe.scid or scid != probe.dcid or pos > len(data):
        return None
    tail = data[pos:]
    if not tail or len(tail) % 4:
        return None
    versions = [v for (v,) in struct.iter_unpack("!I", tail)]
    sent = struct.unpack("!I", probe.packet[1:5])[0]
    return None if sent in versions else versions


def version_negotiation(probe: Probe, versions: list[int]) -> bytes:
    """What a QUIC server sends back to ``probe`` (for test peers and trace analysis)."""
    first = bytes([0x80 | (os.urandom(1)[0] & 0x7F)])
    out = first + b"\x00\x00\x00\x00"
    out += bytes([len(probe.scid)]) + probe.scid + bytes([len(probe.dcid)]) + probe.dcid
    return out + b"".join(struct.pack("!I", v) for v in versions)


def read_probe(data: bytes) -> Probe | None:
    """Parse a client long-header packet's CIDs (what a server needs to answer it)."""
    if len(data) < 7 or not data[0] & 0x80:
        return None
    dlen = data[5]
    dcid = data[6 : 6 + dlen]
    if 6 + dlen >= len(data) or len(dcid) != dlen:
        return None
    slen = data[6 + dlen]
    scid = data[7 + dlen : 7 + dlen + slen]
    if len(scid) != slen:
        return None
    return Probe(dcid=dcid, scid=scid, packet=data)


async def _exchange(sock: socket.socket, probe: Probe, gap: float) -> list[int]:
    """Send up to ``SENDS`` copies, ``gap`` seconds apart; return the first genuine VN's versions.

    One coroutine does both sending and receiving, so an ICMP error the kernel reports on either
    call (it reports it once) is raised here. The caller's deadline bounds the whole exchange.
    """
    loop = asyncio.get_running_loop()
    sends = 0
    next_send = loop.time()
    while True:
        if sends < SENDS and loop.time() >= next_send:
            await loop.sock_sendall(sock, probe.packet)
            sends += 1
            next_send = loop.time() + gap
        wait = max(0.0, next_send - loop.time()) if sends < SENDS else None
        try:
            async with asyncio.timeout(wait):
                data = await loop.sock_recv(sock, MAX_DATAGRAM)
        except TimeoutError:
            continue  # time to send the next copy (the caller's deadline cancels, not this)
        versions = parse_version_negotiation(data, probe)
        if versions is not None:
            return versions
        # anything else (garbage, a stray datagram) is ignored until the deadline


async def _shorten(deadline: asyncio.Timeout, rtt: Awaitable[float | None], begun: float) -> None:
    """Once the TCP RTT is known, bring the deadline forward to ``rtt_deadline`` (never later)."""
    seconds = await rtt
    if seconds is None:
        return  # TCP learnt nothing about the path: the step timeout stands
    when = begun + rtt_deadline(seconds)
    current = deadline.when()
    if current is None or when < current:
        deadline.reschedule(when)


async def measure_quic(
    ip: str,
    port: int = 443,
    *,
    timeout: float,
    t0: float,
    rtt: Awaitable[float | None] | None = None,
) -> TcpStep:
    """Send the VN-forcing Initial to ip:port (UDP), wait up to ``timeout``, record the outcome.

    ``rtt``: the path's TCP round trip in seconds once known (None if TCP learnt nothing); the
    wait then ends at ``rtt_deadline(rtt)`` after the start if that comes sooner.
    """
    start = time.monotonic()
    failure: str | None = None
    versions: list[str] | None = None
    sock = socket.socket(_family(ip), socket.SOCK_DGRAM)
    gap = (timeout if rtt is None else min(timeout, RTT_FLOOR_S)) / SENDS
    shorten: asyncio.Task[None] | None = None
    try:
        sock.setblocking(False)
        async with asyncio.timeout(timeout) as deadline:
            sock.connect((ip, port))  # UDP connect: no packet, only the route and ICMP binding
            if rtt is not None:
                begun = asyncio.get_running_loop().time()
                shorten = asyncio.ensure_future(_shorten(deadline, rtt, begun))
            offered = await _exchange(sock, make_probe(), gap)
        versions = [f"0x{v:08x}" for v in offered]
    except (OSError, TimeoutError) as exc:
        failure = failure_from_exception(exc)
    finally:
        sock.close()
        if shorten is not None:
            shorten.cancel()
    end = time.monotonic()
    return TcpStep(
        ip=ip,
        port=port,
        failure=failure,
        quic_versions=versions,
        t0_ms=(start - t0) * 1000,
        runtime_ms=(end - start) * 1000,
    )


# --- one probe per (host, address) per run ------------------------------------------------------


@dataclass
class SharedProbe:
    """A QUIC probe some target started; every target of the same host and address reads it."""

    task: asyncio.Task[TcpStep]
    rtt: asyncio.Future[float | None]
    #: the monotonic start the step's ``t0_ms`` counts from (the first target's)
    t0: float

    def tell_rtt(self, seconds: float | None) -> None:
        """The TCP stage's round trip to this address (None: the connect failed)."""
        if not self.rtt.done():
            self.rtt.set_result(seconds)

    async def step_for(self, t0: float) -> TcpStep | None:
        """The probe's step, timed on the line of a target that started at ``t0`` (None when
        the run stopped the probe). Shielded: a target whose deadline fires while waiting must
        not cancel the others' probe."""
        try:
            step = await asyncio.shield(self.task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.task.cancelled() and (current is None or not current.cancelling()):
                return None
            raise
        if t0 == self.t0:
            return step
        return step.model_copy(update={"t0_ms": step.t0_ms + (self.t0 - t0) * 1000})


@dataclass
class QuicProbes:
    """The run's QUIC probes, one per (host, address, port), each bounded by ``timeout``."""

    timeout: float
    _probes: dict[tuple[str, str, int], SharedProbe] = field(default_factory=dict)

    def start(self, host: str, ip: str, port: int, t0: float) -> tuple[SharedProbe, bool]:
        """(the probe for host/ip/port, whether this call started it)."""
        key = (host, ip, port)
        found = self._probes.get(key)
        if found is not None:
            return found, False
        rtt: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(measure_quic(ip, port, timeout=self.timeout, t0=t0, rtt=rtt))
        self._probes[key] = shared = SharedProbe(task, rtt, t0)
        return shared, True

    def close(self) -> None:
        """Stop what still runs and forget every probe (the run is over; nobody reads them)."""
        for shared in self._probes.values():
            shared.task.cancel()
            if not shared.rtt.done():
                shared.rtt.cancel()
        self._probes.clear()
