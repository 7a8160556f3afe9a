"""The scenarios' judge on hand-made records (no lab, no root): what the new expectation fields
hold a record to — an evidence phrase, names missing from a certificate, a rule for every
target — and that it fails a record that misses them."""

from __future__ import annotations

import pytest

from netcheck.errors import InputError
from netcheck.lab import scenarios

YAML = """
scenarios:
  auth:
    description: every target stopped by a 407
    proxy: {mode: explicit, auth: [basic]}
    credentials: wrong-password
    expect:
      - {verdict: inconclusive, evidence: "the proxy requires authentication (407)"}
  narrow:
    description: a certificate without the wildcard
    narrow_certs: [www.facebook.com]
    expect:
      - {host: www.facebook.com, verdict: accessible, cert_names_missing: ["*.facebook.com"]}
"""


def _record(
    url: str, verdict: str, evidence: str = "", missing: list[str] | None = None
) -> dict[str, object]:
    host = url.split("/")[2]
    tls = (
        [] if url.startswith("http://") else [{"server_name": host, "cert_names_missing": missing}]
    )
    return {
        "target": {"url": url, "service": "facebook", "function": "view"},
        "verdict": verdict,
        "technique": None,
        "vendor": None,
        "intercepted": False,
        "evidence": evidence,
        "steps": {"tls": tls},
    }


def test_a_rule_without_selectors_holds_every_record_to_its_evidence() -> None:
    scenario = scenarios.load(YAML)["auth"]
    said = "x was not measured: the proxy requires authentication (407) (...)"
    good = _record("https://www.facebook.com/", "inconclusive", said)
    assert all(o.ok for o in scenarios.check(scenario, [good]))
    quiet = _record("https://m.facebook.com/", "inconclusive", "timed out")
    [outcome] = scenarios.check(scenario, [quiet])
    assert not outcome.ok
    assert "evidence without" in outcome.reported
    blocked = _record("https://m.facebook.com/", "blocked", said)
    assert not scenarios.check(scenario, [blocked])[0].ok
    # a rule that selects nothing is a failure of its own, named for what it covers
    [missing] = scenarios.check(scenario, [])
    assert (missing.url, missing.ok) == ("every target", False)


def test_cert_names_missing_is_checked_on_tls_targets_only() -> None:
    scenario = scenarios.load(YAML)["narrow"]
    noted = _record("https://www.facebook.com/", "accessible", missing=["*.facebook.com", "x"])
    plain = _record("http://www.facebook.com/", "accessible")
    assert all(o.ok for o in scenarios.check(scenario, [noted, plain]))
    full = _record("https://www.facebook.com/", "accessible", missing=[])
    [outcome] = scenarios.check(scenario, [full])
    assert not outcome.ok
    assert "cert_names_missing=[]" in outcome.reported


def test_proxy_auth_needs_an_explicit_proxy() -> None:
    bad = YAML.replace("mode: explicit, auth", "mode: bump, auth")
    with pytest.raises(InputError, match="explicit mode only"):
        scenarios.load(bad)
