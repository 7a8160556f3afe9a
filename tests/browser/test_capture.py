"""Browser mode against real servers on 127.0.0.1, in Debian's headless Chromium.

The whole path a ``run --browser`` takes: the probe measures the page target through its
pipeline, ``browse_results`` loads it in Chromium (Playwright, the installed executable, a
throwaway HOME), every failed endpoint is measured by netcheck's own pipeline, and the record is
judged again. The servers misbehave on purpose: a script on a closed port (refused), an API
endpoint that accepts and never answers, a websocket whose handshake never completes (both
pending at the page deadline), a response larger than the byte cap, a page that tries to submit
a form, a page that sets a cookie. Records are checked against the committed JSON schema.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from netcheck.browser.capture import PageLimits
from netcheck.browser.launch import find_browser
from netcheck.browser.session import BrowserPlan, browse_results
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.measure.proxy import ProxySettings
from netcheck.measure.trust import load_trust
from netcheck.models import Result, Target
from netcheck.schema import SCHEMA_PATH
from tests.support.servers.http import HttpServer, Request, endless_chunked, page

pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.timeout(180)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str:
    try:
        return find_browser()
    except Exception as exc:  # noqa: BLE001 - any reason there is no browser fails the test
        pytest.fail(f"needs Debian's chromium (scripts/test installs it): {exc}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def silent(req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read the request, never answer (a dropped reply, seen from the browser)."""
    await asyncio.sleep(60)


def html(body: str, *, title: str = "Prueba") -> Any:
    head = f'<!DOCTYPE html><html lang="es"><head><title>{title}</title></head>'
    text = f"{head}<body>{body}</body></html>"
    return page(text, headers=[("Connection", "close")])


async def browse(
    tmp_path: Path, urls: list[str], *, deadline: float = 6.0, max_bytes: int = 8 << 20
) -> list[Result]:
    config = ProbeConfig(trust=load_trust(None, None), proxy=ProxySettings("none"), timeout=1.5)
    targets = [Target(url=u, service="agency", function="view") for u in urls]
    measured = await Probe(config).run(targets, lambda _: None)
    measured.sort(key=lambda r: urls.index(r.target.url))
    plan = BrowserPlan(
        _chromium(),
        PageLimits(deadline=deadline, max_bytes=max_bytes, quiet=0.5),
        shots=tmp_path / "shots",
        base=tmp_path,
    )
    return await browse_results(config, plan, measured)


def validate(result: Result) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(json.loads(result.model_dump_json()), schema)


async def test_failed_dependencies_are_named_by_netcheck_measurement(tmp_path: Path) -> None:
    refused = closed_port()
    async with HttpServer(default=silent) as quiet, HttpServer() as site:
        body = (
            f'<script src="http://127.0.0.1:{refused}/app.js"></script>'
            "<h1>Canal oficial</h1>"
            f"<script>fetch('http://127.0.0.1:{quiet.port}/api/videos');"
            f"new WebSocket('ws://127.0.0.1:{quiet.port}/live');</script>"
        )
        site.routes["/canal"] = html(body, title="Canal oficial")
        [r] = await browse(tmp_path, [site.url("/canal", host="127.0.0.1")])
    validate(r)
    b = r.browser
    assert b is not None
    assert b.loaded
    assert b.title == "Canal oficial"
    assert "load" in b.events
    failed = {f.type: f for f in b.failed}
    assert failed["script"].error == "net::ERR_CONNECTION_REFUSED"
    assert failed["script"].technique == "tcp-reset"
    # accepted but never answered: still pending when the page's deadline came
    assert failed["fetch"].error == "pending at the page deadline"
    assert failed["websocket"].error == "pending at the page deadline"
    assert failed["fetch"].technique == "http-timeout"  # netcheck's own HTTP step timed out
    assert b.deadline_hit
    assert (r.verdict, r.technique) == ("degraded", "tcp-reset")
    assert "The page opens, but its scripts (127.0.0.1) are reset by the firewall" in r.evidence
    # one measurement per failed endpoint, each with its own steps
    endpoints = sorted(h.url for h in b.hosts)
    assert endpoints == sorted(
        [
            f"http://127.0.0.1:{refused}/app.js",
            f"http://127.0.0.1:{quiet.port}/api/videos",
        ]
    )
    assert all(h.steps.tcp for h in b.hosts)
    # the screenshot beside the results, a PNG under the cap
    assert b.screenshot is not None
    shot = tmp_path / b.screenshot
    assert shot.read_bytes().startswith(PNG_MAGIC)
    assert shot.stat().st_size <= PageLimits().screenshot_max


