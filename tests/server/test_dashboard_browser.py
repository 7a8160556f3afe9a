"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against a real
collector process on 127.0.0.1 filled with a small fleet through the signed-batch API.

Checked as a reader would meet it: the sign-in page (a wrong password fails, the right one
works), the board showing the fleet's states in words with since when, a record down to its
signature, the probes with the stale one flagged, the policy comparison; every page without a
console error (a blocked inline script or external resource would log one, the CSP forbids
both), every page again with JavaScript disabled, and the accessibility basics (lang, skip
link, captions, header scope, labels, text contrast of every coloured cell).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fleet.support import Collector
from tests.server.fleet import CHANNEL, POLICY, STUDIO, X_CHANNEL, Fleet, add_user, fill

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER, PASSWORD = "prensa", "una contraseña larga"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Collector, Fleet]]:
    c = Collector(tmp_path_factory.mktemp("dash") / "data").start("--policy", str(POLICY))
    try:
        f = fill(c)
        done = add_user(c, USER, PASSWORD)
        assert done.returncode == 0, done.stderr
        yield c, f
    finally:
        c.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    with playwright.sync_playwright() as p:
        yield p, tmp_path_factory


def context(browser: Any, *, javascript: bool = True) -> Any:
    p, factory = browser
    return p.chromium.launch_persistent_context(
        str(factory.mktemp("chromium-profile")),  # a fresh, empty user-data-dir
        executable_path=CHROMIUM,
        headless=True,
        args=ARGS,
        java_script_enabled=javascript,
        locale="es-ES",
    )


@contextlib.contextmanager
def chromium(browser: Any, *, javascript: bool = True) -> Iterator[tuple[Any, Console]]:
    """A fresh browser context watched for console errors, closed whatever the test does."""
    ctx = context(browser, javascript=javascript)
    try:
        yield ctx, Console(ctx)
    finally:
        ctx.close()


class Console:
    """Console errors and page errors of every page opened in a context."""

    def __init__(self, ctx: Any) -> None:
        self.errors: list[str] = []
        ctx.on("page", self.watch)
        for page in ctx.pages:
            self.watch(page)

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def sign_in(page: Any, base: str, password: str = PASSWORD) -> Any:
    page.goto(base + "/dashboard/")
    assert page.url.startswith(base + "/dashboard/login")
    page.fill("#name", USER)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def cell(page: Any, caption: str, row: str, network: str) -> Any:
    """The board cell of ``row`` under the ``network`` column of the table ``caption``."""
    table = page.locator("table", has=page.locator("caption", has_text=caption))
    headers = table.locator("thead th").all_inner_texts()
    column = headers.index(network)
    line = table.locator("tbody tr", has=page.locator("th", has_text=row))
    return line.locator("td").nth(column - 1)


