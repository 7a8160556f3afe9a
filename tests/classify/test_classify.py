"""The pure classifier on golden evidence records, on saved results, and on arbitrary steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.classify import Classification, classify, classify_jsonl, classify_result
from netcheck.errors import InputError
from netcheck.failures import ALL_FAILURES
from netcheck.models import (
    TECHNIQUES,
    VERDICTS,
    CertFacts,
    DnsAnswer,
    DnsStep,
    Expect,
    HttpStep,
    ProbeInfo,
    Result,
    Steps,
    Target,
    TcpStep,
    TlsStep,
)
from tests.support.paths import TESTS

GOLDEN = sorted((TESTS / "golden").glob("*.json"))
SAMPLES = TESTS / "data" / "blockpages"


def _load(path: Path) -> tuple[Target, Steps, list[str], dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    target = Target.from_json(data["target"])
    return target, Steps.model_validate(data["steps"]), data["allow_nets"], data["expected"]


def _result(target: Target, steps: Steps, allow_nets: list[str]) -> Result:
    probe = ProbeInfo(
        id="lab-probe",
        software_version="0.1.0",
        started_at="2026-11-28T22:00:00Z",
        allow_nets=allow_nets,
    )
    return Result(
        id="r1",
        probe=probe,
        target=target,
        measured_at="2026-11-28T22:00:01Z",
        verdict="inconclusive",
        evidence="not classified yet",
        steps=steps,
    )


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    target, steps, allow_nets, expected = _load(path)
    c = classify(target, steps, allow_nets=allow_nets)
    got = {
        "verdict": c.verdict,
        "technique": c.technique,
        "vendor": c.vendor,
        "intercepted": c.intercepted,
    }
    assert got == expected, c.evidence
    host = target.url.split("/")[2]
    assert host in c.evidence or c.verdict == "accessible", c.evidence
    assert c.evidence.endswith(".")
    assert "\n" not in c.evidence


def test_goldens_cover_every_technique_but_throttled() -> None:
    seen = {_load(p)[3]["technique"] for p in GOLDEN}
    verdicts = {_load(p)[3]["verdict"] for p in GOLDEN}
    assert set(TECHNIQUES) - {"throttled"} <= seen
    assert {"accessible", "blocked", "inconclusive"} <= verdicts
    assert any(
        _load(p)[3]["intercepted"] and _load(p)[3]["verdict"] == "accessible" for p in GOLDEN
    )


def test_allow_net_decides_sinkhole() -> None:
    target, steps, _, _ = _load(TESTS / "golden" / "dns_sinkhole_allowed_net.json")
    assert classify(target, steps, allow_nets=["198.18.0.0/15"]).verdict == "accessible"
    without = classify(target, steps, allow_nets=[])
    assert (without.verdict, without.technique) == ("blocked", "dns-sinkhole")
    assert "198.18.0.10" in without.evidence
    with pytest.raises(InputError):
        classify(target, steps, allow_nets=["not-a-net"])


def _run(name: str) -> Classification:
    target, steps, nets, _ = _load(TESTS / "golden" / f"{name}.json")
    return classify(target, steps, allow_nets=nets)


def test_evidence_names_resolver_proxy_and_vendor() -> None:
    c = _run("dns_nxdomain")
    assert "198.18.0.1:53" in c.evidence
    assert "NXDOMAIN" in c.evidence
    c = _run("proxy_denied_squid")
    assert "198.18.0.3:3128" in c.evidence
    assert "Squid" in c.evidence
    c = _run("intercepted_passthrough")
    assert "Agency Inspection CA" in c.evidence
    c = _run("quic_only_failure")
    assert "QUIC" in c.evidence
    assert c.verdict == "accessible"
    assert "QUIC" not in _run("accessible_https").evidence
    c = _run("lookalike_consent_intercepted")
    assert "consent" in c.evidence
    c = _run("dns_sinkhole_umbrella")
    assert "146.112.61.106" in c.evidence
    assert "Cisco Umbrella" in c.evidence


def test_authenticated_origin_is_never_a_block_page() -> None:
    """A filter cannot forge a publicly trusted page: block wording there is the site's own."""
    target, steps, nets, _ = _load(TESTS / "golden" / "accessible_https.json")
    page = (SAMPLES / "generic_es.html").read_text(encoding="utf-8")
    http = steps.http[0].model_copy(update={"body": page, "title": None})
    c = classify(target, steps.model_copy(update={"http": [http]}), allow_nets=nets)
    assert c.verdict == "accessible"
    plain = http.model_copy(update={"url": "http://www.youtube.com/"})
    c = classify(target, Steps(http=[plain]), allow_nets=nets)
    assert (c.verdict, c.technique) == ("blocked", "http-blockpage")


