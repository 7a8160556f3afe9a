"""``policy import`` on real-world-shaped configs: what it prints always loads and validates,
explains URLs as the config decides them, and names the config line of every warning; what
cannot be imported is one ``InputError`` line (exit 2) naming the config line.

Each format is run through the CLI as a user would: import, write the YAML, ``policy validate``
(the real loader plus the shadowing check), then ``policy explain --json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.errors import InputError
from netcheck.policy.decide import decide_url
from netcheck.policy.importers import load_config
from netcheck.policy.loader import load_policy, load_policy_text

runner = CliRunner()


def _import(tmp_path: Path, fmt: str, name: str, text: str) -> tuple[Path, list[str]]:
    config = tmp_path / name
    config.write_bytes(text.encode())
    out = runner.invoke(app, ["policy", "import", fmt, str(config)])
    assert out.exit_code == 0, out.output
    policy = tmp_path / f"{name}.yaml"
    policy.write_text(out.stdout)
    valid = runner.invoke(app, ["policy", "validate", str(policy)])
    assert valid.exit_code == 0, valid.output
    warnings = [w for w in out.stderr.splitlines() if w.startswith("netcheck: warning: ")]
    # every warning names its line, and the YAML's header carries the same ones
    for warning in warnings:
        assert warning.startswith(f"netcheck: warning: {config}:"), warning
        assert f"# warning: {warning.removeprefix('netcheck: warning: ')}" in out.stdout
    return policy, warnings


def _explain(policy: Path, url: str, *extra: str) -> tuple[str, str, str | None]:
    out = runner.invoke(app, ["policy", "explain", str(policy), url, "--json", *extra])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    return data["decision"], data["rule"], data["source"]


def _refused(tmp_path: Path, fmt: str, text: str, name: str = "config") -> str:
    config = tmp_path / name
    config.write_bytes(text.encode())
    out = runner.invoke(app, ["policy", "import", fmt, str(config)])
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    return out.stderr.strip()


# --- hosts ----------------------------------------------------------------------------------

HOSTS = (
    "# a blocklist in the usual shape, with Windows line ends\r\n"
    "127.0.0.1 localhost\r\n"
    "::1 localhost ip6-localhost ip6-loopback\r\n"
    "0.0.0.0\tads.example.com\ttracker.example.com  # two names on one line\r\n"
    "0.0.0.0 ADS.example.com\r\n"
    ":: s.youtube.com rr1.googlevideo.com\r\n"
    "fe80::1%lo0 printer.lan\r\n"
    "0.0.0.0 *.wild.example\r\n"
)


def test_hosts_with_several_names_per_line(tmp_path: Path) -> None:
    policy, warnings = _import(tmp_path, "hosts", "hosts", HOSTS)
    ids = [r.id for r in load_policy(str(policy)).policy.rules]
    assert ids == ["line-4", "line-6", "line-7"]
    assert _explain(policy, "https://tracker.example.com/x") == (
        "block",
        "line-4",
        f"{tmp_path / 'hosts'}:4",
    )
    assert _explain(policy, "https://rr1.googlevideo.com/")[:2] == ("block", "line-6")
    assert _explain(policy, "https://sub.ads.example.com/")[:2] == ("allow", "default")
    assert len(warnings) == 1
    assert f"{tmp_path / 'hosts'}:8: '*.wild.example' left out" in warnings[0]


def test_hosts_ids_stay_unique_when_a_line_gives_several_rules(tmp_path: Path) -> None:
    # one name the policy model refuses, one it takes: still one rule, one warning
    policy, warnings = _import(tmp_path, "hosts", "hosts", "0.0.0.0 good.example b@d.example\n")
    assert [r.match.hosts for r in load_policy(str(policy)).policy.rules] == [["good.example"]]
    assert "hosts:1: 'b@d.example' left out" in warnings[0]


@pytest.mark.parametrize(
    "text", ["", "\n \n", "# nothing but comments\n", "127.0.0.1 localhost\n::1 localhost\n"]
)
def test_an_empty_hosts_file_is_refused(tmp_path: Path, text: str) -> None:
    message = _refused(tmp_path, "hosts", text)
    assert "empty" in message or "no host entries" in message


# --- squid ----------------------------------------------------------------------------------

SQUID = """\
acl localnet src 0.0.0.1-0.255.255.255
acl localnet src 10.0.0.0/8
acl localnet src 192.168.0.0/255.255.0.0
acl localnet src fc00::/7
acl office src 198.18.5.0/24
acl staff proxy_auth REQUIRED
acl SSL_ports port 443
acl CONNECT method CONNECT
acl social dstdomain .facebook.com .x.com
acl lookalike dstdom_regex -i ^www\\.you(tube)?\\.com$
http_access deny CONNECT !SSL_ports
http_access allow office social
http_access deny social
http_access deny lookalike
http_access allow localnet staff
http_access deny all
"""


def test_squid_src_acls_become_network_scopes(tmp_path: Path) -> None:
    policy, warnings = _import(tmp_path, "squid", "squid.conf", SQUID)
    doc = load_policy(str(policy))
    nets = {n.id: n.cidrs for n in doc.policy.networks}
    assert nets["office"] == ["198.18.5.0/24"]
    assert {"10.0.0.0/8", "192.168.0.0/16", "fc00::/7", "0.0.0.1/32"} <= set(nets["localnet"])
    scopes = {r.id: r.networks for r in doc.policy.rules}
    assert scopes == {
        "line-12": ["office"],
        "line-13": [],
        "line-14": [],
        "line-15": ["localnet"],
        "line-16": [],
    }
    conf = tmp_path / "squid.conf"
    assert f"netcheck: warning: {conf}:11: http_access deny left out: !SSL_ports (port)" in warnings
    assert any(
        w.startswith(f"netcheck: warning: {conf}:15: acl staff (proxy_auth)") for w in warnings
    )
    cases = [
        ("https://www.facebook.com/", "198.18.5.20", "allow", "line-12"),
        ("https://www.facebook.com/", "10.1.1.1", "block", "line-13"),
        ("https://www.example.org/", "10.1.1.1", "allow", "line-15"),
        ("https://www.example.org/", "192.168.7.7", "allow", "line-15"),
        ("https://WWW.YOU.COM/", "10.1.1.1", "block", "line-14"),
    ]
    squid = load_config("squid", str(conf))
    for url, client, action, rule in cases:
        assert _explain(policy, url, "--network", client)[:2] == (action, rule), (url, client)
        squid.client = client  # type: ignore[attr-defined]
        assert squid.decide(url).action == action, (url, client)
    # a client in no src acl: explain refuses an unknown --network, the library answers
    outside = decide_url(doc, "https://www.example.org/", network="203.0.113.9")
    squid.client = "203.0.113.9"  # type: ignore[attr-defined]
    assert (outside.rule, squid.decide("https://www.example.org/").line) == ("line-16", 16)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("acl localnet src 10.0.0.0/99\nhttp_access allow localnet\n", 1, "src acl"),
        ("acl localnet src intranet.example\nhttp_access allow localnet\n", 1, "src acl"),
        ("acl r url_regex -i ^https?://(?!ok)\nhttp_access deny r\n", 1, "RE2 cannot run"),
        ("acl r dstdom_regex (a)\\1\nhttp_access deny r\n", 1, "RE2 cannot run"),
    ],
)
def test_squid_lines_that_cannot_be_read_are_named(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    message = _refused(tmp_path, "squid", text, "squid.conf")
    assert message.startswith(f"netcheck: error: {tmp_path / 'squid.conf'}:{line}: acl ")
    assert words in message
    # the same config given to check/explain is refused the same way
    with pytest.raises(InputError) as info:
        load_config("squid", str(tmp_path / "squid.conf"))
    assert info.value.line == line


@pytest.mark.parametrize(
    ("access", "words"),
    [
        ("http_access allow !localnet", "!localnet"),
        ("http_access allow localnet office", "ANDed"),
    ],
)
def test_squid_scopes_a_policy_cannot_say_are_refused_at_their_line(
    tmp_path: Path, access: str, words: str
) -> None:
    text = (
        f"acl localnet src 10.0.0.0/8\nacl office src 10.5.0.0/16\n{access}\nhttp_access deny all\n"
    )
    message = _refused(tmp_path, "squid", text, "squid.conf")
    assert "squid.conf:3: http_access: " in message
    assert words in message
    # explain/check with the config itself still work: only the import cannot say it
    config = load_config("squid", str(tmp_path / "squid.conf"))
    assert config.decide("https://x.com/").line in (3, 4)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("# all commented out\n#http_access allow all\n", "empty"),
        ("acl social dstdomain .x.com\n", "no http_access line"),
    ],
)
def test_empty_squid_configs_are_refused(tmp_path: Path, text: str, words: str) -> None:
    assert words in _refused(tmp_path, "squid", text, "squid.conf")


# --- RPZ ------------------------------------------------------------------------------------

RPZ = """\
$TTL 60
$ORIGIN rpz.agency.
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 60
  NS localhost.