def _luminance(rgb: str) -> float:
    parts = [int(float(v)) / 255 for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def accessible_basics(page: Any) -> None:
    assert page.get_attribute("html", "lang") in ("es", "en")
    assert page.locator("a.skip[href='#main']").count() == 1
    assert page.locator("main#main").count() == 1
    for table in page.locator("table").all():
        assert table.locator("caption").count() == 1
        assert table.locator("th:not([scope])").count() == 0
    for field in page.locator("input:not([type=hidden])").all():
        assert page.locator(f"label[for='{field.get_attribute('id')}']").count() == 1
    styles = page.eval_on_selector_all(
        ".cell",
        "els => els.map(e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor])",
    )
    for fg, bg in styles:
        assert contrast(fg, bg) >= 4.5, (fg, bg)


def test_sign_in_fails_with_a_wrong_password_and_works_with_the_right_one(
    fleet: tuple[Collector, Fleet], browser: Any
) -> None:
    c, _ = fleet
    with chromium(browser) as (ctx, console):
        page = ctx.new_page()
        page.goto(c.url + "/dashboard/")
        assert "/dashboard/login" in page.url
        accessible_basics(page)
        page.fill("#name", USER)
        page.fill("#password", "not the password")
        with page.expect_navigation() as nav:
            page.click("button[type=submit]")
        assert nav.value.status == 401
        assert page.locator("[role=alert]").inner_text() == "Usuario o contraseña incorrectos."
        assert ctx.cookies()
        assert all(k["name"] != "nc_session" for k in ctx.cookies())
        sign_in(page, c.url)
        assert page.url == c.url + "/dashboard/"
        session = next(k for k in ctx.cookies() if k["name"] == "nc_session")
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"
        assert session["expires"] > 0  # a lifetime, not a browser-session cookie
    assert [e for e in console.errors if "401" not in e] == []


def test_the_board_shows_the_fleets_states_in_words(
    fleet: tuple[Collector, Fleet], browser: Any
) -> None:
    c, _ = fleet
    with chromium(browser) as (ctx, console):
        page = sign_in(ctx.new_page(), c.url)
        accessible_basics(page)
        assert "5 sondas" in page.locator("main p").first.inner_text()
        blocked = cell(page, "Canales oficiales", CHANNEL, "VPN")
        assert "blocked" in (blocked.get_attribute("class") or "")
        text = blocked.inner_text()
        assert "bloqueado" in text
        assert "el servidor DNS de la red responde que el dominio no existe" in text
        assert "desde 28/11/2026" in text or "desde 2026-11-28" in text
        works = cell(page, "Canales oficiales", CHANNEL, "sede central")
        assert "ok" in (works.get_attribute("class") or "")
        assert "funciona" in works.inner_text()
        proxy = cell(page, "Canales oficiales", X_CHANNEL, "sede central")
        assert "Squid" in proxy.inner_text()
        admin = cell(
            page, "Funciones de los servicios", "youtube · administrar", "oficina de comunicación"
        )
        assert "blocked" in (admin.get_attribute("class") or "")
        # the cell's link leads to the record, down to its signature
        with page.expect_navigation():
            blocked.locator("a").click()
        assert "/dashboard/record/" in page.url
        accessible_basics(page)
        body = page.locator("main").inner_text()
        probe, seq, idx = page.url.rsplit("/", 3)[1:]
        with sqlite3.connect(c.data / "collector.sqlite3") as db:
            (batch_sha,) = db.execute(
                "SELECT sha256 FROM batches WHERE probe = ? AND seq = ?", (probe, int(seq))
            ).fetchone()
            (record_sha,) = db.execute(
                "SELECT sha256 FROM records WHERE probe = ? AND seq = ? AND idx = ?",
                (probe, int(seq), int(idx)),
            ).fetchone()
        assert batch_sha in body
        assert record_sha in body
        assert probe in body
        assert "la firma del lote es válida" in body
        assert f"{CHANNEL} on vpn: dns-nxdomain" in body
        # English, from the language link
        with page.expect_navigation():
            page.click("a.lang")
        assert page.get_attribute("html", "lang") == "en"
        assert "the batch signature is valid" in page.locator("main").inner_text()
    assert console.errors == []


def test_history_probes_and_policy_pages(fleet: tuple[Collector, Fleet], browser: Any) -> None:
    c, f = fleet
    with chromium(browser) as (ctx, console):
        page = sign_in(ctx.new_page(), c.url)
        with page.expect_navigation():
            page.click(f"th a:has-text('{CHANNEL}')")
        accessible_basics(page)
        vpn = page.locator("tbody tr", has=page.locator("th", has_text="VPN"))
        assert vpn.count() == 2  # blocked since day 2, worked on day 1
        assert "bloqueado" in vpn.nth(0).inner_text()
        assert "funciona" in vpn.nth(1).inner_text()
        page.goto(c.url + "/dashboard/probes")
        accessible_basics(page)
        stale = page.locator("tr.stale")
        assert stale.count() == 1
        assert f.stale in stale.inner_text()
        assert "nunca ha enviado" in stale.inner_text()
        page.goto(c.url + "/dashboard/policy")
        accessible_basics(page)
        first = page.locator("tbody tr").first
        assert "attention" in (first.get_attribute("class") or "")
        table = page.locator("main table").inner_text()
        assert "autobloqueo" in table.lower() or "self-blocking" in table.lower()
        studio = page.locator("tbody tr", has=page.locator("th", has_text=STUDIO))
        assert "comms-administra" in studio.all_inner_texts().__str__()
    assert console.errors == []


def test_every_page_works_without_javascript(fleet: tuple[Collector, Fleet], browser: Any) -> None:
    c, f = fleet
    with chromium(browser, javascript=False) as (ctx, console):
        page = sign_in(ctx.new_page(), c.url)
        assert page.url == c.url + "/dashboard/"
        assert page.locator("table.board").count() == 2
        probe = f.probes["vpn"][0].id
        for path in (
            "/dashboard/probes",
            "/dashboard/policy",
            f"/dashboard/record/{probe}/2/0",
            "/dashboard/channel?url=https%3A%2F%2Fx.com%2FMinisterioEj",
        ):
            answer = page.goto(c.url + path)
            assert answer.status == 200, path
            assert page.locator("main h1").count() == 1
        with page.expect_navigation():
            page.click("form.signout button")
        assert "/dashboard/login" in page.url
        assert page.goto(c.url + "/dashboard/probes")
        assert "/dashboard/login" in page.url
    assert console.errors == []
