"""Authenticating proxies (issue 13 §3): Basic, Digest and NTLM against a real squid.

Each squid is started by the test on 127.0.0.1 with Debian's helpers (basic_ncsa_auth,
digest_file_auth, ntlm_fake_auth) and resolves the test's host names through a hosts file to
real local servers. The probe goes through it both ways: CONNECT tunnels (https) and plain-HTTP
forwarding. A 407 the probe cannot answer is inconclusive, never blocked. No record, evidence,
log line or error message carries a credential. Kerberos is in ``tests/lab/test_kerberos.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from netcheck.errors import InputError
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.measure.proxy import ProxySettings, proxy_settings, redact
from netcheck.measure.proxyauth import Challenge, ProxyCredentials, digest_response, offered
from netcheck.measure.proxyauth import parse_challenges as parse
from netcheck.models import Expect, Result, Target
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab
from tests.support.squid import Squid, auth_squid

HOST = "www.example.test"
PLAIN = "plain.example.test"
USER = "agente.lopez"
PASSWORD = "S3cr3t p@ss:w/rd%"  # every character a URL must percent-encode
USERS = {USER: PASSWORD}
PAGE = b"<html><head><title>Example Service</title></head><body>The real one.</body></html>"


# --- pure: challenges, Digest, URLs -----------------------------------------------------------


def test_challenges_parse_several_schemes_per_header() -> None:
    found = parse(
        [
            'Negotiate, NTLM, Digest realm="a, b", nonce="n1", qop="auth,auth-int"',
            "Basic realm=x",
            "NTLM TlRMTVNTUAACAAAA==",
        ]
    )
    assert [c.scheme for c in found] == ["negotiate", "ntlm", "digest", "basic", "ntlm"]
    assert found[2].params == {"realm": "a, b", "nonce": "n1", "qop": "auth,auth-int"}
    assert found[4].token == "TlRMTVNTUAACAAAA=="
    assert offered([("Proxy-Authenticate", "Basic realm=x"), ("proxy-authenticate", "NTLM")]) == [
        "Basic",
        "NTLM",
    ]


def test_digest_matches_the_rfc_2617_example() -> None:
    challenge = Challenge(
        "digest",
        params={
            "realm": "testrealm@host.com",
            "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "qop": "auth,auth-int",
            "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
        },
    )
    creds = ProxyCredentials("Mufasa", "Circle Of Life")
    header = digest_response(challenge, creds, "GET", "/dir/index.html", cnonce="0a4f113b")
    assert header is not None
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert "nc=00000001" in header


def test_credentials_are_split_off_and_percent_decoded() -> None:
    url = f"http://{quote(USER)}:{quote(PASSWORD, safe='')}@proxy.agency.test:3128"
    settings = proxy_settings(url, None, {}, "basic")
    assert settings.url == "http://proxy.agency.test:3128"
    assert settings.display == "http://***@proxy.agency.test:3128"
    creds = dict(settings.credentials)["http://proxy.agency.test:3128"]
    assert (creds.username, creds.password) == (USER, PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(creds)


def test_environment_credentials_like_http_proxy() -> None:
    env = {"https_proxy": "http://u:p%40ss@proxy.agency.test:8080"}
    settings = proxy_settings(None, None, env)
    assert settings.mode == "env"
    assert settings.display == "http://***@proxy.agency.test:8080"
    assert dict(settings.credentials)["http://proxy.agency.test:8080"].password == "p@ss"


@pytest.mark.parametrize(
    ("proxy", "auth", "field"),
    [
        ("http://u:hunter2@proxy:notaport", None, "--proxy"),
        ("socks5://u:hunter2@proxy:1080", None, "--proxy"),
        ("http://proxy:3128", "basic", "--proxy-auth"),
        ("http://u:hunter2@proxy:3128", "kerberos5", "--proxy-auth"),
        ("none", "ntlm", "--proxy-auth"),
    ],
)
def test_bad_proxy_auth_input_names_the_field_and_hides_the_password(
    proxy: str, auth: str | None, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        proxy_settings(proxy, None, {}, auth)
    assert caught.value.field == field
    assert "hunter2" not in str(caught.value)


def test_redact() -> None:
    assert redact("http://u:p@h:1/") == "http://***@h:1/"
    assert redact("u:p@h:1") == "***@h:1"
    assert redact("http://h:1") == "http://h:1"


# --- against a real squid -----------------------------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path) -> TlsLab:
    return TlsLab(tmp_path)


@contextlib.asynccontextmanager
async def origins(lab: TlsLab) -> AsyncIterator[tuple[int, int]]:
    """An HTTPS origin for HOST and a plain-HTTP one for PLAIN, both real, on 127.0.0.1."""
    async with (
        hs.HttpServer(default=hs.page(PAGE), ssl_context=lab.good_context(HOST)) as tls_site,
        hs.HttpServer(default=hs.page(PAGE)) as plain_site,
    ):
        yield tls_site.port, plain_site.port


def _targets(tls_port: int, plain_port: int) -> list[Target]:
    expect = Expect(title_contains=["Example"], cert_names=[HOST])
    return [
        Target(
            url=f"https://{HOST}:{tls_port}/", service="example", function="view", expect=expect
        ),
        Target(url=f"http://{PLAIN}:{plain_port}/", service="example", function="view"),
    ]


def proxy_url(squid: Squid, user: str | None = USER, password: str = PASSWORD) -> str:
    if user is None:
        return squid.url
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{squid.port}"


async def run_probe(lab: TlsLab, settings: ProxySettings, targets: list[Target]) -> list[Result]:
    zone = {HOST: ["127.0.0.1"], PLAIN: ["127.0.0.1"]}
    async with DnsServer(zone) as dns:
        config = ProbeConfig(
            trust=lab.trust,
            proxy=settings,
            resolvers=[dns.address],
            allow_nets=["127.0.0.0/8"],
            timeout=5.0,
        )
        return await Probe(config).run(targets, lambda _: None)


def _no_secret(results: list[Result]) -> None:
    for result in results:
        text = result.model_dump_json()
        assert PASSWORD not in text
        assert quote(PASSWORD, safe="") not in text
        assert "hunter2" not in text


@pytest.fixture(scope="module")
def squids() -> Iterator[dict[str, Squid]]:
    with (
        auth_squid(["basic"], USERS, [HOST, PLAIN]) as basic,
        auth_squid(["digest"], USERS, [HOST, PLAIN]) as digest,
        auth_squid(["ntlm", "basic"], USERS, [HOST, PLAIN]) as ntlm,
    ):
        yield {"basic": basic, "digest": digest, "ntlm": ntlm}


@pytest.mark.root  # a real squid drops to user proxy: root
@pytest.mark.parametrize(("name", "auth"), [("basic", None), ("digest", None), ("ntlm", "ntlm")])
async def test_the_probe_passes_an_authenticating_squid(
    lab: TlsLab, squids: dict[str, Squid], name: str, auth: str | None
) -> None:
    squid = squids[name]
    settings = proxy_settings(proxy_url(squid), None, {}, auth)
    async with origins(lab) as (tls_port, plain_port):
        results = await run_probe(lab, settings, _targets(tls_port, plain_port))
    assert len(results) == 2
    for result in results:
        assert result.verdict == "accessible", (result.target.url, result.evidence)
        last = result.steps.http[-1]
        assert last.status == 200
        assert last.title == "Example Service"
        assert last.proxy == squid.url
        assert last.proxy_auth == name
        assert result.probe.proxy == f"http://***@127.0.0.1:{squid.port}"
    tls = next(r for r in results if r.target.url.startswith("https")).steps.tls[0]
    assert tls.proxy == squid.url
    assert tls.trusted_public is True
    _no_secret(results)
    # squid logged a user for every served request: the credentials were checked, not waved
    # through (ntlm_fake_auth names a user of its own)
    served = [r.split() for r in squid.log("access.log").splitlines() if "/200 " in r]
    assert len(served) >= 2, served
    assert all(row[7] != "-" for row in served), served
    if name != "ntlm":
        assert all(row[7] == USER for row in served), served


@pytest.mark.root  # a real squid drops to user proxy: root
@pytest.mark.parametrize("password", [None, "hunter2"])
async def test_a_407_the_probe_cannot_answer_is_inconclusive(
    lab: TlsLab, squids: dict[str, Squid], password: str | None
) -> None:
    squid = squids["digest"]
    url = proxy_url(squid, None) if password is None else proxy_url(squid, password=password)
    async with origins(lab) as (tls_port, plain_port):
        results = await run_probe(
            lab, proxy_settings(url, None, {}), _targets(tls_port, plain_port)
        )
    for result in results:
        assert result.verdict == "inconclusive", result.evidence
        assert "the proxy requires authentication (407)" in result.evidence
        assert "Digest" in result.evidence  # the scheme squid offers
        last = result.steps.http[-1]
        assert last.status == 407
        assert last.from_proxy
        assert last.proxy_auth == (None if password is None else "digest")
        if password is not None:
            assert "credentials were refused" in result.evidence
    _no_secret(results)


@pytest.mark.root  # a real squid drops to user proxy: root
async def test_basic_only_when_asked_for_ntlm_is_inconclusive(
    lab: TlsLab, squids: dict[str, Squid]
) -> None:
    settings = proxy_settings(proxy_url(squids["basic"]), None, {}, "ntlm")
    async with origins(lab) as (tls_port, plain_port):
        results = await run_probe(lab, settings, _targets(tls_port, plain_port)[:1])
    assert results[0].verdict == "inconclusive", results[0].evidence
    assert "it offers Basic" in results[0].evidence


@pytest.mark.root  # a real squid drops to user proxy: root
async def test_env_mode_carries_credentials(lab: TlsLab, squids: dict[str, Squid]) -> None:
    squid = squids["basic"]
    env = {"http_proxy": proxy_url(squid), "https_proxy": proxy_url(squid)}
    async with origins(lab) as (tls_port, plain_port):
        results = await run_probe(
            lab, proxy_settings(None, None, env), _targets(tls_port, plain_port)
        )
    assert [r.verdict for r in results] == ["accessible", "accessible"]
    _no_secret(results)


@pytest.mark.root  # a real squid drops to user proxy: root
def test_cli_run_never_prints_or_stores_the_password(
    lab: TlsLab, squids: dict[str, Squid], tmp_path: Path
) -> None:
    """``netcheck run`` as a subprocess, once with the right password and once a wrong one:
    the records, stdout and stderr never hold a credential."""
    squid = squids["basic"]

    async def serve_and_run(url: str, out: Path) -> subprocess.CompletedProcess[str]:
        async with (
            origins(lab) as (tls_port, plain_port),
            DnsServer({HOST: ["127.0.0.1"], PLAIN: ["127.0.0.1"]}) as dns,
        ):
            targets = tmp_path / "targets.yaml"
            rows = [t.as_json(exclude_defaults=True) for t in _targets(tls_port, plain_port)]
            targets.write_text(json.dumps({"targets": rows}))
            argv = [
                sys.executable, "-m", "netcheck", "run", "--no-catalogue",
                "--targets", str(targets), "--resolver", f"{dns.address[0]}:{dns.address[1]}",
                "--ca-bundle", lab.public_pem, "--local-ca", lab.corporate_pem,
                "--allow-net", "127.0.0.0/8", "--proxy", url, "--timeout", "5",
                "--out", str(out), "--json",
            ]  # fmt: skip
            import asyncio

            return await asyncio.to_thread(
                subprocess.run, argv, capture_output=True, text=True, timeout=120,
                env={**os.environ, "NO_COLOR": "1"},
            )  # fmt: skip

    import asyncio

    for password, verdict in ((PASSWORD, "accessible"), ("hunter2", "inconclusive")):
        out = tmp_path / f"{verdict}.jsonl"
        proc = asyncio.run(serve_and_run(proxy_url(squid, password=password), out))
        assert proc.returncode in (0, 1), proc.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert {r["verdict"] for r in records} == {verdict}, [r["evidence"] for r in records]
        assert all(r["probe"]["proxy"] == f"http://***@127.0.0.1:{squid.port}" for r in records)
        for text in (out.read_text(), proc.stdout, proc.stderr):
            assert password not in text
            assert quote(password, safe="") not in text
