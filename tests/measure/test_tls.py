"""The TLS stage and trust anchors against real TLS peers on loopback (tests/servers/tls.py)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from pathlib import Path

import certifi
import pytest
from cryptography import x509

from netcheck import failures
from netcheck.certnames import name_matches
from netcheck.errors import InputError
from netcheck.measure.tcp import open_tcp
from netcheck.measure.tls import assess_chain, measure_tls, measure_tls_over
from netcheck.measure.trust import Trust, anchor_stores, load_trust, local_anchors, public_anchors
from netcheck.models import TlsStep
from tests.support.servers.tls import (
    DEFAULT_BODY,
    TlsLab,
    closed_port,
    stream_server,
    tls_black_hole_server,
    tls_eof_server,
    tls_garbage_server,
    tls_reset_server,
    tls_server,
)

NAME = "www.example.test"


@pytest.fixture
def lab(tmp_path: Path) -> TlsLab:
    return TlsLab(tmp_path)


async def _measure(
    lab: TlsLab, ctx: ssl.SSLContext, server_name: str = NAME, host: str = "127.0.0.1"
) -> TlsStep:
    async with tls_server(ctx, host=host) as (ip, port):
        return await measure_tls(ip, port, server_name, trust=lab.trust, timeout=3, t0=0.0)


# --- handshakes that succeed -------------------------------------------------------------------


async def test_public_chain_is_trusted_and_facts_are_recorded(lab: TlsLab) -> None:
    async with tls_server(lab.good_context(NAME)) as (ip, port):
        t0 = time.monotonic()
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=3, t0=t0)
    assert step.failure is None
    assert (step.trusted_public, step.trusted_local, step.hostname_matches) == (True, False, True)
    assert step.tls_version == "TLSv1.3"
    assert step.alpn == "http/1.1"
    assert (step.ip, step.port, step.server_name, step.proxy) == (ip, port, NAME, None)
    leaf = step.chain[0]
    assert leaf.sans == [NAME]
    assert "Public Test Root" in leaf.issuer
    assert len(leaf.sha256) == 64
    assert leaf.not_before is not None
    assert leaf.not_after is not None
    assert leaf.not_before < leaf.not_after
    assert 0 <= step.t0_ms < 1000
    assert 0 < step.runtime_ms < 3000


async def test_chain_with_intermediate_is_trusted(lab: TlsLab) -> None:
    step = await _measure(lab, lab.good_context(NAME, intermediate=True))
    assert step.failure is None
    assert step.trusted_public is True
    assert len(step.chain) == 2
    assert step.chain[0].issuer == step.chain[1].subject


async def test_alpn_h2_is_recorded_when_the_server_picks_it(lab: TlsLab) -> None:
    step = await _measure(lab, lab.good_context(NAME, alpn=("h2", "http/1.1")))
    assert step.alpn == "h2"


async def test_wildcard_covers_one_label_only(lab: TlsLab) -> None:
    ctx = lab.good_context("*.example.test")
    ok = await _measure(lab, ctx, "www.example.test")
    deep = await _measure(lab, ctx, "a.www.example.test")
    assert ok.failure is None
    assert ok.hostname_matches is True
    assert deep.failure == failures.SSL_INVALID_HOSTNAME
    assert deep.trusted_public is True


async def test_ip_server_name_matches_ip_san(lab: TlsLab) -> None:
    step = await _measure(lab, lab.good_context("127.0.0.1"), "127.0.0.1")
    assert step.failure is None
    assert step.trusted_public is True
    assert step.hostname_matches is True


async def test_ipv6_peer(lab: TlsLab) -> None:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        raise AssertionError("this test needs an IPv6 loopback (::1), as CI machines have") from exc
    step = await _measure(lab, lab.good_context(NAME), host="::1")
    assert step.failure is None
    assert step.ip == "::1"


# --- certificates that are wrong ----------------------------------------------------------------


async def test_trusted_cert_for_another_name_is_invalid_hostname(lab: TlsLab) -> None:
    step = await _measure(lab, lab.wrong_name_context())
    assert step.failure == failures.SSL_INVALID_HOSTNAME
    assert step.trusted_public is True
    assert step.hostname_matches is False
    assert step.chain[0].sans == ["wrong.example.test"]


async def test_self_signed_is_unknown_authority(lab: TlsLab) -> None:
    step = await _measure(lab, lab.self_signed_context(NAME))
    assert step.failure == failures.SSL_UNKNOWN_AUTHORITY
    assert (step.trusted_public, step.trusted_local) == (False, False)
    assert step.hostname_matches is True
    assert step.chain[0].subject == step.chain[0].issuer


async def test_corporate_ca_is_local_trust_and_no_failure(lab: TlsLab) -> None:
    step = await _measure(lab, lab.corporate_context(NAME))
    assert step.failure is None
    assert (step.trusted_public, step.trusted_local) == (False, True)
    assert "Agency Interception CA" in step.chain[0].issuer


async def test_corporate_ca_with_wrong_name_is_invalid_hostname(lab: TlsLab) -> None:
    step = await _measure(lab, lab.corporate_context("other.example.test"))
    assert step.failure == failures.SSL_INVALID_HOSTNAME
    assert step.trusted_local is True


async def test_corporate_ca_unknown_without_local_anchors(lab: TlsLab, tmp_path: Path) -> None:
    no_local = Trust(public_ca=lab.public_pem, os_store=str(tmp_path / "absent.crt"))
    async with tls_server(lab.corporate_context(NAME)) as (ip, port):
        step = await measure_tls(ip, port, NAME, trust=no_local, timeout=3, t0=0.0)
    assert step.failure == failures.SSL_UNKNOWN_AUTHORITY
    assert (step.trusted_public, step.trusted_local) == (False, False)


async def test_expired_is_invalid_certificate(lab: TlsLab) -> None:
    step = await _measure(lab, lab.expired_context(NAME))
    assert step.failure == failures.SSL_INVALID_CERTIFICATE
    assert step.hostname_matches is True
    assert step.chain


def test_unparsable_certificate_bytes_are_invalid_certificate(lab: TlsLab) -> None:
    for ders in ([b"\x30\x03garbage"], [b""], []):
        result = assess_chain(ders, NAME, lab.trust)
        assert result.failure == failures.SSL_INVALID_CERTIFICATE
        assert result.chain == []


# --- handshakes that fail -----------------------------------------------------------------------


async def test_reset_on_client_hello_is_connection_reset(lab: TlsLab) -> None:
    async with tls_reset_server() as (ip, port):
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=3, t0=0.0)
    assert step.failure == failures.CONNECTION_RESET
    assert step.chain == []
    assert step.trusted_public is None


async def test_black_hole_is_timeout_within_deadline(lab: TlsLab) -> None:
    async with tls_black_hole_server() as (ip, port):
        start = time.monotonic()
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=0.5, t0=start)
        elapsed = time.monotonic() - start
    assert step.failure == failures.GENERIC_TIMEOUT
    assert elapsed < 0.5 + 1


async def test_garbage_answer_is_failed_handshake(lab: TlsLab) -> None:
    async with tls_garbage_server() as (ip, port):
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=3, t0=0.0)
    assert step.failure == failures.SSL_FAILED_HANDSHAKE


async def test_close_after_client_hello_is_eof(lab: TlsLab) -> None:
    async with tls_eof_server() as (ip, port):
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=3, t0=0.0)
    assert step.failure == failures.EOF_ERROR


async def test_refused_connect_is_recorded_on_the_tls_step(lab: TlsLab) -> None:
    async with closed_port() as (ip, port):
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=3, t0=0.0)
    assert step.failure == failures.CONNECTION_REFUSED


async def test_client_closes_its_connection(lab: TlsLab) -> None:
    # The server's read must end (EOF/reset) soon after the measurement: nothing is left open.
    closed = asyncio.Event()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(4096):
                pass
        except OSError:
            pass
        closed.set()
        writer.close()

    async with stream_server(on_client, ctx=lab.good_context(NAME)) as (ip, port):
        step = await measure_tls(ip, port, NAME, trust=lab.trust, timeout=3, t0=0.0)
        assert step.failure is None
        async with asyncio.timeout(3):
            await closed.wait()


# --- over a tunnel ------------------------------------------------------------------------------


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal CONNECT proxy: one request head, 200, then bytes both ways."""

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(16384):
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()

    head = await reader.readuntil(b"\r\n\r\n")
    host, _, port = head.split(b" ")[1].decode().rpartition(":")
    up_reader, up_writer = await open_tcp(host, int(port), timeout=3)
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    try:
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    finally:
        up_writer.transport.abort()


