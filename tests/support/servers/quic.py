"""A QUIC peer that only does what netcheck's QUIC probe needs: Version Negotiation.

``QuicServer(host, port, mode=...)`` binds a UDP socket (port 0 picks a free one) and, for every
long-header datagram, behaves as ``mode`` says:

- ``vn``: answers a Version Negotiation echoing the client's connection IDs (RFC 9000 §6);
- ``garbage``: sends junk datagrams, a VN for other connection IDs and a short one, never a VN;
- ``garbage-then-vn``: the junk first, then the genuine VN;
- ``silent``: reads and never answers (a UDP black hole that still holds the port).

``python -m tests.support.servers.quic site DIR IP HOST`` runs, inside a namespace, a whole fake
site on IP: DNS on :53 answering HOST with IP, HTTPS on TCP 443 with a certificate from a
``TlsLab`` in DIR, and the VN peer on UDP 443. It prints "ready DNSPORT" once listening.
``python -m tests.support.servers.quic vn IP PORT`` runs the VN peer alone and prints "ready".
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from netcheck.measure.quic import make_probe, read_probe, version_negotiation

VERSIONS = [0x00000001, 0x6B3343CF]  # QUIC v1 and v2


class QuicServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, mode: str = "vn") -> None:
        self.host, self.port, self.mode = host, port, mode
        self.received = 0
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _answer(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.received += 1
        probe = read_probe(data)
        if probe is None or self._transport is None or self.mode == "silent":
            return
        send = self._transport.sendto
        if self.mode in ("garbage", "garbage-then-vn"):
            send(os.urandom(40), addr)
            send(b"\x80\x00", addr)  # a long header cut short
            send(version_negotiation(make_probe(), VERSIONS), addr)  # someone else's CIDs
            send(version_negotiation(probe, []) + b"\x01\x02", addr)  # ragged version list
        if self.mode in ("vn", "garbage-then-vn"):
            send(version_negotiation(probe, VERSIONS), addr)

    async def __aenter__(self) -> QuicServer:
        server = self

        class _Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
                server._answer(data, addr)

        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            _Proto, local_addr=(self.host, self.port)
        )
        self._transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()


async def _site(folder: Path, ip: str, host: str) -> None:
    from tests.support.servers.dns import DnsServer
    from tests.support.servers.tls import TlsLab

    lab = TlsLab(folder)
    body = b"<html><head><title>Example Service</title></head><body>the real one</body></html>"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
    reply = head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(reply)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    https = await asyncio.start_server(serve, ip, 443, ssl=lab.good_context(host))
    async with DnsServer({host: [ip]}, host=ip) as dns, QuicServer(ip, 443):
        print(f"ready {dns.address[1]}", flush=True)
        async with https:
            await asyncio.Event().wait()


async def _vn(ip: str, port: int) -> None:
    async with QuicServer(ip, port):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "site":
        asyncio.run(_site(Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
    elif sys.argv[1] == "vn":
        asyncio.run(_vn(sys.argv[2], int(sys.argv[3])))