def test_disagreeing_resolvers_without_evidence_is_not_a_guess() -> None:
    """CDNs answer differently per resolver: disjoint sets alone do not make a mismatch."""
    target, steps, nets, _ = _load(TESTS / "golden" / "dns_mismatch_resolvers.json")
    # no handshake was recorded for the system resolver's address: nothing says it is wrong
    c = classify(target, steps.model_copy(update={"tls": [steps.tls[1]]}), allow_nets=nets)
    assert c.verdict == "accessible", c.evidence


def test_tls_step_under_other_sni_does_not_decide_plain_http_target() -> None:
    target, steps, nets, _ = _load(TESTS / "golden" / "http_status.json")
    other = TlsStep(
        ip="198.18.0.40", port=443, server_name="cdn.example", failure="connection_reset"
    )
    # the target names no expectation, so it inherits Facebook's: the page must say Facebook
    page = "<title>Facebook</title><p>hi</p>"
    ok = HttpStep(url="http://www.facebook.com/", status=200, ip="198.18.0.11", body=page)
    c = classify(target, Steps(dns=steps.dns, tls=[other], http=[ok]), allow_nets=nets)
    assert c.verdict == "accessible", c.evidence


def test_partial_tcp_failure_with_working_http_is_accessible() -> None:
    target, steps, nets, _ = _load(TESTS / "golden" / "accessible_https.json")
    tcp = [TcpStep(ip="198.18.0.99", port=443, failure="generic_timeout_error"), *steps.tcp]
    c = classify(target, steps.model_copy(update={"tcp": tcp}), allow_nets=nets)
    assert c.verdict == "accessible"


