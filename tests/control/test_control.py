"""The control service must not become an open proxy: auth, rate limits, caps, SSRF guards.

Real servers throughout: the control (``ControlServer``) on 127.0.0.1, a DNS test server as its
resolver, and HTTP peers. The control may reach 127.0.0.2 only (``allow_dest``), so every peer on
127.0.0.1 stands for a forbidden internal service: each test also asserts it received nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netcheck.control.client import ControlClient
from netcheck.control.limits import DestinationPolicy, TokenBucket
from netcheck.control.measure import ControlConfig
from netcheck.control.server import ControlServer
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab, stream_server

TOKEN = "s3cret-token-for-tests"
ALLOWED = "127.0.0.2"


def response(status: int, body: bytes, headers: tuple[str, ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def answering(data: bytes) -> Any:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(data)
        await writer.drain()

    return client


async def post(
    srv: ControlServer, body: Any, token: str | None = TOKEN, raw: bytes | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx.AsyncClient(trust_env=False, timeout=20) as client:
        if raw is not None:
            return await client.post(srv.url + "/v1/measure", content=raw, headers=headers)
        return await client.post(srv.url + "/v1/measure", json=body, headers=headers)


@pytest.fixture
async def internal() -> AsyncIterator[hs.HttpServer]:
    """A forbidden "internal" service on 127.0.0.1: it must never get a request."""
    async with hs.HttpServer(default=hs.page("<title>internal admin</title>")) as srv:
        yield srv


@pytest.fixture
async def resolver(internal: hs.HttpServer) -> AsyncIterator[DnsServer]:
    zone = {"inside.test": ["127.0.0.1"], "ok.test": [ALLOWED], "mixed.test": [ALLOWED, "10.1.2.3"]}
    async with DnsServer(zone) as server:
        yield server


def make_config(tmp_path: Path, resolver: DnsServer, **kw: Any) -> ControlConfig:
    base: dict[str, Any] = dict(
        token=TOKEN,
        trust=TlsLab(tmp_path).trust,
        policy=DestinationPolicy.from_specs([f"{ALLOWED}/32"]),
        resolvers=[resolver.address],
        timeout=2.0,
        max_urls=3,
        rate=0.001,
        burst=50,
    )
    base.update(kw)
    return ControlConfig(**base)


@pytest.fixture
async def control(tmp_path: Path, resolver: DnsServer) -> AsyncIterator[ControlServer]:
    async with ControlServer(make_config(tmp_path, resolver)) as srv:
        yield srv


async def measured(srv: ControlServer, url: str) -> dict[str, Any]:
    reply = await post(srv, {"urls": [url]})
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()["results"][0]
    assert result["url"] == url
    return result


# --- authentication, rate limits, request caps -------------------------------------------------


async def test_no_token_is_401_and_wrong_token_is_403(control: ControlServer) -> None:
    assert (await post(control, {"urls": ["http://ok.test/"]}, token=None)).status_code == 401
    wrong = await post(control, {"urls": ["http://ok.test/"]}, token=TOKEN + "x")
    assert wrong.status_code == 403
    async with httpx.AsyncClient(trust_env=False) as client:
        basic = await client.post(
            control.url + "/v1/measure", json={"urls": []}, headers={"Authorization": "Basic x"}
        )
    assert basic.status_code == 401


async def test_rate_limit_answers_429_and_counts_bad_tokens(
    tmp_path: Path, resolver: DnsServer
) -> None:
    async with ALLOWED_PAGE() as (_, port):
        url = f"http://{ALLOWED}:{port}/"
        cfg = make_config(tmp_path, resolver, burst=3, rate=0.01)
        async with ControlServer(cfg) as srv:
            assert (await post(srv, {"urls": [url, url]})).status_code == 200  # 2 units
            assert (await post(srv, {"urls": [url]}, token="guess")).status_code == 403  # 1 unit
            limited = await post(srv, {"urls": [url]})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


async def test_url_count_and_body_caps(control: ControlServer) -> None:
    too_many = await post(control, {"urls": ["http://ok.test/"] * 4})
    assert too_many.status_code == 413
    assert "at most 3" in too_many.json()["error"]
    assert (await post(control, None, raw=b"{not json")).status_code == 400
    assert (await post(control, {"urls": "http://ok.test/"})).status_code == 400
    assert (await post(control, {"urls": []})).status_code == 400
    big = b'{"urls": ["' + b"a" * 70_000 + b'"]}'
    assert (await post(control, None, raw=big)).status_code == 413
    async with httpx.AsyncClient(trust_env=False) as client:
        assert (await client.get(control.url + "/v1/measure")).status_code == 405
        assert (await client.get(control.url + "/v1/health")).json() == {"ok": True}


async def test_garbage_and_slow_heads_do_not_hurt_the_service(control: ControlServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", control.port)
    writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 400")
    assert (await post(control, {"urls": ["ftp://x/"]})).status_code == 200  # still serving


# --- what may be fetched -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.2:70/_x", "ftp://127.0.0.2/", "javascript:alert(1)"],
)
async def test_non_http_schemes_are_refused(control: ControlServer, url: str) -> None:
    result = await measured(control, url)
    assert "scheme" in result["refused"]
    assert {k: v for k, v in result["steps"].items() if isinstance(v, list) and v} == {}


async def test_loopback_and_private_destinations_are_refused(
    control: ControlServer, internal: hs.HttpServer, resolver: DnsServer
) -> None:
    port = internal.port
    for url in [
        f"http://127.0.0.1:{port}/",
        f"http://localhost.:{port}/",  # not in the zone: NXDOMAIN, no fallback to /etc/hosts
        f"http://0.0.0.0:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::1]:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        f"http://inside.test:{port}/",  # a name the control's resolver maps to 127.0.0.1
        f"http://mixed.test:{port}/",  # one public-looking (allowed) answer does not launder it
        f"http://user:pw@{ALLOWED}:{port}/",
    ]:
        result = await measured(control, url)
        if "localhost." in url:
            assert result["steps"]["tcp"] == [], url
            assert result["steps"]["http"] == [], url
            continue
        assert result["refused"], url
        assert result["steps"]["tcp"] == [], url
        assert result["steps"]["dns"] == [], url
    assert resolver.count("inside.test") >= 1  # the name was resolved, then refused
    assert internal.requests == []


def ALLOWED_PAGE(body: bytes = b"<title>Allowed</title>", **kw: Any) -> Any:
    return stream_server(answering(response(200, body)), host=ALLOWED, **kw)


async def test_allowed_destination_is_measured_with_the_probe_stages(
    control: ControlServer,
) -> None:
    async with ALLOWED_PAGE() as (_, port):
        result = await measured(control, f"http://ok.test:{port}/")
    assert result["refused"] is None
    steps = result["steps"]
    assert {a["value"] for d in steps["dns"] for a in d["answers"]} == {ALLOWED}
    assert steps["tcp"][0]["failure"] is None
    assert steps["http"][-1]["status"] == 200
    assert steps["http"][-1]["title"] == "Allowed"


@pytest.mark.parametrize("where", ["literal", "name", "scheme"])
async def test_redirects_are_rechecked_at_every_hop(
    control: ControlServer, internal: hs.HttpServer, where: str
) -> None:
    target = {
        "literal": f"http://127.0.0.1:{internal.port}/admin",
        "name": f"http://inside.test:{internal.port}/admin",
        "scheme": "file:///etc/shadow",
    }[where]
    hop = response(302, b"", (f"Location: {target}",))
    async with stream_server(answering(hop), host=ALLOWED) as (_, port):
        result = await measured(control, f"http://{ALLOWED}:{port}/")
    assert result["refused"]
    assert "redirect" in result["refused"]
    assert result["steps"]["http"] == []  # nothing about the forbidden hop is reported
    assert internal.requests == []


async def test_bytes_per_url_are_capped(tmp_path: Path, resolver: DnsServer) -> None:
    async with ALLOWED_PAGE(b"x" * 1_000_000) as (_, port):
        cfg = make_config(tmp_path, resolver, max_bytes=4096)
        async with ControlServer(cfg) as srv:
            reply = await post(srv, {"urls": [f"http://{ALLOWED}:{port}/"]})
    page = reply.json()["results"][0]["steps"]["http"][-1]
    assert page["body_length"] == 4096
    assert page["body_truncated"] is True
    assert len(reply.content) < 60_000


# --- the pure guards ----------------------------------------------------------------------------


def test_destination_policy_table() -> None:
    policy = DestinationPolicy.from_specs(["198.18.0.0/15"])
    assert policy.forbidden("198.18.2.20") is None  # the lab, explicitly allowed
    assert policy.forbidden("93.184.216.34") is None
    for ip in ["127.0.0.1", "10.1.1.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "0.0.0.0",
               "169.254.169.254", "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1",
               "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "192.0.2.1"]:  # fmt: skip
        assert policy.forbidden(ip), ip
    assert "scheme" in (policy.refusal("gopher://1.2.3.4/") or "")
    assert policy.refusal("http://93.184.216.34:80/") is None
    assert policy.refusal("http://x:99999/") == "malformed URL"


def test_token_bucket_refills() -> None:
    bucket = TokenBucket(rate=1.0, burst=2)
    assert bucket.take("a", 2, now=0.0) == 0.0
    assert bucket.take("a", 1, now=0.0) == pytest.approx(1.0)
    assert bucket.take("b", 1, now=0.0) == 0.0  # per client
    assert bucket.take("a", 1, now=1.0) == 0.0
    assert bucket.take("a", 3, now=100.0) == float("inf")  # never affordable


# --- the client ----------------------------------------------------------------------------------


async def test_client_turns_every_control_problem_into_an_error_field(
    control: ControlServer,
) -> None:
    wrong = await ControlClient(control.url, "nope", timeout=5).evidence_for("http://ok.test/")
    assert wrong.error
    assert "403" in wrong.error
    async with stream_server(answering(response(200, b"x" * 5000))) as (host, port):
        small = ControlClient(f"http://{host}:{port}", TOKEN, max_response=1000, timeout=5)
        assert "over 1000 bytes" in ((await small.evidence_for("http://a.test/")).error or "")
        notjson = ControlClient(f"http://{host}:{port}", TOKEN, timeout=5)
        assert (await notjson.evidence_for("http://a.test/")).error
    async with ALLOWED_PAGE() as (_, port):
        good = await ControlClient(control.url, TOKEN, timeout=10).evidence_for(
            f"http://{ALLOWED}:{port}/"
        )
    assert good.error is None
    assert good.steps.http[-1].status == 200


# --- the command ---------------------------------------------------------------------------------


def test_serve_command_checks_its_token_file_and_serves(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    cmd = [sys.executable, "-m", "netcheck", "control", "serve", "--bind", "127.0.0.1:0"]
    bad = subprocess.run(
        [*cmd, "--token-file", str(empty)], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2
    assert "--token-file" in bad.stderr
    assert "empty" in bad.stderr
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    proc = subprocess.Popen(
        [*cmd, "--token-file", str(token), "--allow-dest", "127.0.0.2/32"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "*"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        reply = httpx.post(
            url + "/v1/measure",
            json={"urls": ["http://127.0.0.1:9/"]},
            headers={"Authorization": f"Bearer {TOKEN}"},
            trust_env=False,
            timeout=10,
        )
        assert reply.status_code == 200
        assert "loopback" in reply.json()["results"][0]["refused"]
    finally:
        proc.terminate()
        proc.wait(10)
