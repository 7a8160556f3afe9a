"""Classification never raises on a URL that does not parse (an unclosed IPv6 bracket, a bad
port): a recorded step or a target can carry one, and `netcheck classify` must still answer."""

from __future__ import annotations

import pytest

from netcheck.classify import classify
from netcheck.classify.browser import authority, dependency_target
from netcheck.models import ControlEvidence, HttpStep, Steps, Target

ODD = ["http://[bad", "https://[::1/x", "http://host:99999/", "http://:80/"]


@pytest.mark.parametrize("url", ODD)
def test_classify_with_control_evidence_answers_for_odd_urls(url: str) -> None:
    target = Target(url=url, service="agency", function="view")
    steps = Steps(http=[HttpStep(url=url, failure="generic_timeout_error", runtime_ms=5.0)])
    control = ControlEvidence(url=url, control="http://control.test", steps=Steps())
    found = classify(target, steps, control=control)
    assert found.verdict in ("blocked", "inconclusive", "accessible", "unreachable")


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [("http://[bad", ":0"), ("https://[::1/x", ":0"), ("http://host:99999/", "host:80")],
)
def test_browser_dependencies_with_odd_urls(url: str, endpoint: str) -> None:
    assert authority(url) == endpoint
    assert dependency_target(url, "agency").url == url  # measured as given, no exception