async def test_tls_over_connect_tunnel(lab: TlsLab) -> None:
    async with stream_server(_relay) as (relay_host, relay_port):
        proxy = f"http://{relay_host}:{relay_port}"
        for ctx, expected in (
            (lab.good_context(NAME), None),
            (lab.corporate_context(NAME), None),
            (lab.self_signed_context(NAME), failures.SSL_UNKNOWN_AUTHORITY),
        ):
            async with tls_server(ctx) as (ip, port):
                reader, writer = await open_tcp(relay_host, relay_port, timeout=3)
                writer.write(f"CONNECT {ip}:{port} HTTP/1.1\r\nHost: {ip}:{port}\r\n\r\n".encode())
                assert b" 200 " in await reader.readuntil(b"\r\n\r\n")
                step = await measure_tls_over(
                    reader, writer, NAME, port=port, proxy=proxy, trust=lab.trust, timeout=3, t0=0
                )
            assert step.failure == expected
            assert step.ip is None
            assert step.proxy == proxy
            assert step.chain
            assert writer.is_closing()
        assert step.trusted_public is False


async def test_tls_over_times_out_on_silent_stream(lab: TlsLab) -> None:
    async with tls_black_hole_server() as (ip, port):
        reader, writer = await open_tcp(ip, port, timeout=3)
        start = time.monotonic()
        step = await measure_tls_over(
            reader, writer, NAME, port=port, proxy=None, trust=lab.trust, timeout=0.3, t0=start
        )
    assert step.failure == failures.GENERIC_TIMEOUT
    assert time.monotonic() - start < 1.3


