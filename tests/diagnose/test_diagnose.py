"""``netcheck diagnose`` against a real three-namespace path (``tests/ctlnet.py``).

The diagnosis runs as a subprocess inside the client namespace (scapy reads the namespace's
routes at import). One path per test module; each test sets the gateway's behaviour. Needs
root, as CI runs: the tests fail (never skip) without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from netcheck.diagnose import Packet, analyse_dns, analyse_tcp, origin_hops
from tests.support.ctlnet import GW_IN_IP, SERVER_IP, CtlNet
from tests.support.paths import ROOT

FIRST_ROUTER = "the first router: inside the agency's own network"

URL = f"https://{SERVER_IP}/"
NAMED = "https://blocked.test/"


@pytest.fixture
def net() -> Iterator[CtlNet]:
    with CtlNet() as made:
        yield made


def diagnose(net: CtlNet, url: str, *extra: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    return net.diagnose(url, "--resolver", SERVER_IP, *extra, prefix=prefix)


@pytest.mark.root
def test_clean_path_reaches_the_server(net: CtlNet) -> None:
    d = diagnose(net, URL)
    assert d["raw_sockets"] is True
    assert d["hops"] == {"1": GW_IN_IP}
    assert d["tcp_finding"]["blocked"] is False
    assert d["tcp_finding"]["hop"] == 2
    assert d["conclusion"].startswith("reachable"), d["conclusion"]


@pytest.mark.root
def test_gateway_reset_is_located_and_found_forged(net: CtlNet) -> None:
    net.reset()
    d = diagnose(net, URL)
    f = d["tcp_finding"]
    assert (f["blocked"], f["how"], f["hop"], f["hop_ip"]) == (True, "forged-reset", 1, GW_IN_IP)
    assert d["tcp"][0]["failure"] == "connection_refused"  # a RST to a SYN
    assert d["conclusion"].startswith(
        f"blocked at hop 1 ({GW_IN_IP}, {FIRST_ROUTER}) by a forged TCP reset"
    )


@pytest.mark.root
def test_gateway_black_hole_is_located(net: CtlNet) -> None:
    net.drop()
    d = diagnose(net, URL)
    f = d["tcp_finding"]
    assert (f["blocked"], f["how"], f["hop"], f["hop_ip"]) == (True, "dropped", 1, GW_IN_IP)
    assert "server answers on other ports" in f["detail"]
    assert d["tcp"][0]["failure"] == "generic_timeout_error"


@pytest.mark.root
def test_injected_dns_answer_is_detected_and_located(net: CtlNet) -> None:
    net.inject("blocked.test", "198.19.200.66")
    d = diagnose(net, NAMED)
    f = d["dns_finding"]
    assert (f["how"], f["hop"], f["hop_ip"]) == ("injected-dns", 1, GW_IN_IP), f
    assert "198.19.200.66" in f["detail"]
    assert SERVER_IP in f["detail"]
    assert any(s["replies"] > 1 for s in d["dns"])  # the plain DNS stage saw two replies too
    assert d["conclusion"].startswith(
        f"blocked at hop 1 ({GW_IN_IP}, {FIRST_ROUTER}) by an injected DNS answer"
    )


@pytest.mark.root
def test_without_raw_sockets_it_says_so_and_does_the_rest(net: CtlNet) -> None:
    # uid 0 without CAP_NET_RAW: "nobody" cannot read this interpreter's packages under /root
    net.inject("blocked.test", "198.19.200.66")
    drop = ("setpriv", "--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin")
    d = diagnose(net, NAMED, prefix=drop)
    assert d["raw_sockets"] is False
    assert any("no raw sockets" in c for c in d["cannot"])
    assert d["tcp_trace"] == []
    assert d["dns_finding"] is None
    assert any(s["replies"] > 1 for s in d["dns"])
    assert "injected answer is likely" in d["conclusion"]
    assert d["tcp"], "the TCP step still runs"


# --- the pure analysis on recorded packets ------------------------------------------------------


def pkt(ttl_sent: int, kind: str, src: str, ip_ttl: int, **kw: Any) -> Packet:
    return Packet(ttl_sent=ttl_sent, kind=kind, src=src, ip_ttl=ip_ttl, ip_id=0, at_ms=1.0, **kw)


def test_origin_hops() -> None:
    assert [origin_hops(t) for t in (64, 63, 128, 120, 255, 250)] == [1, 2, 1, 9, 1, 6]


def test_reset_matching_the_server_is_not_forged() -> None:
    packets = [
        pkt(1, "time-exceeded", "10.0.0.1", 64),
        pkt(2, "rst", "1.2.3.4", 63),
        pkt(100, "syn-ack", "1.2.3.4", 63),
    ]
    f = analyse_tcp(packets, "1.2.3.4", 443)
    assert (f.how, f.hop) == ("reset", 2)


def test_differing_replies_without_a_hop_are_injection() -> None:
    packets = [pkt(100, "dns", "9.9.9.9", 60, answers=["6.6.6.6"]),
               pkt(100, "dns", "9.9.9.9", 50, answers=["1.2.3.4"])]  # fmt: skip
    assert analyse_dns(packets, "9.9.9.9", "a.test").how == "injected-dns"
    assert analyse_dns(packets[:1], "9.9.9.9", "a.test").blocked is False


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://[bad", "not a URL"),  # an unclosed IPv6 bracket: urlsplit raises
        ("https://blocked.test:99999/", "not a URL"),
        ("http:///path", "not an http(s) URL with a host"),
    ],
)
def test_a_malformed_url_is_an_input_error(url: str, said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", "diagnose", url, "--json", "--max-hops", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert f"URL: {said}" in done.stderr


@pytest.mark.root
def test_a_machine_with_no_network_is_said_not_crashed() -> None:
    """No interface up (a fresh network namespace): the traces cannot be sent, which the
    diagnosis says in one `cannot` line; no traceback, no scapy chatter, exit 0."""
    done = subprocess.run(
        ["unshare", "-n", "--", sys.executable, "-m", "netcheck", "diagnose"]
        + [f"http://{SERVER_IP}/", "--timeout", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    assert "internal error" not in done.stderr
    found = json.loads(done.stdout)
    assert found["raw_sockets"] is True
    assert any("could not send or capture the traces" in line for line in found["cannot"])
