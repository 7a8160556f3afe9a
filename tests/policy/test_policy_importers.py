"""Importers: squid, RPZ, hosts, ad-block and PAC configs decide like the real thing, name the
line, and convert to policies that decide the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.errors import InputError
from netcheck.policy.decide import decide, decide_url, request_for_url
from netcheck.policy.importers import load_config, parse_config_spec
from netcheck.policy.loader import load_policy_text
from tests.support.paths import TESTS

DATA = TESTS / "data" / "policy"


def _d(kind: str, name: str, url: str) -> tuple[str, int | None]:
    answer = load_config(kind, str(DATA / name)).decide(url)
    return answer.action, answer.line


SQUID_AGENCY = [
    ("https://studio.youtube.com/", "block", 15),  # admin_consoles
    ("https://business.facebook.com/", "block", 15),
    ("https://ads.x.com/", "block", 15),  # .ads.x.com covers the domain itself
    ("https://x.ads.x.com/", "block", 15),
    ("https://pro.x.com/", "allow", 21),
    ("https://stats.doubleclick.net/", "block", 16),  # dstdom_regex
    ("https://ad3.example.org/", "block", 16),
    ("https://www.tiktok.com/", "block", 17),  # ssl::server_name
    ("https://www.youtube.com/@ministerio", "block", 19),  # CONNECT sees no path: streaming
    ("http://www.youtube.com/@ministerio", "allow", 18),  # plain http: url_regex sees the path
    ("https://i.ytimg.com/", "allow", 21),
    ("https://rr1.googlevideo.com/", "block", 19),  # from the included file
    ("https://twitch.tv/", "block", 19),
    ("https://www.twitch.tv/", "allow", 21),  # no leading dot: exact only
    ("https://scontent.xx.fbcdn.net/", "block", 20),  # CONNECT fbcdn
    ("http://scontent.xx.fbcdn.net/", "allow", 21),  # a GET is not CONNECT
    ("https://www.facebook.com:8443/", "block", 13),  # !Safe_ports comes first
    ("http://www.facebook.com:8080/", "block", 13),  # !Safe_ports
]


@pytest.mark.parametrize(("url", "action", "line"), SQUID_AGENCY)
def test_squid_agency(url: str, action: str, line: int) -> None:
    assert _d("squid", "squid-agency.conf", url) == (action, line)


def test_squid_how_names_the_acl_line() -> None:
    answer = load_config("squid", str(DATA / "squid-agency.conf")).decide(
        "https://studio.youtube.com/"
    )
    assert answer.how == (
        "squid http_access deny line 15 "
        "(CONNECT acl admin_consoles dstdomain studio.youtube.com, line 6)"
    )


def test_squid_default_is_opposite_of_last_line() -> None:
    assert _d("squid", "squid-implicit.conf", "https://www.x.com/") == ("allow", 2)
    answer = load_config("squid", str(DATA / "squid-implicit.conf")).decide("https://t.co/")
    assert (answer.action, answer.default) == ("block", True)


def test_squid_bump_sees_paths_inside_https() -> None:
    assert _d("squid", "squid-bump.conf", "https://www.youtube.com/@MinisterioLab") == ("block", 6)
    assert _d("squid", "squid-bump.conf", "https://www.youtube.com/") == ("allow", 7)
    assert _d("squid", "squid-bump.conf", "https://www.facebook.com/") == ("block", 5)
    # without ssl_bump the same path rule cannot see https paths
    assert _d("squid", "squid-open.conf", "https://www.youtube.com/watch?v=1") == ("allow", 5)
    assert _d("squid", "squid-open.conf", "http://www.youtube.com/watch?v=1") == ("block", 4)


@pytest.mark.parametrize("name", ["squid-agency.conf", "squid-bump.conf", "squid-open.conf"])
def test_squid_import_is_a_loadable_policy_with_sources(name: str) -> None:
    config = load_config("squid", str(DATA / name))
    text = config.to_yaml()
    doc = load_policy_text(text, "imported.yaml")
    assert all(r.source and r.source.startswith(str(DATA / name) + ":") for r in doc.policy.rules)
    # where every line was expressible, the policy decides like the config for these URLs
    urls = [
        "https://www.facebook.com/",
        "https://www.tiktok.com/",
        "http://www.youtube.com/watch",
        "https://www.youtube.com/@MinisterioLab",
        "https://pro.x.com/",
    ]
    if "left out" not in text:
        # src acls are network scopes: compare as a client inside and one outside localnet
        for client in ("10.1.2.3", "192.0.2.7"):
            config.client = client
            for url in urls:
                ours = decide_url(doc, url, network=client).action
                assert ours == config.decide(url).action, (client, url)


def test_squid_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "squid.conf"
    bad.write_text("acl a dstdomain .x.com\nhttp_access deny b\n")
    with pytest.raises(InputError) as info:
        load_config("squid", str(bad))
    assert (info.value.line, "not defined" in info.value.message) == (2, True)
    bad.write_text("acl r url_regex ([\nhttp_access deny r\n")
    with pytest.raises(InputError, match="regular expression") as info:
        load_config("squid", str(bad))
    assert info.value.line == 1


RPZ = [
    ("https://scontent.xx.fbcdn.net/", "block", 7),
    ("https://fbcdn.net/", "block", 6),
    ("https://static.xx.fbcdn.net/", "allow", 8),  # exact passthru beats the wildcard
    ("https://tiktok.com/", "block", 9),
    ("https://www.tiktok.com/", "allow", None),  # no wildcard for tiktok
    ("https://x.com/", "block", 10),
    ("https://pbs.twimg.com/", "block", 11),
    ("https://twimg.com/", "allow", None),  # wildcard = subdomains only
    ("https://www.linkedin.com/", "block", 12),
]


@pytest.mark.parametrize(("url", "action", "line"), RPZ)
def test_rpz(url: str, action: str, line: int | None) -> None:
    assert _d("rpz", "rpz.zone", url) == (action, line)


def test_rpz_import_keeps_exact_before_wildcard() -> None:
    config = load_config("rpz", str(DATA / "rpz.zone"))
    doc = load_policy_text(config.to_yaml(), "rpz.yaml")
    for url, action, _ in RPZ:
        assert decide(doc, request_for_url(url)).action == action, url


def test_rpz_syntax_error_is_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zone"
    bad.write_text("$ORIGIN rpz.\n@ SOA a. b. 1 2 3 4 5\nx.com CNAME\n")
    with pytest.raises(InputError) as info:
        load_config("rpz", str(bad))
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("url", "action", "line"),
    [
        ("https://ads.example.com/", "block", 2),
        ("https://tracker.example.com/x", "block", 2),
        ("https://sub.ads.example.com/", "allow", None),  # hosts files are exact
        ("https://s.youtube.com/", "block", 3),
        ("https://www.tiktok.com/", "block", 4),
        ("https://localhost/", "allow", None),
    ],
)
def test_hosts(url: str, action: str, line: int | None) -> None:
    assert _d("hosts", "hosts.txt", url) == (action, line)


@pytest.mark.parametrize(
    ("url", "action", "line"),
    [
        ("https://rr5.googlevideo.com/videoplayback", "block", 3),
        ("https://googlevideo.com/", "block", 3),
        ("https://rr1.googlevideo.com/videoplayback", "allow", 5),  # @@ exception wins
        ("https://ad.doubleclick.net/", "block", 4),
        ("https://example.com/", "allow", None),  # cosmetic rule ignored
        ("http://plain.example.org/ads/1.gif", "block", 7),
        ("https://a.tracker.net/x", "block", 8),
        ("https://s.youtube.com/api", "block", 9),
        ("https://www.youtube.com/", "allow", None),
    ],
)
def test_adblock(url: str, action: str, line: int | None) -> None:
    assert _d("adblock", "adblock.txt", url) == (action, line)


@pytest.mark.parametrize(
    ("url", "action", "line", "route"),
    [
        ("https://www.tiktok.com/foryou", "block", 3, "PROXY 0.0.0.0:9"),
        ("https://studio.youtube.com/", "allow", 5, "PROXY proxy.agency.example:3128"),
        ("https://www.facebook.com/", "allow", 8, "PROXY proxy.agency.example:3128; DIRECT"),
        ("http://intranet/", "allow", 7, "DIRECT"),
    ],
)
def test_pac_is_evaluated_by_a_real_engine(url: str, action: str, line: int, route: str) -> None:
    answer = load_config("pac", str(DATA / "proxy.pac")).decide(url)
    assert (answer.action, answer.line) == (action, line)
    assert route in answer.how


def test_config_spec_sniffs_or_takes_a_format() -> None:
    assert parse_config_spec(str(DATA / "squid-open.conf")).kind == "squid"
    assert parse_config_spec(str(DATA / "rpz.zone")).kind == "rpz"
    assert parse_config_spec(str(DATA / "proxy.pac")).kind == "pac"
    assert parse_config_spec(str(DATA / "adblock.txt")).kind == "adblock"
    assert parse_config_spec("hosts:" + str(DATA / "hosts.txt")).kind == "hosts"


@pytest.mark.parametrize("kind", ["squid", "pac"])
def test_a_url_that_does_not_parse_is_an_input_error(kind: str) -> None:
    name = {"squid": "squid-agency.conf", "pac": "proxy.pac"}[kind]
    with pytest.raises(InputError, match="not a URL"):
        load_config(kind, str(DATA / name)).decide("http://[bad")