async def test_a_clean_page_is_accessible_and_every_request_recorded(tmp_path: Path) -> None:
    async with HttpServer() as site:
        site.routes["/"] = html('<img src="/logo.svg"><script src="/app.js"></script>')
        svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
        site.routes["/logo.svg"] = page(svg, headers=[("Content-Type", "image/svg+xml")])
        site.routes["/app.js"] = page(
            "document.title = 'Lista';", headers=[("Content-Type", "application/javascript")]
        )
        [r] = await browse(tmp_path, [site.url("/", host="127.0.0.1")])
    validate(r)
    b = r.browser
    assert b is not None
    assert not b.failed
    assert not b.deadline_hit
    assert r.verdict == "accessible"
    kinds = {(q.type, q.status) for q in b.requests}
    assert {("document", 200), ("image", 200), ("script", 200)} <= kinds
    assert all(q.bytes and q.bytes > 0 for q in b.requests if q.type != "other")
    assert b.title == "Lista"  # the page's script ran


async def test_byte_cap_stops_the_page(tmp_path: Path) -> None:
    """A download that never ends (1 KiB chunks as fast as loopback goes) is stopped by the cap,
    not by the deadline; the bytes counted stay within a small multiple of it."""
    async with HttpServer() as site:
        site.routes["/"] = html(
            '<script>fetch("/endless").then((r) => r.arrayBuffer()).catch(() => {});</script>'
        )
        site.routes["/endless"] = endless_chunked(0.0)
        [r] = await browse(tmp_path, [site.url("/", host="127.0.0.1")], max_bytes=256 << 10)
    b = r.browser
    assert b is not None
    assert b.byte_cap_hit
    assert not b.deadline_hit
    assert b.bytes < 64 << 20  # without the cap it would read until the deadline


async def test_never_submits_forms_and_keeps_no_cookie_between_pages(tmp_path: Path) -> None:
    async with HttpServer() as site:
        form = (
            '<form action="/enviado" method="post"><input name="q" value="x"></form>'
            "<script>const f = document.forms[0]; f.submit(); f.requestSubmit();"
            "f.dispatchEvent(new Event('submit', {cancelable: true}));</script>"
        )
        site.routes["/formulario"] = html(form)
        site.routes["/galleta"] = page(
            "<title>galleta</title>",
            headers=[("Set-Cookie", "sesion=secreta; Path=/"), ("Connection", "close")],
        )
        site.routes["/despues"] = html("<p>sin galleta</p>")
        first = site.url("/galleta", host="127.0.0.1")
        await browse(tmp_path, [first])
        await browse(
            tmp_path,
            [site.url("/formulario", host="127.0.0.1"), site.url("/despues", host="127.0.0.1")],
        )
        paths = [(q.method, q.path) for q in site.requests]
        cookies = [q.header("Cookie") for q in site.requests if q.path == "/despues"]
    assert ("POST", "/enviado") not in paths
    assert not any(path == "/enviado" for _, path in paths)
    assert cookies
    assert cookies == [None] * len(cookies)


async def test_browser_trusts_the_probe_anchors_through_nss(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with HttpServer(ssl_context=ctx) as site:
        site.routes["/"] = html("<p>segura</p>", title="Segura")
        url = site.url("/", host="127.0.0.1")
        results = {}
        for name, anchors in (("given", str(bundle)), ("default", None)):
            config = ProbeConfig(
                trust=load_trust(anchors, None), proxy=ProxySettings("none"), timeout=1.5
            )
            measured = await Probe(config).run(
                [Target(url=url, service="agency", function="view")], lambda _: None
            )
            plan = BrowserPlan(_chromium(), PageLimits(deadline=6, quiet=0.5))
            [results[name]] = await browse_results(config, plan, measured)
    given, default = results["given"].browser, results["default"].browser
    assert given is not None
    assert given.loaded
    assert given.title == "Segura"
    assert default is not None
    assert not default.loaded
    assert default.requests[0].error is not None
    assert "CERT" in default.requests[0].error
