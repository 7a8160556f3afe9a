"""The browser verdict rules (netcheck.classify.browser) on recorded evidence, offline.

Records are built from the golden steps (a page fetched over authenticated HTTPS) plus a
``browser`` section whose failed hosts carry netcheck's own steps for them (NXDOMAIN, a reset,
a host that answers). Each case goes through ``classify_result``, the function ``netcheck
classify`` uses, and through a JSON round trip, so what is asserted is what re-classifying a
saved file gives.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from netcheck.classify import classify_result
from netcheck.models import (
    BrowserEvidence,
    BrowserHost,
    BrowserRequest,
    DnsAnswer,
    DnsStep,
    ProbeInfo,
    Result,
    Steps,
    Target,
    TcpStep,
    utc_now,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
PAGE = "https://www.youtube.com/"
VIDEO = "https://rr3---sn-nclab01.googlevideo.com/videoplayback/lab01.wav"
SCRIPT = "https://s.ytimg.com/yts/jsbin/player-lab.js"
AD = "https://googleads.g.doubleclick.net/pagead/show_ads.js"
OTHER = "https://cdn.thirdparty.example/lib.js"


def _golden(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((GOLDEN / name).read_text())
    return data


def nxdomain(host: str) -> Steps:
    return Steps(
        dns=[
            DnsStep(
                hostname=host,
                engine="dnspython",
                resolver="198.18.0.1:53",
                query_type="A",
                rcode="NXDOMAIN",
                failure="dns_nxdomain_error",
            )
        ]
    )


def reset(host: str) -> Steps:
    answer = DnsAnswer(type="A", value="198.18.0.10", ttl=300)
    return Steps(
        dns=[
            DnsStep(
                hostname=host,
                engine="dnspython",
                resolver="198.18.0.1:53",
                query_type="A",
                rcode="NOERROR",
                answers=[answer],
            )
        ],
        tcp=[TcpStep(ip="198.18.0.10", port=443, failure="connection_refused")],
    )


def request(
    url: str, kind: str, error: str | None = None, status: int | None = 200
) -> BrowserRequest:
    host = url.split("/")[2]
    return BrowserRequest(
        url=url,
        host=host,
        type=kind,
        error=error,
        status=None if error else status,  # type: ignore[arg-type]
    )


def host(url: str, steps: Steps) -> BrowserHost:
    # verdict fields deliberately wrong: re-classification must recompute them from the steps
    return BrowserHost(host=url.split("/")[2], url=url, steps=steps, verdict="accessible")


def record(
    requests: list[BrowserRequest], hosts: list[BrowserHost], *, loaded: bool = True
) -> Result:
    gold = _golden("accessible_https.json")
    browser = BrowserEvidence(
        browser="Chromium test",
        sandboxed=True,
        loaded=loaded,
        requests=[request(PAGE, "document"), *requests] if loaded else requests,
        hosts=hosts,
    )
    result = Result(
        id="r1",
        probe=ProbeInfo(
            id="p",
            software_version="0",
            started_at=utc_now(),
            allow_nets=list(gold["allow_nets"]),  # type: ignore[call-overload]
        ),
        target=Target.from_json(gold["target"]),
        measured_at=utc_now(),
        verdict="accessible",
        evidence="",
        steps=Steps.model_validate(gold["steps"]),
        browser=browser,
    )
    # as netcheck classify reads a saved file
    return classify_result(Result.model_validate_json(result.model_dump_json()))


def test_blocked_own_media_degrades_the_page_with_its_technique_in_words() -> None:
    r = record(
        [request(VIDEO, "media", "net::ERR_NAME_NOT_RESOLVED"), request(SCRIPT, "script")],
        [host(VIDEO, nxdomain("rr3---sn-nclab01.googlevideo.com"))],
    )
    assert (r.verdict, r.technique) == ("degraded", "dns-nxdomain")
    assert "The page opens, but its videos (rr3---sn-nclab01.googlevideo.com)" in r.evidence
    assert "NXDOMAIN" in r.evidence
    assert r.browser is not None
    [failed] = r.browser.failed
    assert (failed.host, failed.type, failed.party) == (
        "rr3---sn-nclab01.googlevideo.com",
        "media",
        "own",
    )
    assert failed.technique == "dns-nxdomain"
    # the host's own verdict was recomputed from its steps
    assert r.browser.hosts[0].verdict == "blocked"


def test_technique_comes_from_netcheck_measurement_not_the_browser_error() -> None:
    # Chromium now and then says ERR_NETWORK_CHANGED for an NXDOMAIN: the steps decide
    r = record(
        [request(SCRIPT, "script", "net::ERR_NETWORK_CHANGED")],
        [host(SCRIPT, reset("s.ytimg.com"))],
    )
    assert (r.verdict, r.technique) == ("degraded", "tcp-reset")
    assert "scripts (s.ytimg.com) are reset by the firewall" in r.evidence


def test_only_ads_failing_keeps_the_page_accessible_with_a_note() -> None:
    r = record(
        [request(AD, "script", "net::ERR_NAME_NOT_RESOLVED")],
        [host(AD, nxdomain("googleads.g.doubleclick.net"))],
    )
    assert r.verdict == "accessible"
    assert r.technique is None
    assert "only ads or analytics failed" in r.evidence
    assert "googleads.g.doubleclick.net" in r.evidence
    assert r.browser is not None
    assert r.browser.failed[0].party == "extra"


def test_other_third_party_failure_is_a_note_not_a_degradation() -> None:
    r = record(
        [request(OTHER, "script", "net::ERR_CONNECTION_REFUSED")],
        [host(OTHER, reset("cdn.thirdparty.example"))],
    )
    assert r.verdict == "accessible"
    assert "third-party scripts (cdn.thirdparty.example)" in r.evidence


def test_own_failure_on_a_host_netcheck_reaches_is_not_an_accusation() -> None:
    gold = _golden("accessible_https.json")
    steps = Steps.model_validate(gold["steps"])  # www.youtube.com answered over HTTPS
    url = "https://www.youtube.com/api/stats"
    r = record([request(url, "xhr", "net::ERR_HTTP2_PROTOCOL_ERROR")], [host(url, steps)])
    assert r.verdict == "accessible"
    assert "not the network's doing as far as measured" in r.evidence
    assert r.browser is not None
    assert r.browser.failed[0].technique is None


def test_page_cancelling_its_own_request_and_a_retried_request_are_noise() -> None:
    r = record(
        [
            request(VIDEO, "media", "net::ERR_ABORTED"),
            request(SCRIPT, "script", "net::ERR_CONNECTION_RESET"),
            request(SCRIPT, "script"),  # Chromium's retry succeeded
        ],
        [],
    )
    assert r.verdict == "accessible"
    assert r.browser is not None
    assert r.browser.failed == []


def test_pending_websocket_counts_as_failed() -> None:
    ws = "wss://edge-chat.facebook.com/chat"
    steps = Steps(
        dns=reset("edge-chat.facebook.com").dns,
        tcp=[TcpStep(ip="198.18.0.10", port=443, failure="generic_timeout_error")],
    )
    gold = _golden("accessible_https.json")
    target = replace(
        Target.from_json(gold["target"]), url="https://business.facebook.com/", service="facebook"
    )
    r = record([request(ws, "websocket", "pending at the page deadline")], [])
    # same evidence on a facebook page: own, and the host measured as dropped
    r = classify_result(
        r.model_copy(
            update={
                "target": target,
                "browser": r.browser.model_copy(  # type: ignore[union-attr]
                    update={"hosts": [host("https://edge-chat.facebook.com/", steps)]}
                ),
            }
        )
    )
    assert r.browser is not None
    [failed] = r.browser.failed
    assert failed.error == "pending at the page deadline"
    assert failed.technique == "tcp-timeout"


def test_document_failed_in_the_browser_but_fetched_by_netcheck_is_inconclusive() -> None:
    r = record([request(PAGE, "document", "net::ERR_CONNECTION_RESET")], [], loaded=False)
    assert r.verdict == "inconclusive"
    assert "not evidence of a block" in r.evidence


def test_blocked_document_stays_blocked_with_the_browser_agreeing() -> None:
    gold = _golden("tcp_reset.json")
    r = record([request(PAGE, "document", "net::ERR_CONNECTION_REFUSED")], [], loaded=False)
    r = classify_result(r.model_copy(update={"steps": Steps.model_validate(gold["steps"])}))
    assert (r.verdict, r.technique) == ("blocked", "tcp-reset")
    assert "the browser could not open it either (net::ERR_CONNECTION_REFUSED)" in r.evidence
