"""A real DNS server on 127.0.0.1 (UDP and TCP, same port 0) that can misbehave on purpose.

In the spirit of dnspython's ``tests/nanonameserver.py``: tests point netcheck at it instead of
mocking resolvers. Queries received are logged in ``server.queries`` so a test can prove who was
(or was not) asked.

Quick use::

    async with DnsServer(
        {"www.example.test": ["127.0.0.1", "::1"], "alias.test": ["www.example.test"]},
        behaviours={"blocked.test": "nxdomain", "slow.test": Delay(0.5, "nodata")},
        ttl=300,
    ) as server:
        server.address            # ("127.0.0.1", 53535)
        server.spec               # "127.0.0.1:53535"  (what --resolver takes)
        server.queries            # [("www.example.test", "A", "udp"), ...]
        server.count("www.example.test")  # queries for that name, any type/transport

    with DnsServer(zone) as server:   # same server, on its own loop in a background thread
        ...                           # (for sync code, CLI runners, subprocesses)

Zone: ``{name: [value, ...]}``. IP values answer A/AAAA; any other value is a CNAME target
(first one only), followed through the zone like a recursive resolver would, so the answer
holds the whole chain. A name in the zone without records of the asked type gets NOERROR with
no answer (NODATA); a name neither in the zone nor in behaviours gets NXDOMAIN. Names are
case-insensitive, trailing dot optional.

Behaviours (per name; a string, a ``Response``, or a callable ``(request) -> Response``):

    "answer"    the zone's answer (the default)
    "nxdomain"  rcode NXDOMAIN            -> dns_nxdomain_error
    "nodata"    NOERROR, empty answer      -> dns_no_answer
    "servfail"  rcode SERVFAIL            -> dns_servfail_error
    "refused"   rcode REFUSED             -> dns_refused_error
    "notimp"    rcode NOTIMP              -> dns_non_recoverable_failure
    "drop"      no reply at all           -> generic_timeout_error
    "garbage"   bytes with the query's id that do not parse -> dns_invalid_reply
    "wrong_id"  the right answer under another id            -> dns_reply_with_wrong_query_id
    "inject"    a forged answer (A: INJECTED_V4, AAAA: an empty NOERROR) then the real one:
                two replies, the forged one first (use ``Inject(v4="...")`` for another IP)
    "truncate"  over UDP: TC bit set and no answer; over TCP: the full answer

Response (what a handler returns): ``None`` (drop), a ``dns.message.Message``, raw ``bytes``, a
``Truncate(message)``, a ``Delay(seconds, response)``, or a list of those, sent in order (several
replies to one query, as an injector produces). ``handler=`` replaces the zone logic entirely:
``DnsServer(handler=lambda request: make_reply(request, rcode=dns.rcode.SERVFAIL))``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

INJECTED_V4 = "127.0.0.2"  # loopback on purpose: a test that connects to it stays on the box


@dataclass(frozen=True)
class Truncate:
    """Send ``message`` with TC set and no records over UDP; the full message over TCP."""

    message: dns.message.Message


@dataclass(frozen=True)
class Delay:
    """Answer ``response`` (a Response or a behaviour string) after ``seconds``."""

    seconds: float
    response: Any


@dataclass(frozen=True)
class Inject:
    """A forged answer first, the zone's answer second."""

    v4: str = INJECTED_V4
    v6: str | None = None


Response = None | dns.message.Message | bytes | Truncate | Delay | Sequence[Any]
Handler = Callable[[dns.message.Message], Response]
Behaviour = str | Inject | Delay | Handler


