"""What a PAC's ``FindProxyForURL`` answers, read as a browser reads it: an ordered list of
choices, and an error (never DIRECT) when the answer is not a string or not a PAC result.

The scripts run in the real sandboxed engine (pypac on dukpy in a worker process).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netcheck.pacjs import PacError, ProxyChoice, SandboxedPac, parse_pac_result


@pytest.mark.parametrize(
    ("text", "choices"),
    [
        (
            "PROXY a:3128; PROXY b:3128; DIRECT",
            [
                ProxyChoice("PROXY", "a", 3128),
                ProxyChoice("PROXY", "b", 3128),
                ProxyChoice("DIRECT"),
            ],
        ),
        ("DIRECT", [ProxyChoice("DIRECT")]),
        ("", [ProxyChoice("DIRECT")]),  # Netscape's spec: an empty answer is DIRECT
        ("  proxy  a.b:8080 ;; ", [ProxyChoice("PROXY", "a.b", 8080)]),  # case, blanks, ;;
        (
            "HTTPS [2001:db8::1]:443; SOCKS5 10.0.0.1:1080; SOCKS s:1080",
            [
                ProxyChoice("HTTPS", "2001:db8::1", 443),
                ProxyChoice("SOCKS5", "10.0.0.1", 1080),
                ProxyChoice("SOCKS", "s", 1080),
            ],
        ),
    ],
)
def test_results_are_parsed_in_order(text: str, choices: list[ProxyChoice]) -> None:
    assert parse_pac_result(text) == choices


def test_choices_render_as_urls_and_pac_words() -> None:
    first, second, third = parse_pac_result("PROXY p:3128; HTTPS [::1]:443; DIRECT")
    assert (first.url, str(first)) == ("http://p:3128", "PROXY p:3128")
    assert (second.url, str(second)) == ("https://[::1]:443", "HTTPS [::1]:443")
    assert (third.url, third.direct, str(third)) == (None, True, "DIRECT")
    assert parse_pac_result("SOCKS4 s:1080")[0].url == "socks4://s:1080"
    assert parse_pac_result("SOCKS s:1080")[0].url == "socks5://s:1080"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("PROXY a", "needs host:port"),
        ("PROXY :80", "needs host:port"),
        ("PROXY a:99999", "port must be"),
        ("PROXY a:http", "port must be"),
        ("PROXY 2001:db8::1:80", "needs [brackets]"),
        ("PROXY [not-v6]:80", "bad IPv6 address"),
        ("DIRECT a:1", "is not DIRECT or TYPE host:port"),
        ("TELEPORT a:1", "is not DIRECT or TYPE host:port"),
        ("PROXY a:1; BOGUS; DIRECT", "'BOGUS'"),  # one bad entry spoils the answer
        ("; ".join(["PROXY a:1"] * 33), "more than 32 entries"),
    ],
)
def test_bad_results_are_errors_naming_the_entry(text: str, words: str) -> None:
    with pytest.raises(PacError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_pac_result(text)


ANSWERS = """
function FindProxyForURL(url, host) {
  var answers = {n: 42, u: undefined, z: null, o: {proxy: "DIRECT"}, a: ["DIRECT"], b: true,
                 s: "PROXY a:3128; PROXY b:3128; DIRECT"};
  if (host in answers) return answers[host];
  return "DIRECT";
}
"""


@pytest.fixture(scope="module")
def answering() -> Iterator[SandboxedPac]:
    """A PAC that answers, per host name, a JavaScript value of each kind."""
    pac = SandboxedPac(ANSWERS)
    yield pac
    pac.close()


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("n", "a number (42)"),
        ("u", "undefined or null"),
        ("z", "undefined or null"),
        ("o", "an object"),
        ("a", "an array"),
        ("b", "a boolean"),
    ],
)
def test_a_non_string_answer_is_an_error_never_direct(
    answering: SandboxedPac, host: str, words: str
) -> None:
    with pytest.raises(PacError, match=r"FindProxyForURL returned .*not a string") as info:
        answering.find_proxy_for_url(f"http://{host}/", host)
    assert words in str(info.value)


def test_a_string_answer_is_parsed_by_choices(answering: SandboxedPac) -> None:
    got = answering.choices("http://s/", "s")
    assert [str(c) for c in got] == ["PROXY a:3128", "PROXY b:3128", "DIRECT"]
    # the worker survives an error answer and keeps answering
    with pytest.raises(PacError):
        answering.find_proxy_for_url("http://n/", "n")
    assert answering.find_proxy_for_url("http://other/", "other") == "DIRECT"