# --- the test server itself speaks HTTP after the handshake (others rely on it) -----------------


async def test_good_server_serves_http(lab: TlsLab) -> None:
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def handler(line: str, headers: list[tuple[str, str]]) -> bytes:
        seen.append((line, headers))
        return b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"

    client = ssl.create_default_context(cafile=lab.public_pem)
    for kwargs, expected in (({}, DEFAULT_BODY), ({"handler": handler}, b" 204 ")):
        async with tls_server(lab.good_context(NAME), **kwargs) as (ip, port):  # type: ignore[arg-type]
            reader, writer = await asyncio.open_connection(
                ip, port, ssl=client, server_hostname=NAME
            )
            writer.write(b"GET /x HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
            async with asyncio.timeout(3):
                data = await reader.read()
            writer.close()
            assert expected in data
    assert seen == [("GET /x HTTP/1.1", [("Host", "www.example.test")])]


# --- hostname rules and trust anchors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("www.example.test", "WWW.Example.Test.", True),
        ("*.example.test", "a.example.test", True),
        ("*.example.test", "example.test", False),
        ("*.example.test", "a.b.example.test", False),
        ("*.test", "example.test", False),
        ("w*.example.test", "www.example.test", False),
        ("xn--bcher-kva.example", "bücher.example", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("www.example.test", "127.0.0.1", False),
        ("::1", "[::1]", True),
    ],
)
def test_name_matches(pattern: str, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


def test_load_trust_defaults_to_certifi_and_validates(lab: TlsLab, tmp_path: Path) -> None:
    trust = load_trust(None, lab.corporate_pem, os_store=str(tmp_path / "none"))
    assert trust.public_ca == certifi.where()
    assert len(public_anchors(trust)) > 50
    assert len(local_anchors(trust)) == 1
    assert anchor_stores(trust) is anchor_stores(trust)  # parsed once per run, not per target


@pytest.mark.parametrize("option", ["--ca-bundle", "--local-ca"])
def test_load_trust_errors_name_the_file(lab: TlsLab, tmp_path: Path, option: str) -> None:
    missing = str(tmp_path / "missing.pem")
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    for bad in (missing, str(empty)):
        args = (bad, None) if option == "--ca-bundle" else (lab.public_pem, bad)
        with pytest.raises(InputError) as info:
            load_trust(*args)
        assert info.value.file == bad
        assert info.value.field == option
        assert bad in str(info.value)


def test_default_local_anchors_are_what_the_os_store_adds(lab: TlsLab, tmp_path: Path) -> None:
    public = Path(lab.public_pem).read_bytes()
    corporate = Path(lab.corporate_pem).read_bytes()
    store = tmp_path / "os-store.crt"
    store.write_bytes(public + b"junk between blocks\n" + corporate)
    trust = load_trust(lab.public_pem, None, os_store=str(store), distro_public_dirs=())
    assert local_anchors(trust) == (x509.load_pem_x509_certificate(corporate),)
    # A root the distribution ships as public is not "local", even if certifi dropped it.
    distro = tmp_path / "mozilla"
    distro.mkdir()
    (distro / "old-root.crt").write_bytes(corporate)
    trust = load_trust(lab.public_pem, None, os_store=str(store), distro_public_dirs=(str(distro),))
    assert local_anchors(trust) == ()
