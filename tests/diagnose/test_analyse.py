"""The pure half of ``netcheck diagnose``: recorded packets in, findings and one sentence out.

Packets here are written the way ``trace.py`` records them from a real path (the three-namespace
tests in ``test_diagnose.py`` produce the same shapes): the probe's TTL, what came back, who sent
it, its IP TTL and IP ID. No sockets, no root.
"""

from __future__ import annotations

from typing import Any

from netcheck.diagnose import Diagnosis, Finding, Packet, analyse_dns, analyse_tcp, conclude
from netcheck.diagnose.analyse import REFERENCE, hop_map
from netcheck.models import DnsStep, TcpStep, TlsStep

SERVER = "203.0.113.10"
GW = "10.0.0.1"
ISP = "100.64.0.1"


def pkt(ttl_sent: int, kind: str, src: str, ip_ttl: int, ip_id: int = 0, **kw: Any) -> Packet:
    return Packet(
        ttl_sent=ttl_sent, kind=kind, src=src, ip_ttl=ip_ttl, ip_id=ip_id, at_ms=1.0, **kw
    )


def routers(*ips: str) -> list[Packet]:
    return [pkt(n, "time-exceeded", ip, 64) for n, ip in enumerate(ips, start=1)]


# --- TCP ----------------------------------------------------------------------------------------


def test_syn_ack_is_reachable_at_its_hop() -> None:
    f = analyse_tcp([*routers(GW), pkt(2, "syn-ack", SERVER, 63)], SERVER, 443)
    assert (f.blocked, f.hop, f.hop_ip, f.how) == (False, 2, SERVER, None)
    assert "SYN-ACK at hop 2" in f.detail


def test_reset_from_nearer_than_the_servers_own_packets_is_forged() -> None:
    # the server's reference SYN-ACKs come from 3 hops (TTL 62); the reset from 1 hop (TTL 64)
    packets = [
        *routers(GW, ISP),
        pkt(1, "rst", SERVER, 64, ip_id=7),
        pkt(REFERENCE, "syn-ack", SERVER, 62, ip_id=4242),
    ]
    f = analyse_tcp(packets, SERVER, 443)
    assert (f.blocked, f.how, f.hop, f.hop_ip) == (True, "forged-reset", 1, GW)
    assert "IP TTL 64" in f.detail
    assert "IP ID 7" in f.detail
    assert "TTL 62 (hop 3, IP ID 4242)" in f.detail


def test_forged_reset_is_caught_even_when_the_filter_forges_the_reference_too() -> None:
    # every port of the address answers from the filter at hop 1 (TTL 64), but a router answered
    # at hop 2, so the server is at least 3 hops away and the hop-1 reset cannot be its own
    packets = [
        *routers(GW, ISP),
        pkt(1, "rst", SERVER, 64),
        pkt(REFERENCE, "rst", SERVER, 64),
    ]
    f = analyse_tcp(packets, SERVER, 443)
    assert (f.how, f.hop) == ("forged-reset", 1)
    assert f"a router ({ISP}) answered at hop 2" in f.detail
    assert "at least 3 hops away" in f.detail
    assert "come from the same filter" in f.detail


def test_reset_matching_the_server_is_not_forged() -> None:
    packets = [*routers(GW), pkt(2, "rst", SERVER, 63), pkt(REFERENCE, "syn-ack", SERVER, 63)]
    f = analyse_tcp(packets, SERVER, 443)
    assert (f.blocked, f.how, f.hop, f.hop_ip) == (True, "reset", 2, SERVER)
    assert "no evidence of forgery" in f.detail
    assert "no reference packet" not in f.detail


def test_reset_without_reference_says_there_was_nothing_to_compare() -> None:
    f = analyse_tcp([pkt(1, "rst", SERVER, 64)], SERVER, 443)
    assert (f.how, f.hop) == ("reset", 1)
    assert "no reference packet from the server" in f.detail


def test_icmp_unreachable_from_a_router_is_located() -> None:
    packets = [*routers(GW), pkt(2, "unreachable", ISP, 63, detail="icmp type 3 code 13")]
    f = analyse_tcp(packets, SERVER, 443)
    assert (f.blocked, f.how, f.hop_ip) == (True, "icmp", ISP)
    assert "icmp type 3 code 13" in f.detail


