"""``netcheck diagnose`` tracing UDP 443 (QUIC Initials by TTL) on a real three-namespace path.

The path is ``tests/ctlnet.py``'s client -> gateway -> server, built under our own ``ncq-``
namespace names. The server runs the Version Negotiation peer of ``tests/servers/quic.py`` on
UDP 443; the gateway then drops forwarded UDP 443 with nft while TCP 443 still passes. Needs
root, as CI runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from netcheck.diagnose import Packet, analyse_quic
from tests.support.ctlnet import GW_IN_IP, SERVER_IP, CtlNet

URL = f"https://{SERVER_IP}/"


class QuicNet(CtlNet):
    """CtlNet under ``ncq-`` namespace names, with a QUIC VN peer on the server."""

    def __init__(self) -> None:
        super().__init__()
        tag = self.client.split("-")[1]
        self.client, self.gateway, self.server = (f"ncq-{tag}-{x}" for x in "cgs")

    def _build(self) -> None:
        super()._build()
        self.spawn(
            self.server,
            [sys.executable, "-m", "tests.support.servers.quic", "vn", SERVER_IP, "443"],
        )

    def drop_udp443(self) -> None:
        script = (
            "table inet ncq {\n chain ncqfwd {\n  type filter hook forward priority 0;\n"
            f"  ip daddr {SERVER_IP} udp dport 443 drop\n }}\n}}\n"
        )
        done = self.run(self.gateway, ["nft", "-f", "-"], input=script)
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def net() -> Iterator[QuicNet]:
    with QuicNet() as made:  # needs root: CtlNet says so in one line
        yield made


@pytest.mark.root
def test_open_udp443_answers_version_negotiation(net: QuicNet) -> None:
    d = net.diagnose(URL)
    q = d["quic_finding"]
    assert (q["blocked"], q["hop"], q["hop_ip"]) == (False, 2, SERVER_IP), q
    assert "Version Negotiation" in q["detail"]
    assert "0x00000001" in q["detail"]
    assert any(p["kind"] == "quic-vn" for p in d["quic_trace"])
    assert d["conclusion"].startswith("reachable")
    assert "QUIC" not in d["conclusion"]


@pytest.mark.root
def test_router_dropping_udp443_is_located(net: QuicNet) -> None:
    net.drop_udp443()  # last test of the module: the rule stays until the path is torn down
    d = net.diagnose(URL)
    q = d["quic_finding"]
    assert (q["blocked"], q["how"], q["hop"], q["hop_ip"]) == (True, "quic-dropped", 1, GW_IN_IP)
    assert d["tcp_finding"]["blocked"] is False  # TCP 443 still passes
    assert d["conclusion"].startswith("reachable"), d["conclusion"]
    assert f"UDP 443 (QUIC) is dropped at hop 1 ({GW_IN_IP})" in d["conclusion"]


def _pkt(ttl: int, kind: str, src: str, detail: str = "") -> Packet:
    return Packet(ttl_sent=ttl, kind=kind, src=src, ip_ttl=63, ip_id=0, at_ms=1, detail=detail)


def test_analyse_quic_outcomes() -> None:
    router = _pkt(1, "time-exceeded", GW_IN_IP)
    refused = analyse_quic(
        [router, _pkt(2, "unreachable", SERVER_IP, "icmp type 3 code 3")], SERVER_IP, 443
    )
    assert refused.blocked is False
    assert "nothing serves QUIC" in refused.detail
    rejected = analyse_quic([router, _pkt(2, "unreachable", GW_IN_IP)], SERVER_IP, 443)
    assert (rejected.blocked, rejected.how, rejected.hop) == (True, "quic-icmp", 1)
    assert analyse_quic([], SERVER_IP, 443).blocked is None
