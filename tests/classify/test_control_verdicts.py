"""The control's evidence changes verdicts: a real probe, a real control, real local sites.

The probe and the control each have their own DNS test server (the probe's plays the agency
resolver, the control's an outside one). Sites are TLS servers on 127.x addresses bound to the
same port, so that two DNS answers can lead to two different servers for one URL. Every test
also re-classifies the probe's own evidence without the control, to show what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netcheck.classify import classify
from netcheck.classify.consistency import compare_pages, dns_consistency
from netcheck.cli import app
from netcheck.control.client import ControlClient
from netcheck.control.limits import DestinationPolicy
from netcheck.control.measure import ControlConfig
from netcheck.control.server import ControlServer
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.measure.proxy import ProxySettings
from netcheck.models import HttpStep, Result, Steps, Target
from netcheck.pagetext import extract_title
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab, closed_port

TOKEN = "verdict-test-token"
LOOPBACK = ["127.0.0.0/8"]


def page(title: str, filler: int) -> bytes:
    body = f"<html><head><title>{title}</title></head><body>{'x' * filler}</body></html>".encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


@contextlib.asynccontextmanager
async def sites(specs: Sequence[tuple[str, ssl.SSLContext, bytes]]) -> AsyncIterator[int]:
    """TLS sites on several addresses, all on one port; yields the port."""
    servers: list[asyncio.Server] = []

    def serve(data: bytes) -> Any:
        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                writer.write(data)
                await writer.drain()
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                pass
            finally:
                writer.transport.abort()

        return client

    port = 0
    try:
        for host, ctx, data in specs:
            srv = await asyncio.start_server(serve(data), host, port, ssl=ctx)
            servers.append(srv)
            port = srv.sockets[0].getsockname()[1]
        yield port
    finally:
        for srv in servers:
            srv.close()


@contextlib.asynccontextmanager
async def vantage(
    tmp_path: Path, lab: TlsLab, probe_zone: dict[str, Any], control_zone: dict[str, Any]
) -> AsyncIterator[tuple[DnsServer, ControlServer]]:
    nx = {k: "nxdomain" for k, v in probe_zone.items() if v == "nxdomain"}
    zone = {k: v for k, v in probe_zone.items() if v != "nxdomain"}
    async with DnsServer(zone, behaviours=nx) as probe_dns, DnsServer(control_zone) as ctl_dns:
        cfg = ControlConfig(
            token=TOKEN,
            trust=lab.trust,
            policy=DestinationPolicy.from_specs(LOOPBACK),
            resolvers=[ctl_dns.address],
            timeout=2.0,
        )
        async with ControlServer(cfg) as control:
            yield probe_dns, control


async def probe(lab: TlsLab, dns: DnsServer, control: ControlServer, url: str) -> Result:
    cfg = ProbeConfig(
        trust=lab.trust,
        proxy=ProxySettings(mode="none"),
        resolvers=[dns.address],
        allow_nets=LOOPBACK,
        timeout=1.5,
        control=ControlClient(control.url, TOKEN, timeout=20),
    )
    result = await Probe(cfg).measure(Target(url=url, service="t", function="view"))
    assert result.control is not None
    assert result.control.error is None, result.control
    return result


def alone(result: Result) -> tuple[str, str | None]:
    c = classify(result.target, result.steps, allow_nets=LOOPBACK)
    return c.verdict, c.technique


async def test_down_everywhere_becomes_unreachable(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    zone = {"down.test": ["127.0.0.1"]}
    async with closed_port() as (_, port), vantage(tmp_path, lab, zone, zone) as (dns, ctl):
        result = await probe(lab, dns, ctl, f"https://down.test:{port}/")
    assert alone(result) == ("blocked", "tcp-reset")
    assert (result.verdict, result.technique) == ("unreachable", None), result.evidence
    assert "could not load down.test either" in result.evidence
    assert result.control is not None
    assert result.control.steps.tcp[0].failure == ("connection_refused")


async def test_blocked_inside_only_stays_blocked(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    spec = [("127.0.0.1", lab.good_context("inside.test"), page("Inside page", 300))]
    async with (
        sites(spec) as port,
        vantage(tmp_path, lab, {"inside.test": "nxdomain"}, {"inside.test": ["127.0.0.1"]}) as (
            dns,
            ctl,
        ),
    ):
        result = await probe(lab, dns, ctl, f"https://inside.test:{port}/")
    assert alone(result) == ("blocked", "dns-nxdomain")
    assert (result.verdict, result.technique) == ("blocked", "dns-nxdomain"), result.evidence
    assert "the name exists" in result.evidence
    assert result.control is not None
    assert result.control.steps.http[-1].status == 200


async def test_cdn_answers_with_valid_certificates_are_not_dns_mismatch(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    ctx = lab.good_context("cdn.test")
    spec = [  # two edges of one CDN: different /24s, different local pages, one valid cert
        ("127.0.0.2", ctx, page("Bienvenue", 200)),
        ("127.1.0.2", ctx, page("Welcome home", 5000)),
    ]
    async with (
        sites(spec) as port,
        vantage(tmp_path, lab, {"cdn.test": ["127.0.0.2"]}, {"cdn.test": ["127.1.0.2"]}) as (
            dns,
            ctl,
        ),
    ):
        result = await probe(lab, dns, ctl, f"https://cdn.test:{port}/")
    assert result.control is not None
    consistency = dns_consistency(result.steps, result.control.steps, "cdn.test")
    assert consistency.consistent
    assert "trusted certificate" in consistency.reason
    assert not compare_pages(result.steps.http[-1], result.control.steps.http[-1]).same
    assert (result.verdict, result.technique) == ("accessible", None), result.evidence


async def test_answer_leading_to_the_wrong_server_is_dns_mismatch(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    spec = [
        ("127.0.0.3", lab.self_signed_context("site.test"), page("Access denied", 100)),
        ("127.1.0.3", lab.good_context("site.test"), page("The real site", 4000)),
    ]
    async with (
        sites(spec) as port,
        vantage(tmp_path, lab, {"site.test": ["127.0.0.3"]}, {"site.test": ["127.1.0.3"]}) as (
            dns,
            ctl,
        ),
    ):
        result = await probe(lab, dns, ctl, f"https://site.test:{port}/")
    assert alone(result) == ("blocked", "tls-mismatch")
    assert (result.verdict, result.technique) == ("blocked", "dns-mismatch"), result.evidence
    assert "127.0.0.3" in result.evidence
    assert "127.1.0.3" in result.evidence


# --- pure rules on hand-made evidence -----------------------------------------------------------


def _page(status: int, length: int, title: str, headers: list[tuple[str, str]]) -> HttpStep:
    return HttpStep(url="http://a.test/", status=status, body_length=length, title=title,
                    headers=headers)  # fmt: skip


def test_page_comparison_rules() -> None:
    a = _page(200, 1000, "Example Domain", [("X-Served-By", "a")])
    assert compare_pages(a, _page(200, 800, "other", [])).same  # proportion 0.8
    assert compare_pages(a, _page(200, 100, "Example home", [])).same  # title word "example"
    assert compare_pages(a, _page(200, 100, "x", [("x-served-by", "b")])).same  # headers
    assert not compare_pages(a, _page(200, 100, "tiny", [])).same
    assert not compare_pages(a, _page(403, 1000, "Example Domain", [])).same


def test_control_errors_leave_the_verdict_alone() -> None:
    from netcheck.models import ControlEvidence, DnsStep

    steps = Steps(dns=[DnsStep(hostname="a.test", engine="dnspython", query_type="A",
                               rcode="NXDOMAIN", failure="dns_nxdomain_error")])  # fmt: skip
    target = Target(url="http://a.test/", service="t", function="view")
    broken = ControlEvidence(url=target.url, control="http://c", error="control answered 403")
    c = classify(target, steps, control=broken)
    assert (c.verdict, c.technique) == ("blocked", "dns-nxdomain")
    assert "no control evidence" in c.evidence
    nowhere = ControlEvidence(url=target.url, control="http://c", steps=steps)
    assert classify(target, steps, control=nowhere).verdict == "unreachable"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--control", "http://127.0.0.1:9", "--control-token-file", "/nonexistent/t"], "file"),
        (["--control", "http://127.0.0.1:9"], "--control-token-file"),
        (["--control-token-file", "/etc/hostname"], "--control-token-file"),
        (["--control", "ftp://x", "--control-token-file", "/etc/hostname"], "--control"),
    ],
)
def test_run_options_are_checked_at_the_edge(args: list[str], field: str, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    found = CliRunner().invoke(app, ["run", "--service", "facebook", "--out", str(out), *args])
    assert found.exit_code == 2, found.output
    text = found.output + (found.stderr if found.stderr_bytes is not None else "")
    assert "--control" in text
    assert field == "file" or field in text
    assert not out.exists()


# --- a page only a filter explains (recorded evidence, no sockets) -------------------------------

PORTAL = (
    "<html><head><title>Portal del Ministerio de Salud</title></head><body><header><nav>"
    + "".join(f'<a href="/s{i}">Sección {i}</a>' for i in range(30))
    + "</nav></header><main>"
    + "".join(
        f"<article><h2>Noticia {i}</h2><p>Texto de la noticia {i}.</p></article>" for i in range(20)
    )
    + "</main><footer>Ministerio</footer></body></html>"
)


def _recorded(url: str, probe_body: str, control_body: str, **tls: Any) -> tuple[Any, ...]:
    from netcheck.models import CertFacts, ControlEvidence, TlsStep

    host = url.split("/")[2]
    target = Target(url=url, service="ministerio", function="view")
    mine = HttpStep(
        url=url,
        status=200,
        body=probe_body,
        body_length=len(probe_body),
        title=extract_title(probe_body),
    )
    steps = Steps(http=[mine])
    if tls:
        leaf = CertFacts(
            subject=f"CN={host}", issuer="CN=Inspection CA", sans=[host], sha256="ab" * 32
        )
        steps = Steps(tls=[TlsStep(port=443, server_name=host, chain=[leaf], **tls)], http=[mine])
    theirs = HttpStep(
        url=url,
        status=200,
        body=control_body,
        body_length=len(control_body),
        title=extract_title(control_body),
    )
    control = ControlEvidence(url=url, control="http://control.test", steps=Steps(http=[theirs]))
    return target, steps, control


def test_a_page_that_differs_in_every_way_over_plain_http_is_a_block_page() -> None:
    notice = (
        "<html><head><title>Aviso</title></head><body><p>Recurso no disponible.</p></body></html>"
    )
    target, steps, control = _recorded("http://portal.salud.example/", notice, PORTAL)
    alone = classify(target, steps)
    assert alone.verdict == "accessible", "no wording, no brand: alone, nothing to go on"
    c = classify(target, steps, control=control)
    assert (c.verdict, c.technique) == ("blocked", "http-blockpage"), c.evidence
    assert "structure similarity" in c.evidence


def test_the_same_template_in_another_language_is_not_a_block_page() -> None:
    english = (
        PORTAL.replace("Sección", "Section")
        .replace("Noticia", "News")
        .replace("Texto de la noticia", "Text of story")
    )
    target, steps, control = _recorded("http://portal.salud.example/", PORTAL[:4000], english)
    c = classify(target, steps, control=control)
    assert c.verdict == "accessible", c.evidence


def test_an_authenticated_page_is_never_called_forged() -> None:
    notice = (
        "<html><head><title>Aviso</title></head><body><p>Recurso no disponible.</p></body></html>"
    )
    target, steps, control = _recorded(
        "https://portal.salud.example/",
        notice,
        PORTAL,
        trusted_public=True,
        trusted_local=False,
        hostname_matches=True,
    )
    assert classify(target, steps, control=control).verdict == "accessible"
    # the same page through an intercepting proxy could have been forged
    target, steps, control = _recorded(
        "https://portal.salud.example/",
        notice,
        PORTAL,
        trusted_public=False,
        trusted_local=True,
        hostname_matches=True,
    )
    c = classify(target, steps, control=control)
    assert (c.verdict, c.technique) == ("blocked", "http-blockpage"), c.evidence


def test_a_consent_wall_here_and_the_page_at_the_control_is_not_a_block() -> None:
    consent = (
        "<html><head><title>Cookies</title></head><body><p>We use cookies. "
        "<button>Accept all</button><button>Reject all</button></p></body></html>"
    )
    target, steps, control = _recorded("http://portal.salud.example/", consent, PORTAL)
    assert classify(target, steps, control=control).verdict == "accessible"
