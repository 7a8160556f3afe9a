"""The QUIC (UDP 443) stage against real UDP peers, in the probe, and across a real UDP block.

Loopback peers from ``tests/servers/quic.py`` answer Version Negotiation, stay silent, or send
junk; a closed UDP port gives ICMP port unreachable. The last test builds two namespaces of its
own (``ncq-*``) whose server side drops UDP 443 with nft while TCP 443 works (needs root).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.classify import classify
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.measure.proxy import ProxySettings
from netcheck.measure.quic import (
    INITIAL_SIZE,
    make_probe,
    measure_quic,
    parse_version_negotiation,
    read_probe,
    rtt_deadline,
    version_negotiation,
)
from netcheck.models import Expect, Result, Steps, Target, TcpStep
from tests.support.netns import require_root
from tests.support.paths import ROOT as REPO
from tests.support.ports import free_port
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.quic import VERSIONS, QuicServer
from tests.support.servers.tls import TlsLab

HOST = "www.example.test"
ROOT = str(REPO)


def test_probe_packet_forces_version_negotiation() -> None:
    probe = make_probe()
    assert len(probe.packet) == INITIAL_SIZE
    assert probe.packet[0] & 0xC0 == 0xC0  # long header, fixed bit
    version = int.from_bytes(probe.packet[1:5], "big")
    assert version & 0x0F0F0F0F == 0x0A0A0A0A  # reserved 0x?a?a?a?a
    seen = read_probe(probe.packet)
    assert seen is not None
    assert (seen.dcid, seen.scid) == (probe.dcid, probe.scid)
    vn = version_negotiation(probe, VERSIONS)
    assert parse_version_negotiation(vn, probe) == VERSIONS
    assert parse_version_negotiation(vn, make_probe()) is None  # someone else's CIDs
    assert parse_version_negotiation(vn[:-1], probe) is None  # ragged list
    assert parse_version_negotiation(version_negotiation(probe, [version]), probe) is None


async def test_version_negotiation_is_success() -> None:
    async with QuicServer(mode="vn") as srv:
        step = await measure_quic(srv.host, srv.port, timeout=2, t0=time.monotonic())
    assert step.failure is None
    assert step.quic_versions == ["0x00000001", "0x6b3343cf"]
    assert step.runtime_ms < 1000


async def test_closed_udp_port_is_refused_not_timeout() -> None:
    port = free_port(kind=socket.SOCK_DGRAM)
    start = time.monotonic()
    step = await measure_quic("127.0.0.1", port, timeout=3, t0=start)
    assert step.failure == "connection_refused"
    assert time.monotonic() - start < 1


async def test_silent_peer_times_out_within_deadline() -> None:
    async with QuicServer(mode="silent") as srv:
        start = time.monotonic()
        step = await measure_quic(srv.host, srv.port, timeout=1, t0=start)
        took = time.monotonic() - start
    assert step.failure == "generic_timeout_error"
    assert 0.9 < took < 2.0
    assert srv.received == 3  # the probe was resent within the deadline, a bounded number of times


async def test_garbage_is_ignored() -> None:
    async with QuicServer(mode="garbage") as srv:
        step = await measure_quic(srv.host, srv.port, timeout=1, t0=time.monotonic())
    assert step.failure == "generic_timeout_error"
    assert step.quic_versions is None
    async with QuicServer(mode="garbage-then-vn") as srv:
        step = await measure_quic(srv.host, srv.port, timeout=2, t0=time.monotonic())
    assert step.failure is None
    assert step.quic_versions == ["0x00000001", "0x6b3343cf"]


def test_classify_quic_outcomes_never_block() -> None:
    target = Target(url=f"https://{HOST}/", service="example", function="view")

    def evidence(failure: str | None) -> str:
        ok = TcpStep(ip="192.0.2.1", port=443)
        quic = [TcpStep(ip="192.0.2.1", port=443, failure=failure)]
        c = classify(target, Steps(tcp=[ok], quic=quic))
        assert c.verdict == "accessible"
        assert c.technique is None
        return c.evidence

    assert "QUIC" not in evidence(None)
    assert "UDP 443 (QUIC) is dropped, so browsers fall back to TCP" in evidence(
        "generic_timeout_error"
    )
    refused = evidence("connection_refused")
    assert "nothing serves QUIC" in refused
    assert "dropped" not in refused
    assert "rejected (host_unreachable)" in evidence("host_unreachable")


def probe_config(lab: TlsLab, dns: DnsServer, timeout: float) -> ProbeConfig:
    return ProbeConfig(
        trust=lab.trust,
        proxy=ProxySettings(mode="none"),
        resolvers=[dns.address],
        allow_nets=["127.0.0.0/8"],
        timeout=timeout,
    )


async def test_probe_records_quic_beside_tls(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    page = b"<html><head><title>Example Service</title></head><body>real</body></html>"
    async with (
        hs.HttpServer(default=hs.page(page), ssl_context=lab.good_context(HOST)) as srv,
        QuicServer("127.0.0.1", srv.port, mode="vn"),  # UDP on the HTTPS port number
        DnsServer({HOST: ["127.0.0.1"]}) as dns,
    ):
        cfg = probe_config(lab, dns, timeout=1.0)
        tgt = Target(url=srv.url(), service="example", function="view", expect=Expect())
        result = await Probe(cfg).measure(tgt)
    assert result.verdict == "accessible", result.evidence
    assert [(q.ip, q.port, q.failure) for q in result.steps.quic] == [("127.0.0.1", srv.port, None)]
    assert result.steps.quic[0].quic_versions == ["0x00000001", "0x6b3343cf"]
    assert "QUIC" not in result.evidence
    # the record round-trips with the new optional field
    again = type(result).model_validate_json(result.model_dump_json())
    assert again.steps.quic == result.steps.quic


async def test_the_tcp_rtt_shortens_the_wait_on_a_silent_peer() -> None:
    """With the path's RTT known (1 ms), a silent UDP 443 costs max(1 s, 8 x RTT), not the
    step timeout, and the three copies still go out within it."""
    async with QuicServer(mode="silent") as srv:
        rtt: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.05, rtt.set_result, 0.001)
        start = time.monotonic()
        step = await measure_quic(srv.host, srv.port, timeout=5, t0=start, rtt=rtt)
        took = time.monotonic() - start
    assert step.failure == "generic_timeout_error"
    assert 0.9 < took < 1.5
    assert srv.received == 3
    assert rtt_deadline(0.5) == 4.0


async def test_quic_is_probed_once_per_host_and_address_beside_tcp(tmp_path: Path) -> None:
    """Three targets on one host whose UDP 443 is silent: one QUIC probe for the run, each
    record carries its step, and the run takes about the short QUIC deadline (1 s), not the
    3 s step timeout."""
    lab = TlsLab(tmp_path)
    page = b"<html><head><title>Example Service</title></head><body>real</body></html>"
    async with (
        hs.HttpServer(default=hs.page(page), ssl_context=lab.good_context(HOST)) as srv,
        QuicServer("127.0.0.1", srv.port, mode="silent") as udp,
        DnsServer({HOST: ["127.0.0.1"]}) as dns,
    ):
        cfg = probe_config(lab, dns, timeout=3.0)
        targets = [
            Target(url=srv.url(p), service="example", function="view") for p in ("/", "/a", "/b")
        ]
        got: list[Result] = []
        start = time.monotonic()
        await Probe(cfg).run(targets, got.append)
        took = time.monotonic() - start
    assert len(got) == 3
    assert all(r.verdict == "accessible" for r in got), [r.evidence for r in got]
    assert all([q.failure for q in r.steps.quic] == ["generic_timeout_error"] for r in got)
    assert all("UDP 443 (QUIC) is dropped" in r.evidence for r in got)
    assert udp.received == 3  # one probe (three copies) for the three targets
    assert took < 2.5


# --- two namespaces of our own: the server side drops UDP 443, TCP 443 works --------------------

C_IP, S_IP = "198.19.210.1", "198.19.210.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def udp_blocked_site(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    require_root("namespace tests", "network namespaces, nftables", ("ip", "nft"))
    tag = f"{os.getpid() % 100000}"
    client, server = f"ncq-{tag}-c", f"ncq-{tag}-s"
    proc: subprocess.Popen[str] | None = None
    try:
        for ns in (client, server):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", client, "link", "add", f"ncq{tag}c", "type", "veth", "peer", f"ncq{tag}s")
        _ip("-n", client, "link", "set", f"ncq{tag}s", "netns", server)
        for ns, dev, addr in ((client, f"ncq{tag}c", C_IP), (server, f"ncq{tag}s", S_IP)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
        rules = (
            "table inet ncq {\n chain input {\n  type filter hook input priority 0;\n"
            "  udp dport 443 drop\n }\n}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", server, "nft", "-f", "-"],
            input=rules,
            text=True,
            check=True,
            capture_output=True,
            timeout=30,
        )
        argv = [
            sys.executable,
            "-m",
            "tests.support.servers.quic",
            "site",
            str(tmp_path),
            S_IP,
            HOST,
        ]
        proc = subprocess.Popen(
            ["ip", "netns", "exec", server, *argv], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[:1] == ["ready"], ready
        yield client, int(ready[1]), tmp_path
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


@pytest.mark.root
def test_udp443_dropped_in_namespaces_is_accessible(
    udp_blocked_site: tuple[str, int, Path],
) -> None:
    client, dns_port, folder = udp_blocked_site
    targets = folder / "targets.yaml"
    targets.write_text(
        f"targets:\n  - {{url: 'https://{HOST}/', service: quictest, function: view}}\n",
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "netcheck", "run", "--targets", str(targets), "--json"]
    argv += ["--service", "quictest", "--proxy", "none", "--timeout", "1"]
    argv += ["--resolver", f"{S_IP}:{dns_port}", "--ca-bundle", str(folder / "public-ca.pem")]
    argv += ["--allow-net", "198.18.0.0/15", "--out", str(folder / "r.jsonl")]
    done = subprocess.run(
        ["ip", "netns", "exec", client, *argv],
        capture_output=True,
        text=True,
        timeout=45,
        cwd=ROOT,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, (done.returncode, done.stdout, done.stderr)
    result = json.loads(lines[0])
    assert result["verdict"] == "accessible", result["evidence"]
    assert [s["failure"] for s in result["steps"]["tcp"]] == [None]
    assert [q["failure"] for q in result["steps"]["quic"]] == ["generic_timeout_error"]
    assert "UDP 443 (QUIC) is dropped" in result["evidence"]