def test_classify_result_and_jsonl_round_trip(tmp_path: Path) -> None:
    lines = []
    expected = []
    for path in GOLDEN:
        target, steps, nets, exp = _load(path)
        lines.append(_result(target, steps, nets).model_dump_json())
        expected.append(exp)
    results_file = tmp_path / "results.jsonl"
    results_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = classify_jsonl(str(results_file))
    assert [
        {
            "verdict": r.verdict,
            "technique": r.technique,
            "vendor": r.vendor,
            "intercepted": r.intercepted,
        }
        for r in out
    ] == expected
    # re-classifying a classified record changes nothing
    assert [classify_result(r) for r in out] == out
    assert out[0].id == "r1"
    assert out[0].steps == _load(GOLDEN[0])[1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n" + '{"id": 3}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        classify_jsonl(str(bad))
    assert err.value.line == 2
    assert err.value.file == str(bad)


# --- never raises on arbitrary evidence ---------------------------------------------------------

_failure = st.none() | st.sampled_from(sorted(ALL_FAILURES))
_ip = st.sampled_from(
    ["198.18.0.10", "10.10.34.35", "146.112.61.106", "8.8.8.8", "::1", "fd00::1", "2a03::1", "x"]
)
_host = st.sampled_from(["www.youtube.com", "youtube.com", "evil.example", "", "WWW.YOUTUBE.COM."])
_url = st.sampled_from(
    [
        "https://www.youtube.com/",
        "http://www.youtube.com/watch",
        "http://10.0.0.1:8008/fgtauth",
        "https://consent.youtube.com/m",
        "http://[bad",
        "rtmps://a.rtmps.youtube.com/live2",
        "not a url",
    ]
)
_page = st.sampled_from(sorted(p.name for p in SAMPLES.glob("*.html"))).map(
    lambda name: (SAMPLES / name).read_text(encoding="utf-8")
)
_header = st.tuples(
    st.sampled_from(["Server", "Via", "X-Squid-Error", "Location", "cf-mitigated", "X-Cache"]),
    st.sampled_from(["squid/5.7", "ERR_ACCESS_DENIED 0", "cloudflare", "challenge", "", "\x00"]),
)
_dns = st.builds(
    DnsStep,
    hostname=_host,
    engine=st.sampled_from(["system", "dnspython"]),
    resolver=st.none() | st.just("198.18.0.1:53"),
    query_type=st.sampled_from(["A", "AAAA", "ANY"]),
    rcode=st.none() | st.sampled_from(["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "BADVERS"]),
    answers=st.lists(
        st.builds(DnsAnswer, type=st.sampled_from(["A", "AAAA", "CNAME"]), value=_ip), max_size=3
    ),
    failure=_failure,
    replies=st.integers(0, 4),
)
_tcp = st.builds(TcpStep, ip=_ip, port=st.sampled_from([80, 443]), failure=_failure)
_cert = st.builds(
    CertFacts,
    subject=st.text(max_size=10),
    issuer=st.text(max_size=10),
    sans=st.lists(st.sampled_from(["www.youtube.com", "*.youtube.com", "*.", ""]), max_size=2),
    sha256=st.just("00"),
)
_tls = st.builds(
    TlsStep,
    ip=st.none() | _ip,
    port=st.just(443),
    server_name=_host,
    proxy=st.none() | st.just("http://198.18.0.3:3128"),
    chain=st.lists(_cert, max_size=2),
    trusted_public=st.none() | st.booleans(),
    trusted_local=st.none() | st.booleans(),
    hostname_matches=st.none() | st.booleans(),
    failure=_failure,
)
_http = st.builds(
    HttpStep,
    url=_url,
    ip=st.none() | _ip,
    proxy=st.none() | st.just("http://198.18.0.3:3128"),
    from_proxy=st.booleans(),
    status=st.none() | st.sampled_from([200, 204, 302, 403, 407, 429, 451, 502, 999]),
    headers=st.lists(_header, max_size=3),
    location=st.none() | _url | st.text(max_size=20),
    body=st.none() | _page | st.text(max_size=200),
    body_truncated=st.booleans(),
    title=st.none() | st.text(max_size=20),
    failure=_failure,
)
_steps = st.builds(
    Steps,
    dns=st.lists(_dns, max_size=3),
    tcp=st.lists(_tcp, max_size=3),
    tls=st.lists(_tls, max_size=2),
    http=st.lists(_http, max_size=3),
    quic=st.lists(_tcp, max_size=1),
)
_target = st.builds(
    Target,
    url=_url,
    service=st.just("youtube"),
    function=st.just("view"),
    expect=st.builds(
        Expect,
        title_contains=st.lists(st.sampled_from(["YouTube", ""]), max_size=1),
        body_contains=st.lists(st.text(max_size=5), max_size=1),
        cert_names=st.lists(_host, max_size=2),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=_target, steps=_steps, allow=st.sampled_from([[], ["198.18.0.0/15"]]))
def test_classify_never_raises(target: Target, steps: Steps, allow: list[str]) -> None:
    c = classify(target, steps, allow_nets=allow)
    assert isinstance(c, Classification)
    assert c.verdict in VERDICTS
    assert c.technique is None or c.technique in TECHNIQUES
    assert (c.technique is not None) == (c.verdict == "blocked")
    assert c.evidence
    assert c.evidence.endswith(".")
    assert c.intercepted == any(
        t.trusted_local is True and t.trusted_public is not True for t in steps.tls
    )
