"""Proxy selection: options, environment variables, and PAC files run by a real engine (pypac).

PAC tests use shExpMatch/dnsDomainIs only: dnsResolve/isInNet/myIpAddress would ask the
system resolver.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netcheck import failures
from netcheck.errors import InputError
from netcheck.measure.http import measure_http
from netcheck.measure.proxy import (
    ProxySettings,
    bypasses_proxy,
    load_pac,
    proxy_for_url,
    proxy_settings,
)
from netcheck.models import HttpStep
from tests.support.servers.http import (
    DENY_TITLE,
    ForwardProxy,
    HttpServer,
    close_without_response,
    page,
)

PAC = """
function FindProxyForURL(url, host) {
    if (dnsDomainIs(host, ".intranet.test") || host == "localhost") return "DIRECT";
    if (shExpMatch(url, "*secret*")) return "PROXY 127.0.0.9:9999";
    if (shExpMatch(host, "*.facebook.test")) return "PROXY 127.0.0.1:3128; DIRECT";
    if (shExpMatch(host, "only.socks.test")) return "SOCKS5 127.0.0.1:1080";
    if (shExpMatch(host, "*.socks.test")) return "SOCKS 127.0.0.1:1080; PROXY 127.0.0.1:8080";
    if (host == "broken.test") throw new Error("boom");
    return "PROXY [::1]:3128";
}
"""


def write_pac(tmp_path: Path, text: str = PAC) -> str:
    path = tmp_path / "proxy.pac"
    path.write_text(text)
    return str(path)


# --- options and environment -------------------------------------------------------------------


def test_options() -> None:
    assert proxy_settings("none", None, {"http_proxy": "http://e:1"}) == ProxySettings("none")
    explicit = proxy_settings("127.0.0.1:3128", None, {})
    assert explicit == ProxySettings("explicit", url="http://127.0.0.1:3128")
    assert proxy_settings("http://proxy.lan/", None, {}).url == "http://proxy.lan:80"
    assert proxy_settings("auto", "/x.pac", {}) == ProxySettings("auto", pac="/x.pac")
    assert proxy_settings(None, "/x.pac", {}).mode == "auto"
    assert proxy_settings(None, None, {}) == ProxySettings("none")


@pytest.mark.parametrize(
    "bad",
    [
        "socks5://127.0.0.1:1080",
        "https://proxy:443",
        "http://",
        "http://proxy:notaport",
        "http://:pw@proxy:3128",
        "http://proxy:3128/path",
    ],
)
def test_bad_proxy_option_names_the_field(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        proxy_settings(bad, None, {})
    assert caught.value.field == "--proxy"


def test_auto_needs_a_pac_and_pac_needs_auto() -> None:
    with pytest.raises(InputError) as caught:
        proxy_settings("auto", None, {})
    assert caught.value.field == "--pac"
    with pytest.raises(InputError) as caught:
        proxy_settings("http://p:1", "/x.pac", {})
    assert caught.value.field == "--pac"


def test_environment_lowercase_wins_and_all_proxy_fills_in() -> None:
    env = {
        "http_proxy": "http://low:1",
        "HTTP_PROXY": "http://up:2",
        "ALL_PROXY": "all:3",
        "NO_PROXY": " .intranet.test , 10.0.0.0/8,",
    }
    settings = proxy_settings(None, None, env)
    assert settings.mode == "env"
    assert (settings.http, settings.https) == ("http://low:1", "http://all:3")
    assert settings.no_proxy == (".intranet.test", "10.0.0.0/8")
    assert proxy_for_url(settings, None, "http://www.example.test/") == "http://low:1"
    assert proxy_for_url(settings, None, "https://www.example.test/") == "http://all:3"
    assert proxy_for_url(settings, None, "https://wiki.intranet.test/") is None
    assert proxy_for_url(settings, None, "http://10.1.2.3/") is None
    assert proxy_for_url(settings, None, "ftp://www.example.test/") is None


def test_environment_only_for_one_scheme() -> None:
    settings = proxy_settings(None, None, {"HTTPS_PROXY": "http://up:2", "http_proxy": ""})
    assert proxy_for_url(settings, None, "https://a.test/") == "http://up:2"
    assert proxy_for_url(settings, None, "http://a.test/") is None


def test_bad_environment_proxy_names_the_variable() -> None:
    with pytest.raises(InputError) as caught:
        proxy_settings(None, None, {"ALL_PROXY": "socks5://127.0.0.1:1080"})
    assert caught.value.field == "ALL_PROXY"


@pytest.mark.parametrize(
    ("host", "port", "entries", "bypass"),
    [
        ("www.example.test", 443, ("example.test",), True),
        ("example.test", 443, (".example.test",), True),
        ("www.example.test", 443, ("*.example.test",), True),
        ("badexample.test", 443, ("example.test",), False),
        ("www.example.test", 443, ("www.example.test:8080",), False),
        ("www.example.test", 8080, ("www.example.test:8080",), True),
        ("10.2.3.4", 80, ("10.0.0.0/8",), True),
        ("11.2.3.4", 80, ("10.0.0.0/8",), False),
        ("127.0.0.1", 80, ("127.0.0.1",), True),
        ("::1", 80, ("::1",), True),
        ("::1", 80, ("[::1]:80",), True),
        ("anything.test", 80, ("*",), True),
        ("anything.test", 80, (), False),
    ],
)
def test_no_proxy(host: str, port: int, entries: tuple[str, ...], bypass: bool) -> None:
    assert bypasses_proxy(host, port, entries) is bypass


# --- PAC ---------------------------------------------------------------------------------------


async def test_pac_file_decides_per_url(tmp_path: Path) -> None:
    settings = proxy_settings("auto", write_pac(tmp_path), {})
    pac = await load_pac(settings)
    assert pac is not None

    def route(url: str) -> str | None:
        return proxy_for_url(settings, pac, url)

    assert route("https://wiki.intranet.test/page") is None
    assert route("https://www.facebook.test/") == "http://127.0.0.1:3128"  # first entry
    assert route("https://a.socks.test/") == "http://127.0.0.1:8080"  # SOCKS skipped
    assert route("https://only.socks.test/") is None
    assert route("https://www.example.test/") == "http://[::1]:3128"
    assert any("SOCKS" in note for note in pac.notes)
    # browsers cut path and query of https URLs before FindProxyForURL; not of http URLs
    assert route("https://www.example.test/secret?x=secret") == "http://[::1]:3128"
    assert pac.decide("https://www.example.test:8443/secret") == "PROXY [::1]:3128"
    assert route("http://www.example.test/secret") == "http://127.0.0.9:9999"


async def test_pac_that_throws_goes_direct_and_is_noted(tmp_path: Path) -> None:
    settings = proxy_settings("auto", write_pac(tmp_path), {})
    pac = await load_pac(settings)
    assert pac is not None
    assert proxy_for_url(settings, pac, "https://broken.test/") is None
    assert any("boom" in note for note in pac.notes)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("function FindProxyForURL(url, host) { return }}", "SyntaxError"),
        ("var nothing = 1;", "FindProxyForURL"),
    ],
)
async def test_bad_pac_names_the_file(tmp_path: Path, text: str, words: str) -> None:
    path = write_pac(tmp_path, text)
    with pytest.raises(InputError) as caught:
        await load_pac(proxy_settings("auto", path, {}))
    assert caught.value.file == path
    assert caught.value.field == "--pac"
    assert words in caught.value.message


async def test_missing_pac_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.pac")
    with pytest.raises(InputError) as caught:
        await load_pac(proxy_settings("auto", path, {}))
    assert (caught.value.file, caught.value.field) == (path, "--pac")


async def test_pac_from_url(tmp_path: Path) -> None:
    served = page(PAC, headers=[("Content-Type", "application/x-ns-proxy-autoconfig")])
    routes = {"/proxy.pac": served, "/gone": close_without_response()}
    async with HttpServer(routes) as srv:
        url = srv.url("/proxy.pac", host="127.0.0.1")
        pac = await load_pac(proxy_settings("auto", url, {}))
        assert pac is not None
        assert pac.proxy_for("https://www.facebook.test/x") == ("http://127.0.0.1:3128")
        for path in ("/missing.pac", "/gone"):
            bad = srv.url(path, host="127.0.0.1")
            with pytest.raises(InputError) as caught:
                await load_pac(proxy_settings("auto", bad, {}), timeout=2.0)
            assert (caught.value.file, caught.value.field) == (bad, "--pac")


async def test_load_pac_is_none_without_auto() -> None:
    assert await load_pac(proxy_settings("none", None, {})) is None
    assert await load_pac(proxy_settings(None, None, {"http_proxy": "p:1"})) is None


async def test_pac_routes_the_http_stage_into_a_denying_proxy(tmp_path: Path) -> None:
    async with (
        HttpServer({"/": page("direct")}) as srv,
        ForwardProxy(deny=[".facebook.test"]) as px,
    ):
        text = PAC.replace("127.0.0.1:3128", f"127.0.0.1:{px.port}")
        settings = proxy_settings("auto", write_pac(tmp_path, text), {})
        pac = await load_pac(settings)

        async def addresses(name: str) -> list[str]:
            return ["127.0.0.1"]

        async def run(url: str) -> list[HttpStep]:
            return await measure_http(
                url,
                addresses=addresses,
                proxy_for=lambda u: proxy_for_url(settings, pac, u),
                timeout=2.0,
                t0=time.monotonic(),
            )

        [denied] = await run(f"https://www.facebook.test:{srv.port}/")
        [direct] = await run(srv.url("/", host="wiki.intranet.test"))
    assert denied.failure == failures.HTTP_PROXY_REFUSED
    assert denied.title == DENY_TITLE
    assert direct.status == 200
    assert direct.proxy is None


# --- a hostile PAC cannot freeze the probe ----------------------------------------------------

LOOPING_PAC = """
function FindProxyForURL(url, host) {
    if (host == "loop.example.test") { while (true) {} }
    return "PROXY 127.0.0.1:3128";
}
"""


async def test_a_pac_that_loops_at_run_time_goes_direct_within_its_deadline(tmp_path: Path) -> None:
    pac_file = tmp_path / "loop.pac"
    pac_file.write_text(LOOPING_PAC)
    settings = proxy_settings("auto", str(pac_file), {})
    pac = await load_pac(settings)
    assert pac is not None
    assert proxy_for_url(settings, pac, "http://ok.example.test/") == "http://127.0.0.1:3128"
    start = time.monotonic()
    assert proxy_for_url(settings, pac, "http://loop.example.test/") is None
    assert time.monotonic() - start < 4
    assert any("did not answer" in note for note in pac.notes)
    # the worker was killed: later questions fail at once instead of hanging again
    start = time.monotonic()
    assert proxy_for_url(settings, pac, "http://other.example.test/") is None
    assert time.monotonic() - start < 0.5


async def test_a_pac_that_loops_while_loading_is_a_clear_error(tmp_path: Path) -> None:
    pac_file = tmp_path / "hang.pac"
    pac_file.write_text("while (true) {}\nfunction FindProxyForURL(url, host) { return 'DIRECT'; }")
    start = time.monotonic()
    with pytest.raises(InputError) as caught:
        await load_pac(proxy_settings("auto", str(pac_file), {}))
    assert time.monotonic() - start < 8
    assert caught.value.file == str(pac_file)
    assert caught.value.field == "--pac"
    assert "does not finish loading" in str(caught.value)


# --- several proxies: fall back as browsers do ------------------------------------------------


async def test_pac_falls_back_past_a_dead_proxy_to_the_next_then_direct(tmp_path: Path) -> None:
    """``PROXY dead; PROXY live; DIRECT``: the dead one (a closed port) is passed over and noted;
    with both dead the PAC's DIRECT is taken; the choice made is the step's ``proxy``."""
    from tests.support.servers.tls import closed_port

    async with (
        HttpServer({"/": page("origin")}) as srv,
        ForwardProxy() as live,
        closed_port() as (_, dead),
    ):
        text = (
            "function FindProxyForURL(url, host) {\n"
            f'  if (host == "both.test") return "PROXY 127.0.0.1:{dead}; DIRECT";\n'
            f'  return "PROXY 127.0.0.1:{dead}; PROXY 127.0.0.1:{live.port}; DIRECT";\n'
            "}\n"
        )
        settings = proxy_settings("auto", write_pac(tmp_path, text), {})
        pac = await load_pac(settings)
        assert pac is not None
        urls = [srv.url("/", host="site.test"), srv.url("/", host="both.test")]
        await pac.check_proxies(urls, timeout=2.0)
        assert pac.unreachable == {f"http://127.0.0.1:{dead}": failures.CONNECTION_REFUSED}

        async def addresses(name: str) -> list[str]:
            return ["127.0.0.1"]

        steps = {}
        for url in urls:
            [steps[url]] = await measure_http(
                url,
                addresses=addresses,
                proxy_for=lambda u: proxy_for_url(settings, pac, u),
                timeout=2.0,
                t0=time.monotonic(),
            )
    via_live, direct = steps[urls[0]], steps[urls[1]]
    assert via_live.status == 200
    assert via_live.proxy == f"http://127.0.0.1:{live.port}"
    assert direct.status == 200
    assert direct.proxy is None
    assert any(f"skipped http://127.0.0.1:{dead}" in note for note in pac.notes)


async def test_a_pac_result_that_is_not_a_string_is_an_error_not_direct(tmp_path: Path) -> None:
    text = "function FindProxyForURL(url, host) { return 42; }"
    pac = await load_pac(proxy_settings("auto", write_pac(tmp_path, text), {}))
    assert pac is not None
    with pytest.raises(Exception, match="string"):
        pac.decide("https://www.example.test/")
    assert pac.proxy_for("https://www.example.test/") is None
    assert any("PAC error" in note for note in pac.notes)