32.1.2.0.192.rpz-ip CNAME .
ns.evil.example.rpz-nsdname CNAME .
*.tiktok.com CNAME .
tiktok.com CNAME .
youtube.com CNAME rpz-passthru.
*.youtube.com CNAME *.
www.example.org A 10.9.9.9
  AAAA ::1
"""


def test_rpz_with_ip_and_nsdname_triggers(tmp_path: Path) -> None:
    policy, warnings = _import(tmp_path, "rpz", "agency.rpz", RPZ)
    zone = tmp_path / "agency.rpz"
    assert any(w.startswith(f"netcheck: warning: {zone}:5: ") for w in warnings)
    assert any(w.startswith(f"netcheck: warning: {zone}:6: ") for w in warnings)
    assert _explain(policy, "https://www.tiktok.com/")[:2] == ("block", "line-7")
    assert _explain(policy, "https://youtube.com/")[:2] == ("allow", "line-9")
    assert _explain(policy, "https://m.youtube.com/")[:2] == ("block", "line-10")
    assert _explain(policy, "https://www.example.org/")[:2] == ("block", "line-11")
    assert _explain(policy, "https://example.org/")[:2] == ("allow", "default")


def test_an_rpz_with_no_trigger_is_refused(tmp_path: Path) -> None:
    text = "$ORIGIN rpz.\n@ SOA localhost. h.localhost. 1 2 3 4 5\n  NS localhost.\n"
    assert "no RPZ trigger" in _refused(tmp_path, "rpz", text, "empty.rpz")
    # as a --config for check it is a real zone that blocks nothing (the lab's clean scenarios)
    decision = load_config("rpz", str(tmp_path / "empty.rpz")).decide("https://x.com/")
    assert (decision.action, decision.default) == ("allow", True)
    assert "empty" in _refused(tmp_path, "rpz", "\n", "blank.rpz")


def test_an_rpz_generate_bomb_is_refused_at_its_line(tmp_path: Path) -> None:
    text = "$ORIGIN rpz.\n@ SOA localhost. h. 1 2 3 4 5\n$GENERATE 1-4000000000 h$ CNAME .\n"
    assert ":3: $GENERATE makes more than" in _refused(tmp_path, "rpz", text, "gen.rpz")


# --- ad-block lists -------------------------------------------------------------------------

ADBLOCK = """\
[Adblock Plus 2.0]
! Title: agency list, as Pi-hole and AdGuard Home read them
||googlevideo.com^$media,third-party
@@||rr1.googlevideo.com^|
example.com##.ad
##.banner
||ads.example.net^$important
/banner\\d+\\.gif/
|https://tracker.example/pixel?
@@/^https:\\/\\/ok\\./
0.0.0.0 hosts.style.example
$websocket,domain=example.com
||cdn.ads.example.net^
"""


def test_adblock_list_with_exceptions_regexes_and_options(tmp_path: Path) -> None:
    policy, warnings = _import(tmp_path, "adblock", "list.txt", ADBLOCK)
    listing = tmp_path / "list.txt"
    assert _explain(policy, "https://rr5.googlevideo.com/videoplayback")[:2] == ("block", "line-3")
    assert _explain(policy, "https://rr1.googlevideo.com/x")[:2] == ("allow", "line-4")
    assert _explain(policy, "http://cdn.example/banner12.gif")[:2] == ("block", "line-8")
    assert _explain(policy, "https://ok.example/banner1.gif")[:2] == ("allow", "line-10")
    assert _explain(policy, "https://tracker.example/pixel?id=1")[:2] == ("block", "line-9")
    assert _explain(policy, "https://a.hosts.style.example/")[:2] == ("block", "line-11")
    # a rule for every URL whose meaning was in its $options is left out, by line
    left_out = "not a rule netcheck reads (every URL, with $options): $websocket"
    assert f"netcheck: warning: {listing}:12: {left_out}" in warnings[0]
    # ||ads.example.net^ (line 7) already covers line 13: dropped, and said so
    assert any(f"{listing}:13: can never match, {listing}:7" in w for w in warnings)


def test_adblock_regex_re2_cannot_run_is_refused_at_its_line(tmp_path: Path) -> None:
    message = _refused(tmp_path, "adblock", "||a.example^\n/^(?!.*ok).*ads/\n", "list.txt")
    assert f"{tmp_path / 'list.txt'}:2: /regex/: RE2 cannot run" in message


def test_an_adblock_list_of_cosmetic_rules_only_is_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, "adblock", "! list\nexample.com##.ad\n##.banner\n", "list.txt")
    assert "no network rule" in message


# --- PAC ------------------------------------------------------------------------------------


def test_pac_import_loads_and_explains(tmp_path: Path) -> None:
    pac = """\
