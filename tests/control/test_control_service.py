"""The control's HTTP service on uvicorn: its contract and its limits against hostile clients.

A real ``ControlServer`` on 127.0.0.1 (uvicorn in the test's loop) and raw sockets playing the
clients: slow heads (on a fresh and on a kept-alive connection), slow bodies, chunked bodies,
too many connections, unknown paths and methods. Every refusal is JSON with ``Connection:
close``, and the service keeps answering the next client. Deadlines are shortened for the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netcheck import asgi
from netcheck.control import server as control_server
from netcheck.control.limits import DestinationPolicy
from netcheck.control.measure import ControlConfig
from netcheck.control.server import ControlServer
from tests.support.servers.tls import TlsLab

TOKEN = "service-test-token"
DEADLINE = 1.0


@pytest.fixture
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asgi, "HEAD_DEADLINE", DEADLINE)
    monkeypatch.setattr(control_server, "BODY_DEADLINE", DEADLINE)


def config(tmp_path: Path, **kw: Any) -> ControlConfig:
    base: dict[str, Any] = dict(
        token=TOKEN, trust=TlsLab(tmp_path).trust, policy=DestinationPolicy(), timeout=1.0
    )
    base.update(kw)
    return ControlConfig(**base)


@pytest.fixture
async def control(tmp_path: Path, short_deadlines: None) -> AsyncIterator[ControlServer]:
    async with ControlServer(config(tmp_path, max_connections=8, rate=0.001, burst=5)) as srv:
        yield srv


async def exchange(
    srv: ControlServer, data: bytes, wait: float = 5.0
) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes, read until the server closes: (status, headers, JSON body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait):
            raw = await reader.read()
    finally:
        writer.close()
    return parse(raw)


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


def request(body: bytes, *extra: str) -> bytes:
    head = [
        "POST /v1/measure HTTP/1.1",
        "Host: control",
        f"Authorization: Bearer {TOKEN}",
        "Content-Type: application/json",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def still_serving(srv: ControlServer) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        assert (await client.get(srv.url + "/v1/health")).json() == {"ok": True}


async def test_a_slow_head_gets_408_and_is_cut(control: ControlServer) -> None:
    status, headers, body = await exchange(control, b"POST /v1/measure HTTP/1.1\r\nHost: x\r\n")
    assert status == 408
    assert headers["connection"] == "close"
    assert body == {"error": "request not received in time"}
    await still_serving(control)


async def test_a_slow_head_on_a_kept_alive_connection_is_cut_too(control: ControlServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", control.port)
    writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b'{"ok":true}'), 5)
    assert first.startswith(b"HTTP/1.1 200")
    for _ in range(int(DEADLINE * 4)):  # a byte now and then: uvicorn's keep-alive timer stops
        writer.write(b"G")
        await writer.drain()
        await asyncio.sleep(0.4)
        if reader.at_eof():
            break
    async with asyncio.timeout(5):
        rest = await reader.read()
    writer.close()
    assert rest.startswith(b"HTTP/1.1 408"), rest


async def test_a_slow_body_gets_408(control: ControlServer) -> None:
    data = request(b'{"urls": [', "Content-Length: 40")  # 30 bytes promised never come
    status, headers, body = await exchange(control, data)
    assert status == 408
    assert body["error"] == "request not received in time"
    assert headers["connection"] == "close"


async def test_chunked_or_unsized_bodies_get_411(control: ControlServer) -> None:
    chunked = request(b"5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
    assert (await exchange(control, chunked))[0] == 411
    status, _, body = await exchange(control, request(b"", "Connection: close"))
    assert status == 411
    assert "Content-Length" in body["error"]


async def test_garbage_and_oversized_heads_get_400_json(control: ControlServer) -> None:
    status, _, body = await exchange(control, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert status == 400
    assert "HTTP/1.1" in body["error"]
    huge = b"GET /v1/health HTTP/1.1\r\nX-Pad: " + b"a" * 40_000 + b"\r\n\r\n"
    assert (await exchange(control, huge))[0] == 400
    await still_serving(control)


async def test_unknown_paths_and_methods_answer_json(control: ControlServer) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        missing = await client.get(control.url + "/admin")
        wrong = await client.get(control.url + "/v1/measure")
        put = await client.put(control.url + "/v1/health")
    assert missing.status_code == 404
    assert "POST /v1/measure" in missing.json()["error"]
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json() == {"error": "use POST"}
    assert put.status_code == 405
    assert "GET" in put.headers["allow"]


async def test_too_many_connections_get_503_and_the_slots_come_back(
    control: ControlServer,
) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", control.port) for _ in range(8)]
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        assert (await client.get(control.url + "/v1/health")).status_code == 503
    for _, writer in idle:  # the head deadline would free them too; do not wait for it
        writer.close()
    await asyncio.sleep(0.2)
    await still_serving(control)


async def test_the_allowance_is_advertised_and_spent(control: ControlServer) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        health = await client.get(control.url + "/v1/health")
        assert health.headers["ratelimit-policy"] == "5;w=5000"  # 5 URLs, then 0.001/s
        assert health.headers["ratelimit-remaining"] == "5"
        assert health.headers["netcheck-max-urls"] == "10"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        urls = {"urls": ["ftp://a/", "ftp://b/", "ftp://c/"]}  # refused by policy, still charged
        spent = await client.post(control.url + "/v1/measure", json=urls, headers=headers)
        assert spent.status_code == 200
        assert spent.headers["ratelimit-remaining"] == "2"
        over = await client.post(control.url + "/v1/measure", json=urls, headers=headers)
        after = await client.get(control.url + "/v1/health")
    assert over.status_code == 429
    assert int(over.headers["retry-after"]) > 100
    assert over.json() == {"error": "rate limit exceeded"}
    assert after.headers["ratelimit-remaining"] == "1"  # the 429's first unit was spent
    assert control.answers[200] == 1
    assert control.answers[429] == 1
