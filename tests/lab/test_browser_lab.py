"""Browser mode in the real lab (issue 16): ``netcheck run --browser`` in the client namespace,
Chromium behind the gateway's resolver, firewall, SNI filter and squid.

``test_scenarios`` already holds every browser scenario to its expectations (verdict, technique,
vendor, the phrase naming the failed dependency). Here, what a record must also carry: the
failed dependency with the technique of netcheck's own measurement of its host, the screenshot
beside the results (a PNG under the cap), a clean page whose every request loaded (the
websocket and the cross-origin API call included), and records valid against the schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from netcheck.browser.capture import PageLimits
from netcheck.lab import browserpages
from netcheck.schema import SCHEMA_PATH
from tests.lab.conftest import ScenarioRuns

pytestmark = pytest.mark.lab

CHANNEL = "https://www.youtube.com/@MinisterioLab"
CONSOLE = "https://business.facebook.com/"
#: scenario -> (page, failed host, its type, technique netcheck measured on that host)
DEPENDENCY = {
    "browser-video-dns": (CHANNEL, browserpages.MEDIA_HOSTS[0], "media", "dns-nxdomain"),
    "browser-script-reset": (CHANNEL, browserpages.STATIC_CDN, "script", "tcp-reset"),
    "browser-api-sni": (CONSOLE, browserpages.API_HOST, "fetch", "tls-reset"),
    "browser-websocket-proxy": (
        CONSOLE,
        browserpages.WS_SERVICE_HOST,
        "websocket",
        "proxy-denied",
    ),
}


def _record(runs: ScenarioRuns, scenario: str, url: str) -> dict[str, object]:
    run = runs.get(scenario)
    found = [r for r in run.records if r["target"]["url"] == url]  # type: ignore[index]
    assert found, f"{url} not measured in {scenario}"
    return found[0]


@pytest.mark.parametrize("scenario", sorted(DEPENDENCY))
def test_failed_dependency_is_named_with_its_measured_technique(
    runs: ScenarioRuns, scenario: str
) -> None:
    url, host, kind, technique = DEPENDENCY[scenario]
    record = _record(runs, scenario, url)
    browser = record["browser"]
    assert isinstance(browser, dict)
    assert browser["loaded"] is True
    failed = [f for f in browser["failed"] if f["host"] == host]
    assert failed, browser["failed"]
    assert {(f["type"], f["technique"], f["party"]) for f in failed} == {(kind, technique, "own")}
    # the technique is netcheck's measurement of that host, kept in the record
    measured = [h for h in browser["hosts"] if h["host"] == host]
    assert len(measured) == 1
    assert measured[0]["verdict"] == "blocked"
    assert measured[0]["technique"] == technique
    assert measured[0]["steps"]["dns"]
    assert (record["verdict"], record["technique"]) == ("degraded", technique)


def test_clean_pages_load_everything_they_pull_in(runs: ScenarioRuns) -> None:
    run = runs.get("browser-clean")
    for url, kinds in (
        (CHANNEL, {"document", "script", "image", "media"}),
        (CONSOLE, {"document", "script", "fetch", "websocket"}),
    ):
        record = _record(runs, "browser-clean", url)
        browser = record["browser"]
        assert isinstance(browser, dict)
        assert browser["failed"] == [], browser["failed"]
        assert kinds <= {r["type"] for r in browser["requests"]}
        assert all(r["error"] is None for r in browser["requests"])
        assert record["verdict"] == "accessible"
    pages = [r for r in run.records if r.get("browser")]
    assert pages
    assert all(r["browser"]["sandboxed"] is False for r in pages)  # type: ignore[index]


def test_ads_blocked_only_is_accessible_with_the_note(runs: ScenarioRuns) -> None:
    record = _record(runs, "browser-ads-only", CHANNEL)
    browser = record["browser"]
    assert isinstance(browser, dict)
    assert {f["party"] for f in browser["failed"]} == {"extra"}
    assert record["verdict"] == "accessible"
    assert "only ads or analytics failed" in str(record["evidence"])


@pytest.mark.parametrize("scenario", ["browser-clean", "browser-video-dns"])
def test_screenshots_beside_the_results_and_records_valid(
    runs: ScenarioRuns, scenario: str
) -> None:
    run = runs.get(scenario)
    schema = json.loads(SCHEMA_PATH.read_text())
    lab_results = runs.lab.results  # screenshots stay beside the file the probe wrote
    shots = 0
    for record in run.records:
        jsonschema.validate(record, schema)
        browser = record.get("browser")
        if not isinstance(browser, dict) or browser.get("screenshot") is None:
            continue
        png = Path(lab_results) / str(browser["screenshot"])
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) <= PageLimits().screenshot_max
        shots += 1
    assert shots >= 2
