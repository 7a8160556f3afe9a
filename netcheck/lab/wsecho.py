"""The fake internet's websocket endpoint: what an admin console's live connection talks to.

In: an address and port (``python -m netcheck.lab.wsecho HOST PORT``, run in ``nclab-internet``
behind nginx, which proxies every site's ``/__lab/ws`` here with the Upgrade headers). Out: a
server that completes the RFC 6455 handshake, sends one text frame (``conectado``) at once, then
echoes text frames until the client closes. A request without ``Upgrade: websocket`` (netcheck's
own HTTP measurement of the host) gets a small 200 page, as a real edge answers a plain GET.

The handshake is a dozen lines: no websocket library is needed for one frame out and echoes back.
Every read has a deadline and a size cap, so a stuck client cannot pin the server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HEAD_MAX = 16 * 1024
FRAME_MAX = 64 * 1024
IDLE = 300.0
PLAIN = b"<!DOCTYPE html><title>live</title><p>websocket endpoint</p>\n"


def accept_key(key: bytes) -> str:
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest()).decode()


def frame(text: str, opcode: int = 0x1) -> bytes:
    data = text.encode()
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        return head + bytes([len(data)]) + data
    return head + bytes([126]) + struct.pack("!H", len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b1, b2 = await reader.readexactly(2)
    size = b2 & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    if size > FRAME_MAX:
        raise ValueError("frame too large")
    mask = await reader.readexactly(4) if b2 & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(size)))
    return b1 & 0x0F, data


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > HEAD_MAX:
            return
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
            if k
        }
        key = headers.get(b"sec-websocket-key")
        if headers.get(b"upgrade", b"").lower() != b"websocket" or not key:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                + f"Content-Length: {len(PLAIN)}\r\n\r\n".encode()
                + PLAIN
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
        )
        writer.write(frame("conectado"))
        await writer.drain()
        while True:
            async with asyncio.timeout(IDLE):
                opcode, data = await _read_frame(reader)
            if opcode == 0x8:  # close
                writer.write(frame("", 0x8))
                return
            if opcode == 0x1:
                writer.write(frame(data.decode(errors="replace")))
                await writer.drain()
    except (
        OSError,
        ValueError,
        TimeoutError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
    ):
        return
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(handle, host, port, limit=HEAD_MAX)
    print(f"ready on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
