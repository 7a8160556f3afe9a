"""``speed`` resolves names with the DNS stage, never the system resolver, and keeps Host/SNI.

Real local peers: a DNS test server that alone knows the names (the system resolver would
answer NXDOMAIN for ``*.speed.test``), HTTP and HTTPS servers on 127.0.0.1 that record what
they were asked, with a certificate for the name checked against the lab's CA.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from netcheck.bandwidth.speed import measure_download, measure_upload
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab

NAME = "media.speed.test"
BIG = b"x" * 3_000_000


async def discard_chunked(
    req: hs.Request, r: asyncio.StreamReader, w: asyncio.StreamWriter
) -> None:
    """Read a chunked request body to its end, answer 204 (what nginx ``return 204`` does)."""
    while size := int((await r.readuntil(b"\r\n")).split(b";")[0], 16):
        await r.readexactly(size + 2)
    await r.readuntil(b"\r\n")
    w.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    await w.drain()


async def test_download_by_name_goes_through_the_dns_stage() -> None:
    async with (
        hs.HttpServer(default=hs.page(BIG)) as srv,
        DnsServer({NAME: ["127.0.0.1"]}) as dns,
    ):
        url = srv.url("/big.bin", host=NAME)
        result = await measure_download(url, resolvers=[dns.address], max_bytes=1_000_000)
    assert result.failure is None, result
    assert result.http_status == 200
    assert result.bytes >= 1_000_000
    assert result.rtt_ms is not None
    assert dns.count(NAME) >= 1
    asked = [r for r in srv.requests if r.method == "GET"]
    assert asked[0].header("host") == f"{NAME}:{srv.port}"


async def test_https_keeps_the_name_as_sni_and_checks_the_certificate(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    async with (
        hs.HttpServer(default=hs.page(BIG), ssl_context=lab.good_context(NAME)) as srv,
        DnsServer({NAME: ["127.0.0.1"]}) as dns,
    ):
        url = srv.url("/big.bin", host=NAME)
        good = await measure_download(
            url, resolvers=[dns.address], verify=lab.public_pem, max_bytes=500_000
        )
        untrusted = await measure_download(
            url, resolvers=[dns.address], verify=lab.corporate_pem, max_bytes=500_000
        )
    assert good.failure is None, good
    assert good.http_status == 200
    assert srv.requests[0].sni == NAME
    assert untrusted.failure == "ssl_unknown_authority"
    assert untrusted.status == "failed"


async def test_upload_by_name_is_measured() -> None:
    async with (
        hs.HttpServer(routes={"/upload": discard_chunked}) as srv,
        DnsServer({NAME: ["127.0.0.1"]}) as dns,
    ):
        url = srv.url("/upload", host=NAME)
        result = await measure_upload(url, resolvers=[dns.address], max_bytes=2_000_000)
    assert result.failure is None, result
    assert result.http_status == 204
    assert result.direction == "upload"
    assert result.bytes >= 2_000_000
    assert srv.requests[0].header("host") == f"{NAME}:{srv.port}"


async def test_a_name_the_resolver_refuses_is_a_failure_and_nothing_connects() -> None:
    async with (
        hs.HttpServer(default=hs.page(BIG)) as srv,
        DnsServer({}, behaviours={NAME: "nxdomain"}) as dns,
    ):
        result = await measure_download(srv.url("/big.bin", host=NAME), resolvers=[dns.address])
    assert (result.status, result.failure, result.bytes) == ("failed", "dns_nxdomain_error", 0)
    assert srv.requests == []
