"""UDP 443 (QUIC) in the real lab: the clean network's nginx has no HTTP/3, so QUIC Initials
meet an ICMP port unreachable (refused, the path is open); ``udp443-blocked`` drops forwarded
UDP 443 on the gateway, so they time out, and every target stays accessible over TCP.

Reuses the session's scenario runs (``tests/lab/conftest.py``), made through the lab API under
the lab's lock.
"""

from __future__ import annotations

from typing import Any

import pytest

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
    records = _direct_https(runs.get("udp443-blocked").records)  # type: ignore[arg-type]
    assert {r["target"]["service"] for r in records} == set(SERVICES)
    for r in records:
        url = r["target"]["url"]
        assert [q["failure"] for q in r["steps"]["quic"]] == ["generic_timeout_error"], url
        assert r["verdict"] == "accessible", (url, r["evidence"])
        assert "UDP 443 (QUIC) is dropped" in r["evidence"], url


def test_clean_quic_is_refused_not_dropped(runs: ScenarioRuns) -> None:
    records = _direct_https(runs.get("clean").records)  # type: ignore[arg-type]
    assert {r["target"]["service"] for r in records} == set(SERVICES)
    for r in records:
        url = r["target"]["url"]
        assert [q["failure"] for q in r["steps"]["quic"]] == ["connection_refused"], url
        assert r["verdict"] == "accessible", (url, r["evidence"])
        assert "dropped" not in r["evidence"], url
