"""A certificate without the catalogue's wildcard (issue 13 §2), in the real lab.

In ``cert-no-wildcard`` the fake internet's nginx serves www.facebook.com with a leaf from the
lab's public CA that lists ``www.facebook.com`` only, where the catalogue expects
``*.facebook.com`` and ``facebook.com``. That is a change at the service, which only the origin
can make: the targets stay ``accessible``, and the missing names are recorded in the TLS step
(``cert_names_missing``) and told in the evidence. The clean scenario, run against the same
nginx restarted with its usual certificates, records nothing missing.
"""

from __future__ import annotations

from typing import Any

import pytest

from netcheck.netaddr import url_host
from tests.lab.conftest import ScenarioRuns

pytestmark = pytest.mark.lab

HOST = "www.facebook.com"
MISSING = ["*.facebook.com", "facebook.com"]


def _tls_records(records: list[dict[str, Any]], host: str) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if url_host(r["target"]["url"]) == host and r["target"]["url"].startswith("https://")
    ]


def test_certificate_without_the_wildcard_is_recorded_not_blocked(runs: ScenarioRuns) -> None:
    run = runs.get("cert-no-wildcard")
    records: list[dict[str, Any]] = run.records
    mine = _tls_records(records, HOST)
    assert len(mine) >= 3  # the catalogue's view, login and official-channel pages
    for record in mine:
        url = record["target"]["url"]
        assert record["verdict"] == "accessible", (url, record["evidence"])
        handshakes = [t for t in record["steps"]["tls"] if t["server_name"] == HOST]
        assert handshakes, url
        for tls in handshakes:
            assert tls["chain"][0]["sans"] == [HOST], url  # the narrow certificate was served
            assert tls["trusted_public"] is True, url
            assert tls["hostname_matches"] is True, url
            assert tls["cert_names_missing"] == MISSING, url
        assert "does not list *.facebook.com, facebook.com" in record["evidence"], url
        assert "not a block" in record["evidence"], url
    # the service's other hosts keep certificates with the wildcard
    others = [r for r in records if r not in mine and r["steps"]["tls"]]
    assert others
    for record in others:
        for tls in record["steps"]["tls"]:
            assert not tls["cert_names_missing"], record["target"]["url"]
    nginx_conf = (runs.configs("cert-no-wildcard") / "nginx.conf").read_text()
    assert f"{HOST}.narrow.pem" in nginx_conf


def test_clean_serves_the_full_certificate_again(runs: ScenarioRuns) -> None:
    runs.get("cert-no-wildcard")  # whichever ran last, nginx must follow the scenario
    records: list[dict[str, Any]] = runs.get("clean").records
    mine = _tls_records(records, HOST)
    assert mine
    for record in mine:
        for tls in record["steps"]["tls"]:
            assert tls["cert_names_missing"] == [], record["target"]["url"]
            assert "*.facebook.com" in tls["chain"][0]["sans"]
        assert "does not list" not in record["evidence"]
