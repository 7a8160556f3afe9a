"""UDP 443 (QUIC) in the real lab: the clean network's nginx has no HTTP/3, so QUIC Initials
meet an ICMP port unreachable (refused, the path is open); ``udp443-blocked`` and
``quic-dropped-clean`` (the whole catalogue) drop forwarded UDP 443 on the gateway, so they time
out, and every target stays accessible over TCP. A dropped QUIC probe gives up at its own short
deadline (from the TCP round trip), never the step timeout: the test prints the probe's runtime
beside the clean scenario's (the bench, bench/detection.py, prints the same pair).

Reuses the session's scenario runs (``tests/lab/conftest.py``), made through the lab API under
the lab's lock.
"""

from __future__ import annotations

from typing import Any

import pytest

from netcheck.lab import profile
from tests.lab.conftest import ScenarioRuns

pytestmark = pytest.mark.lab

SERVICES = ("youtube", "facebook")


def _direct_https(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of the two services measured over HTTPS without a proxy, that reached TCP."""
    return [
        r
        for r in records
        if r["target"]["service"] in SERVICES
        and str(r["target"]["url"]).startswith("https://")
        and any(t["failure"] is None for t in r["steps"]["tcp"])
    ]


def test_udp443_blocked_is_a_quic_timeout_not_a_block(runs: ScenarioRuns) -> None:
    records = _direct_https(runs.get("udp443-blocked").records)
    assert {r["target"]["service"] for r in records} == set(SERVICES)
    for r in records:
        url = r["target"]["url"]
        assert [q["failure"] for q in r["steps"]["quic"]] == ["generic_timeout_error"], url
        assert r["verdict"] == "accessible", (url, r["evidence"])
        assert "UDP 443 (QUIC) is dropped" in r["evidence"], url


def test_clean_quic_is_refused_not_dropped(runs: ScenarioRuns) -> None:
    records = _direct_https(runs.get("clean").records)
    assert {r["target"]["service"] for r in records} == set(SERVICES)
    for r in records:
        url = r["target"]["url"]
        assert [q["failure"] for q in r["steps"]["quic"]] == ["connection_refused"], url
        assert r["verdict"] == "accessible", (url, r["evidence"])
        assert "dropped" not in r["evidence"], url


def test_quic_dropped_on_a_clean_network_costs_little(
    runs: ScenarioRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = runs.get("clean")
    dropped = runs.get("quic-dropped-clean")
    records: list[dict[str, Any]] = dropped.records
    urls = {r["target"]["url"] for r in records}
    assert urls == {r["target"]["url"] for r in clean.records}  # type: ignore[index]
    assert {r["verdict"] for r in records} == {"accessible"}
    timeout_ms = profile.PROBE_TIMEOUT * 1000
    probed = [r for r in records if r["steps"]["quic"]]
    assert len(probed) >= len([u for u in urls if u.startswith("https://")]) - 1
    for r in probed:
        url = r["target"]["url"]
        quic = r["steps"]["quic"]
        assert [q["failure"] for q in quic] == ["generic_timeout_error"], url
        assert "UDP 443 (QUIC) is dropped" in r["evidence"], url
        # its own deadline, max(1 s, 8 x RTT): not the step timeout a dropped QUIC used to cost
        assert all(q["runtime_ms"] < timeout_ms for q in quic), (url, quic)
    with capsys.disabled():
        print(
            f"\nquic-dropped-clean: probe {dropped.probe_seconds:.1f} s for {len(records)} "
            f"targets; clean: {clean.probe_seconds:.1f} s "
            f"(ratio {dropped.probe_seconds / clean.probe_seconds:.2f})"
        )