def make_reply(
    request: dns.message.Message,
    *,
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    answers: Sequence[tuple[str, str, str]] = (),
    ttl: int = 300,
) -> dns.message.Message:
    """A reply to ``request`` with ``answers`` as (owner, type, value) triples."""
    reply = dns.message.make_response(request)
    reply.set_rcode(rcode)
    reply.flags |= dns.flags.RA
    for owner, kind, value in answers:
        reply.answer.append(dns.rrset.from_text(owner, ttl, "IN", kind, value))
    return reply


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class DnsServer:
    """See the module docstring."""

    def __init__(
        self,
        zone: Mapping[str, Sequence[str]] | None = None,
        *,
        behaviours: Mapping[str, Behaviour] | None = None,
        handler: Handler | None = None,
        ttl: int = 300,
        host: str = "127.0.0.1",
    ) -> None:
        self.zone = {_norm(k): list(v) for k, v in (zone or {}).items()}
        self.behaviours = {_norm(k): v for k, v in (behaviours or {}).items()}
        self.handler = handler
        self.ttl = ttl
        self.host = host
        self.queries: list[tuple[str, str, str]] = []
        self.address: tuple[str, int] = (host, 0)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def spec(self) -> str:
        ip, port = self.address
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    def count(self, name: str | None = None) -> int:
        """Queries received (for ``name`` only, if given)."""
        if name is None:
            return len(self.queries)
        return sum(1 for q in self.queries if q[0] == _norm(name))

    # --- answering ---------------------------------------------------------------------------

    def respond(self, request: dns.message.Message) -> Response:
        if self.handler is not None:
            return self.handler(request)
        name = _norm(request.question[0].name.to_text()) if request.question else ""
        return self.respond_as(request, self.behaviours.get(name, "answer"))

    def respond_as(self, request: dns.message.Message, behaviour: Behaviour) -> Response:
        """What ``behaviour`` answers to ``request`` (handy for composing custom handlers)."""
        if callable(behaviour) and not isinstance(behaviour, (Inject, Delay)):
            return behaviour(request)
        if isinstance(behaviour, Delay):
            inner = behaviour.response
            if isinstance(inner, (str, Inject)):
                inner = self.respond_as(request, inner)
            return Delay(behaviour.seconds, inner)
        if isinstance(behaviour, Inject):
            return [self._forged(request, behaviour), self.answer(request)]
        simple = {
            "nxdomain": dns.rcode.NXDOMAIN,
            "servfail": dns.rcode.SERVFAIL,
            "refused": dns.rcode.REFUSED,
            "notimp": dns.rcode.NOTIMP,
        }
        if behaviour in simple:
            return make_reply(request, rcode=simple[behaviour])
        if behaviour == "nodata":
            return make_reply(request)
        if behaviour == "drop":
            return None
        if behaviour == "garbage":
            return request.id.to_bytes(2, "big") + b"\xff" * 5  # shorter than a DNS header
        if behaviour == "wrong_id":
            reply = self.answer(request)
            reply.id = (request.id + 1) & 0xFFFF
            return reply
        if behaviour == "inject":
            return self.respond_as(request, Inject())
        if behaviour == "truncate":
            return Truncate(self.answer(request))
        if behaviour == "answer":
            return self.answer(request)
        raise ValueError(f"unknown DNS behaviour {behaviour!r}")

    def answer(self, request: dns.message.Message) -> dns.message.Message:
        """The zone's answer: the CNAME chain, then the records of the asked type."""
        question = request.question[0]
        kind = dns.rdatatype.to_text(question.rdtype)
        name = _norm(question.name.to_text())
        if name not in self.zone:
            return make_reply(request, rcode=dns.rcode.NXDOMAIN)
        records: list[tuple[str, str, str]] = []
        for _ in range(8):  # chain length cap; a loop in a test zone must not hang the server
            values = self.zone.get(name, [])
            targets = [v for v in values if not _is_ip(v)]
            if targets:
                records.append((name + ".", "CNAME", _norm(targets[0]) + "."))
                name = _norm(targets[0])
                continue
            for value in values:
                version = ipaddress.ip_address(value).version
                if (kind, version) in (("A", 4), ("AAAA", 6)):
                    records.append((name + ".", kind, value))
            break
        return make_reply(request, answers=records, ttl=self.ttl)

    def _forged(self, request: dns.message.Message, inject: Inject) -> dns.message.Message:
        question = request.question[0]
        owner = question.name.to_text()
        if question.rdtype == dns.rdatatype.A and inject.v4:
            return make_reply(request, answers=[(owner, "A", inject.v4)], ttl=self.ttl)
        if question.rdtype == dns.rdatatype.AAAA and inject.v6:
            return make_reply(request, answers=[(owner, "AAAA", inject.v6)], ttl=self.ttl)
        return make_reply(request)

    # --- transports --------------------------------------------------------------------------

    def _handle(self, wire: bytes, transport: str) -> Response:
        try:
            request = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError):
            return None  # a real server drops what it cannot parse
        if request.question:
            q = request.question[0]
            self.queries.append(
                (_norm(q.name.to_text()), dns.rdatatype.to_text(q.rdtype), transport)
            )
        try:
            return self.respond(request)
        except Exception:  # noqa: BLE001 - a test's handler may fail in any way; like a real
            # server's internal error that is a SERVFAIL answer, never a dead server thread
            return make_reply(request, rcode=dns.rcode.SERVFAIL)

    async def _send(self, response: Response, send: Callable[[bytes], None], udp: bool) -> None:
        if response is None:
            return
        if isinstance(response, Delay):
            await asyncio.sleep(response.seconds)
            await self._send(response.response, send, udp)
        elif isinstance(response, bytes):
            send(response)
        elif isinstance(response, Truncate):
            message = response.message
            if udp:
                message = dns.message.from_wire(message.to_wire())
                message.answer = []
                message.authority = []
                message.additional = []
                message.flags |= dns.flags.TC
            send(message.to_wire())
        elif isinstance(response, dns.message.Message):
            send(response.to_wire())
        else:
            items: Sequence[Any] = response
            for item in items:
                await self._send(item, send, udp)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        server = self

        class _Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                # 3.11's selector transport does not subclass DatagramTransport: no isinstance
                self.transport: Any = transport

            def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
                transport = self.transport
                response = server._handle(data, "udp")
                server._spawn(server._send(response, lambda b: transport.sendto(b, addr), True))

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _attempt in range(20):  # UDP port 0, then TCP on the same number (may be taken)
            udp, _ = await loop.create_datagram_endpoint(
                _Udp, local_addr=(self.host, 0), family=family
            )
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                continue
            self._udp = udp
            self.address = (self.host, port)
            return self
        raise OSError("could not bind UDP and TCP on the same port")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(data: bytes) -> None:
            writer.write(len(data).to_bytes(2, "big") + data)

        self._writers.add(writer)
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                wire = await reader.readexactly(size)
                await self._send(self._handle(wire, "tcp"), send, False)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)

    async def __aenter__(self) -> DnsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- sync use: its own loop in a daemon thread --------------------------------------------

    def __enter__(self) -> DnsServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, re-raised
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="dns-test-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