def test_silence_past_the_last_router_is_dropping() -> None:
    packets = [*routers(GW), pkt(REFERENCE, "syn-ack", SERVER, 62)]
    f = analyse_tcp(packets, SERVER, 443)
    assert (f.blocked, f.how, f.hop, f.hop_ip) == (True, "dropped", 1, GW)
    assert "server answers on other ports (hop 3)" in f.detail


def test_nothing_back_is_no_verdict() -> None:
    f = analyse_tcp([], SERVER, 443)
    assert f.blocked is None
    assert "nothing came back" in f.detail


# --- DNS ----------------------------------------------------------------------------------------


def test_answer_to_a_query_that_expired_on_the_way_is_injected() -> None:
    packets = [
        *routers(GW),
        pkt(1, "dns", "9.9.9.9", 64, answers=["198.18.0.66"]),
        pkt(REFERENCE, "dns", "9.9.9.9", 60, answers=[SERVER]),
    ]
    f = analyse_dns(packets, "9.9.9.9", "blocked.test")
    assert (f.blocked, f.how, f.hop, f.hop_ip) == (True, "injected-dns", 1, GW)
    assert f"the real answer {SERVER} came later" in f.detail


def test_one_reply_is_clean_and_none_is_no_verdict() -> None:
    one = [pkt(REFERENCE, "dns", "9.9.9.9", 60, answers=[SERVER])]
    assert analyse_dns(one, "9.9.9.9", "a.test").blocked is False
    assert analyse_dns([], "9.9.9.9", "a.test").blocked is None


def test_hop_map_keeps_only_traced_routers() -> None:
    packets = [*routers(GW, ISP), pkt(REFERENCE + 1, "time-exceeded", "192.0.2.9", 64)]
    assert hop_map(packets) == {1: GW, 2: ISP}


# --- the sentence -------------------------------------------------------------------------------


def diagnosis(**kw: Any) -> Diagnosis:
    base: dict[str, Any] = {
        "url": "https://a.test/",
        "host": "a.test",
        "port": 443,
        "ip": SERVER,
        "raw_sockets": True,
        "conclusion": "",
    }
    return Diagnosis(**{**base, **kw})


def test_first_router_is_named_inside_the_agency() -> None:
    tcp = Finding(blocked=True, hop=1, hop_ip=GW, how="forged-reset", detail="why")
    sentence = conclude(diagnosis(tcp_finding=tcp))
    assert sentence == (
        f"blocked at hop 1 ({GW}, the first router: inside the agency's own network) "
        "by a forged TCP reset: why."
    )


def test_dns_block_comes_before_tcp_and_quic_is_a_clause() -> None:
    dns = Finding(blocked=True, hop=2, hop_ip=ISP, how="injected-dns", detail="d")
    tcp = Finding(blocked=True, hop=1, hop_ip=GW, how="dropped", detail="t")
    quic = Finding(blocked=True, hop=1, hop_ip=GW, how="quic-dropped", detail="q")
    sentence = conclude(diagnosis(dns_finding=dns, tcp_finding=tcp, quic_finding=quic))
    assert sentence == (
        f"blocked at hop 2 ({ISP}) by an injected DNS answer: d; UDP 443 (QUIC) is dropped "
        f"at hop 1 ({GW}), so browsers fall back to TCP."
    )


def test_without_raw_sockets_the_sentence_uses_the_plain_stages() -> None:
    two = DnsStep(hostname="a.test", engine="dnspython", resolver="9.9.9.9:53", query_type="A",
                  replies=2)  # fmt: skip
    assert "injected answer is likely (raw sockets are needed" in conclude(
        diagnosis(raw_sockets=False, dns=[two])
    )
    refused = TcpStep(ip=SERVER, port=443, failure="connection_refused")
    assert conclude(diagnosis(raw_sockets=False, tcp=[refused])) == (
        f"TCP to {SERVER}:443 failed (connection_refused); raw sockets are needed to locate "
        "the hop."
    )
    ok = TcpStep(ip=SERVER, port=443)
    bad_tls = TlsStep(ip=SERVER, port=443, server_name="a.test", failure="ssl_failed_handshake")
    assert conclude(diagnosis(tcp=[ok], tls=[bad_tls])) == (
        "TCP works but the TLS handshake failed (ssl_failed_handshake)."
    )
    assert conclude(diagnosis(tcp=[ok])) == f"no block found on the path to {SERVER}:443."
    assert conclude(diagnosis(ip=None)) == "could not resolve a.test."
