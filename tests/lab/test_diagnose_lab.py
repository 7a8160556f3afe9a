"""``netcheck diagnose`` inside the lab: run from the client namespace (as root, so with raw
sockets) against a gateway that resets, drops or injects, it must find the hop and the forgery."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from netcheck.lab import scenarios, topology
from netcheck.lab.lifecycle import Lab

FIRST_ROUTER = "the first router: inside the agency's own network"

pytestmark = pytest.mark.lab

ALL = scenarios.load()


def _diagnose(lab: Lab, scenario: str, url: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "netcheck", "diagnose", url]
    argv += ["--resolver", topology.GW_INSIDE_IP, "--json", "--max-hops", "4", "--timeout", "1.5"]
    with lab.locked():
        lab.apply(ALL[scenario])
        proc = subprocess.run(
            topology.ns_argv(topology.CLIENT, argv),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["raw_sockets"] is True, doc["cannot"]
    return doc


def test_tcp_reset_is_forged_at_hop_1(lab: Lab) -> None:
    doc = _diagnose(lab, "tcp-reset", "https://www.facebook.com/")
    finding = doc["tcp_finding"]
    assert finding["blocked"] is True
    assert finding["how"] == "forged-reset", finding
    assert finding["hop"] == 1
    assert finding["hop_ip"] == topology.GW_INSIDE_IP
    assert doc["hops"]["1"] == topology.GW_INSIDE_IP
    assert doc["conclusion"].startswith(
        f"blocked at hop 1 ({topology.GW_INSIDE_IP}, {FIRST_ROUTER}) by a forged"
    )
    # the server's address itself is further than the gateway
    assert doc["ip"].startswith("198.19.")


def test_tcp_blackhole_stops_syns_at_the_gateway(lab: Lab) -> None:
    doc = _diagnose(lab, "tcp-blackhole", "https://telegram.org/")
    finding = doc["tcp_finding"]
    assert finding["blocked"] is True
    assert finding["how"] == "dropped", finding
    assert (finding["hop"], finding["hop_ip"]) == (1, topology.GW_INSIDE_IP)
    kinds = {p["kind"] for p in doc["tcp_trace"]}
    assert kinds == {"time-exceeded"}, kinds  # nothing but the gateway's expiry notices
    assert doc["tcp"][0]["failure"] == "generic_timeout_error"


def test_clean_path_is_not_blocked(lab: Lab) -> None:
    doc = _diagnose(lab, "clean", "https://telegram.org/")
    assert doc["tcp_finding"]["blocked"] is False
    assert doc["dns_finding"]["blocked"] is False
    assert doc["conclusion"].startswith("reachable")


def test_dns_injection_is_detected(lab: Lab) -> None:
    injection = ALL["dns-injected"].dns_inject
    assert injection is not None
    doc = _diagnose(lab, "dns-injected", f"https://{injection.name}/")
    finding = doc["dns_finding"]
    assert finding["blocked"] is True
    assert finding["how"] == "injected-dns", finding
    assert injection.answer in finding["detail"]
    # without the trace too: the plain A query got two replies, the forged one first
    a_steps = [s for s in doc["dns"] if s["query_type"] == "A"]
    assert a_steps
    assert a_steps[0]["replies"] == 2
    assert [a["value"] for a in a_steps[0]["answers"]] == [injection.answer]
    assert "injected DNS answer" in doc["conclusion"]
