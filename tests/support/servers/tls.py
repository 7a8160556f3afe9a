"""Real TLS (and bare TCP) peers on loopback, port 0, that behave or misbehave on purpose.

Certificates come from ``trustme``. ``TlsLab`` holds two CAs, a "public" one and a "corporate"
(intercepting) one, with their PEMs written to a temporary folder so
``netcheck.measure.trust.Trust`` can read them::

    lab = TlsLab(tmp_path)                 # tmp_path: pytest's fixture, or any folder
    lab.trust                              # Trust(public_ca=<public CA PEM>, local_ca=<corp PEM>)
    lab.public_pem, lab.corporate_pem      # the two CA files

Server-side ``ssl.SSLContext`` makers (each offers ALPN ``http/1.1`` by default)::

    lab.good_context("www.example.test", intermediate=False)   # public CA (optionally via an
                                                               # intermediate sent in the chain)
    lab.wrong_name_context()               # public CA, names only "wrong.example.test"
    lab.self_signed_context("name")        # self-signed leaf for that name
    lab.expired_context("name")            # public CA, expired a week ago
    lab.corporate_context("name")          # corporate CA: what a TLS-intercepting proxy shows

Async context managers, each yielding ``(host, port)``; ``host`` defaults to "127.0.0.1" (pass
``host="::1"`` for IPv6). The servers stop when the block exits::

    tls_server(ctx, response=b"HTTP/1.1 ...")   # TLS, then one HTTP/1.1 exchange per connection
    tls_server(ctx, handler=fn)                 # fn(request_line: str, headers: list[tuple[str,
                                                #    str]]) -> bytes (the whole raw response)
    tls_reset_server()      # reads the ClientHello, then closes with SO_LINGER 0 (a RST)
    tls_black_hole_server() # accepts, reads and discards, never answers
    tls_garbage_server(data=b"...")  # answers the ClientHello with non-TLS bytes
    tls_eof_server()        # reads the ClientHello, then closes cleanly (FIN)
    tcp_black_hole()        # SYNs are dropped: a listener with backlog 0 whose queue is full
    closed_port()           # a port nobody listens on (connect -> refused); yields (host, port)
    stream_server(fn, host=..., ctx=None)  # plain building block: await fn(reader, writer) per
                                           # connection (TLS when ctx is given); on exit every
                                           # connection is aborted and its handler awaited

``tcp_black_hole`` needs no root: a listening socket with backlog 0 that never accepts holds one
completed connection in its accept queue; once a filler connection occupies it, Linux drops every
further SYN (the LISTEN-overflow path), so a connect sees only retransmits until its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netcheck.measure.trust import Trust

Handler = Callable[[str, list[tuple[str, str]]], bytes]

DEFAULT_BODY = b"<html><head><title>Welcome</title></head><body>hello over TLS</body></html>"
DEFAULT_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
    + str(len(DEFAULT_BODY)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + DEFAULT_BODY
)
_MAX_HEAD = 64 * 1024


class TlsLab:
    """Two CAs (public, corporate) and the server contexts built from them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.public_ca = trustme.CA(organization_name="Public Test Root")
        self.corporate_ca = trustme.CA(organization_name="Agency Interception CA")
        self.public_pem = str(folder / "public-ca.pem")
        self.corporate_pem = str(folder / "corporate-ca.pem")
        self.public_ca.cert_pem.write_to_path(self.public_pem)
        self.corporate_ca.cert_pem.write_to_path(self.corporate_pem)
        self.trust = Trust(public_ca=self.public_pem, local_ca=self.corporate_pem)
        self._count = 0

    def good_context(
        self, *names: str, intermediate: bool = False, alpn: tuple[str, ...] = ("http/1.1",)
    ) -> ssl.SSLContext:
        issuer = self.public_ca.create_child_ca() if intermediate else self.public_ca
        return self._context(issuer.issue_cert(*(names or ("www.example.test",))), alpn)

    def wrong_name_context(self) -> ssl.SSLContext:
        return self._context(self.public_ca.issue_cert("wrong.example.test"), ("http/1.1",))

    def expired_context(self, *names: str) -> ssl.SSLContext:
        now = dt.datetime.now(dt.UTC)
        leaf = self.public_ca.issue_cert(
            *(names or ("www.example.test",)),
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=7),
        )
        return self._context(leaf, ("http/1.1",))

    def corporate_context(self, *names: str) -> ssl.SSLContext:
        leaf = self.corporate_ca.issue_cert(*(names or ("www.example.test",)))
        return self._context(leaf, ("http/1.1",))

    def self_signed_context(self, name: str = "www.example.test") -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self._context_from_pem(pem, ("http/1.1",))

    def _context(self, leaf: trustme.LeafCert, alpn: tuple[str, ...]) -> ssl.SSLContext:
        return self._context_from_pem(leaf.private_key_and_cert_chain_pem.bytes(), alpn)

    def _context_from_pem(self, pem: bytes, alpn: tuple[str, ...]) -> ssl.SSLContext:
        self._count += 1
        path = self.folder / f"server-{self._count}.pem"
        path.write_bytes(pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(path))
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx


# --- servers ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def stream_server(
    client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    *,
    host: str = "127.0.0.1",
    ctx: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[str, int]]:
    """Serve ``client(reader, writer)`` per connection; on exit abort them all and wait."""
    tasks: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        try:
            await client(reader, writer)
        except (OSError, EOFError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Python 3.11's start_server logs a cancelled handler as an error; shutting down
            # is this task's normal end, so end it quietly.
            pass
        finally:
            tasks.discard(task)
            writers.discard(writer)
            writer.transport.abort()

    server = await asyncio.start_server(
        on_client, host, 0, ssl=ctx, ssl_handshake_timeout=10 if ctx else None
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield host, port
    finally:
        server.close()
        await asyncio.sleep(0.01)  # let handlers of just-accepted connections start (and register)
        for writer in list(writers):
            writer.transport.abort()  # handlers blocked in a read see EOF and return
        if tasks:
            await asyncio.wait(list(tasks), timeout=1)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()


@contextlib.asynccontextmanager
async def tls_server(
    ctx: ssl.SSLContext,
    *,
    response: bytes = DEFAULT_RESPONSE,
    handler: Handler | None = None,
    host: str = "127.0.0.1",
) -> AsyncIterator[tuple[str, int]]:
    """TLS with ``ctx``, then read one HTTP/1.1 request head and answer it, then close."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            return
        lines = head.decode("latin-1").split("\r\n")
        headers = [
            (name.strip(), value.strip())
            for name, sep, value in (line.partition(":") for line in lines[1:] if line)
            if sep
        ]
        writer.write(handler(lines[0], headers) if handler else response)
        await writer.drain()
        writer.close()

    async with stream_server(client, host=host, ctx=ctx) as addr:
        yield addr


async def _read_client_hello(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(5)
    (length,) = struct.unpack("!H", header[3:5])
    return header + await reader.readexactly(length)


@contextlib.asynccontextmanager
async def tls_reset_server(host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_client_hello(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with stream_server(client, host=host) as addr:
        yield addr


@contextlib.asynccontextmanager
async def tls_black_hole_server(host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass

    async with stream_server(client, host=host) as addr:
        yield addr


@contextlib.asynccontextmanager
async def tls_garbage_server(
    data: bytes = b"HTTP/1.0 400 Bad Request\r\n\r\nnot TLS at all\r\n", host: str = "127.0.0.1"
) -> AsyncIterator[tuple[str, int]]:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_client_hello(reader)
        writer.write(data)
        await writer.drain()
        while await reader.read(4096):  # stay open: the client must fail on the bytes, not EOF
            pass

    async with stream_server(client, host=host) as addr:
        yield addr


@contextlib.asynccontextmanager
async def tls_eof_server(host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Read the hello first: closing with unread bytes would make the kernel send a RST.
        await _read_client_hello(reader)
        writer.close()
        await writer.wait_closed()

    async with stream_server(client, host=host) as addr:
        yield addr


@contextlib.asynccontextmanager
async def tcp_black_hole(host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind((host, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(2):
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((host, port))
            fillers.append(filler)
        await asyncio.sleep(0.05)  # let the first filler's handshake land in the accept queue
        yield host, port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@contextlib.asynccontextmanager
async def closed_port(host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
    # Bind to get a free port from the kernel, then close: nothing listens there any more.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    yield host, port
