"""No accusation from a certificate change at the service (issue 13 §2).

A publicly trusted certificate valid for the host that does not list a name the catalogue
expects (Meta dropping ``*.facebook.com`` from www.facebook.com's certificate) is recorded on
the TLS step and said in the evidence, never a ``tls-mismatch``. Real TLS servers on loopback;
untrusted and intercepting certificates keep their verdicts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.classify import classify_result
from netcheck.measure.pipeline import Probe, ProbeConfig
from netcheck.measure.proxy import ProxySettings
from netcheck.models import Expect, Result, Target
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab

HOST = "www.facebook.test"
PAGE = b"<html><head><title>Facebook</title></head><body>Facebook log in</body></html>"
EXPECT = Expect(title_contains=["Facebook"], cert_names=["*.facebook.test", HOST])


@pytest.fixture
def lab(tmp_path: Path) -> TlsLab:
    return TlsLab(tmp_path)


async def _probe(lab: TlsLab, context: object) -> Result:
    async with (
        hs.HttpServer(default=hs.page(PAGE), ssl_context=context) as srv,  # type: ignore[arg-type]
        DnsServer({HOST: ["127.0.0.1"]}) as dns,
    ):
        config = ProbeConfig(
            trust=lab.trust,
            proxy=ProxySettings(mode="none"),
            resolvers=[dns.address],
            allow_nets=["127.0.0.0/8", "::1/128"],
            timeout=2.0,
        )
        target = Target(url=srv.url(host=HOST), service="facebook", function="view", expect=EXPECT)
        return await Probe(config).measure(target)


async def test_trusted_cert_without_the_wildcard_is_accessible_and_recorded(lab: TlsLab) -> None:
    result = await _probe(lab, lab.good_context(HOST))
    assert (result.verdict, result.technique) == ("accessible", None), result.evidence
    tls = result.steps.tls[0]
    assert tls.trusted_public is True
    assert tls.hostname_matches is True
    assert tls.cert_names_missing == ["*.facebook.test"]
    assert "does not list *.facebook.test" in result.evidence
    assert "not a block" in result.evidence
    # offline re-classification reaches the same verdict and clause from the record alone
    again = classify_result(Result.model_validate_json(result.model_dump_json()))
    assert (again.verdict, again.evidence) == (result.verdict, result.evidence)


async def test_cert_covering_every_expected_name_records_none_missing(lab: TlsLab) -> None:
    result = await _probe(lab, lab.good_context(HOST, "*.facebook.test"))
    assert result.verdict == "accessible", result.evidence
    assert result.steps.tls[0].cert_names_missing == []
    assert "does not list" not in result.evidence


async def test_trusted_cert_for_another_name_is_still_tls_mismatch(lab: TlsLab) -> None:
    result = await _probe(lab, lab.good_context("other.facebook-cdn.test"))
    assert (result.verdict, result.technique) == ("blocked", "tls-mismatch"), result.evidence


async def test_untrusted_cert_valid_for_the_host_is_still_tls_mismatch(lab: TlsLab) -> None:
    result = await _probe(lab, lab.self_signed_context(HOST))
    assert (result.verdict, result.technique) == ("blocked", "tls-mismatch"), result.evidence
    assert "does not list" not in result.evidence


async def test_interception_keeps_its_flag_and_no_cert_names_clause(lab: TlsLab) -> None:
    result = await _probe(lab, lab.corporate_context(HOST))
    assert result.intercepted is True
    assert result.verdict == "accessible", result.evidence
    assert "does not list" not in result.evidence