function FindProxyForURL(url, host) {
  if (dnsDomainIs(host, ".tiktok.com") || host == "tiktok.com")
    return "PROXY 127.0.0.1:9; PROXY [::1]:9";
  return "PROXY proxy-a.agency.example:3128; PROXY proxy-b.agency.example:3128; DIRECT";
}
"""
    policy, warnings = _import(tmp_path, "pac", "proxy.pac", pac)
    assert _explain(policy, "https://www.tiktok.com/")[:2] == ("block", "www.tiktok.com")
    decision, rule, source = _explain(policy, "https://www.youtube.com/")
    assert (decision, rule, source) == ("allow", "www.youtube.com", f"{tmp_path / 'proxy.pac'}:4")
    assert warnings == [
        f"netcheck: warning: {tmp_path / 'proxy.pac'}:1: the script's logic is not a policy: "
        "the rules say what it returns for catalogue hosts"
    ]


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        ("42", "a number (42)"),
        ("undefined", "undefined or null"),
        ("{proxy: 'DIRECT'}", "an object"),
        ("'PROXY nowhere'", "needs host:port"),
        ("'TELEPORT a:1'", "is not DIRECT or TYPE host:port"),
    ],
)
def test_pac_results_that_are_not_pac_results_are_errors(
    tmp_path: Path, returned: str, words: str
) -> None:
    pac = f"function FindProxyForURL(url, host) {{\n  return {returned};\n}}\n"
    message = _refused(tmp_path, "pac", pac, "proxy.pac")
    assert words in message
    assert "DIRECT" not in message.replace("not DIRECT or", "")
    (tmp_path / "policy.pac").write_text(pac)
    out = runner.invoke(
        app,
        ["policy", "explain", str(tmp_path / "policy.pac"), "https://x.com/", "--format", "pac"],
    )
    assert out.exit_code == 2, out.output
    assert words in out.stderr


# --- mutated configs ------------------------------------------------------------------------

SEEDS = {"hosts": HOSTS, "squid": SQUID, "rpz": RPZ, "adblock": ADBLOCK}
PIECES = [
    "*",
    ".",
    "/",
    "\\",
    "$",
    "^",
    "|",
    "||",
    "@@",
    "!",
    "#",
    "[",
    "(",
    ")",
    "?",
    "{",
    "-",
    "/99",
    "0.0.0.0",
    "::",
    "%",
    "\t",
    " ",
    "\n",
    "\r",
    "é",
    "\u2028",
    "'",
    '"',
    "all",
    "src",
    "acl",
    "http_access deny",
    "CNAME",
    "*.",
    "rpz-ip",
    "$ORIGIN",
    "$GENERATE 1-3 h$ CNAME .",
    "$INCLUDE /etc/hostname",
    "AAAA",
    "@",
    "-i",
    "!all",
    '"x"',
    "a" * 300,
    "(?=",
    "\\1",
]


@st.composite
def mutated_config(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(sorted(SEEDS)))
    text = SEEDS[kind]
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:pos] + draw(st.sampled_from(PIECES)) + text[pos:]
        else:
            text = text[:pos] + text[pos + draw(st.integers(1, 12)) :]
    return kind, text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_config())
def test_mutated_configs_import_or_say_why(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, str]
) -> None:
    """A mutated config is read, decides, and imports into a policy the loader takes, or it
    is refused with an ``InputError``: never another exception."""
    kind, text = case
    path = tmp_path_factory.mktemp("fuzz") / "config"
    path.write_text(text, encoding="utf-8")
    error = _read_decide_import(kind, str(path))
    if error is not None:
        assert error.message
        assert error.file is not None


def _read_decide_import(kind: str, path: str) -> InputError | None:
    try:
        config = load_config(kind, path)
        for url in ("https://www.facebook.com/", "http://a.example/x?y", "https://[::1]:8443/"):
            assert config.decide(url).action in ("allow", "block")
        load_policy_text(config.to_yaml(), "imported.yaml")
    except InputError as exc:
        return exc
    return None
