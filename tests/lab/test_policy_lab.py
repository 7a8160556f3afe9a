"""Policy work against the lab's real configs (issue 4).

For every scenario, the squid.conf and RPZ zone the lab's daemons ran are imported
(``netcheck.policy.importers``) and compared with what the probe measured: where the config is
the whole truth for a layer, config and measurement must not contradict each other. And the
self-blocking scenarios are reported as self-blocking against the example ministry's policy,
naming the lab config line that did it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.lab import scenarios
from netcheck.lab.scenarios import Scenario
from netcheck.policy.importers import EffectiveConfig, load_config
from tests.lab.conftest import ScenarioRuns

pytestmark = pytest.mark.lab

ALL = scenarios.load()
MINISTRY = "policies/ministerio-ejemplo.yaml"
COMMS = "comms-office"  # a label of the ministry's comms network
RPZ_TECHNIQUES = {"dns-nxdomain", "dns-nodata", "dns-sinkhole", "dns-timeout"}
SQUID_TECHNIQUES = {"proxy-denied", "http-blockpage"}


def _rpz_is_whole_truth(scenario: Scenario) -> bool:
    """DNS blocking comes from the RPZ zone alone (no unbound local-zone, lame forwarder or
    on-path injector in the scenario)."""
    return not (scenario.dns.refuse or scenario.dns.servfail or scenario.dns_inject)


def _contradictions(
    config: EffectiveConfig, records: list[dict[str, object]], techniques: set[str], whole: bool
) -> list[str]:
    found = []
    for record in records:
        target = record["target"]
        assert isinstance(target, dict)
        url = str(target["url"])
        decision = config.decide(url)
        technique = record.get("technique")
        measured = record.get("verdict") == "blocked" and technique in techniques
        # an inconclusive record measured nothing (e.g. the proxy's 407 stopped it before any
        # rule): it cannot contradict what the config would do to a user it lets in
        unmeasured = record.get("verdict") == "inconclusive"
        if decision.action == "block" and not measured and not unmeasured:
            found.append(
                f"{url}: {decision.where} blocks it ({decision.how}) but it was measured "
                f"{record.get('verdict')} {technique or ''}"
            )
        if whole and measured and decision.action != "block":
            found.append(f"{url}: measured {technique} but {config.file} allows it")
    return found


def _urls_measured(records: list[dict[str, object]]) -> list[str]:
    """Each record's target URL and, from browser mode, the URLs of the requests that failed."""
    urls: list[str] = []
    for record in records:
        urls.append(str(record["target"]["url"]))  # type: ignore[index]
        browser = record.get("browser")
        if isinstance(browser, dict):
            urls += [str(f["url"]) for f in browser.get("failed", []) if isinstance(f, dict)]
    return urls


@pytest.mark.parametrize("name", list(ALL))
def test_imported_configs_agree_with_measurements(runs: ScenarioRuns, name: str) -> None:
    scenario = ALL[name]
    run = runs.get(name)
    folder = runs.configs(name)
    rpz = load_config("rpz", str(folder / "rpz.zone"))
    squid = load_config("squid", str(folder / "squid.conf"))
    assert rpz.layer == "dns"
    assert squid.layer == "proxy"
    wrong = _contradictions(rpz, run.records, RPZ_TECHNIQUES, _rpz_is_whole_truth(scenario))
    if scenario.proxied:  # the proxy layer is on the path only when the probe uses squid
        wrong += _contradictions(squid, run.records, SQUID_TECHNIQUES, whole=True)
    else:
        assert not any(r.get("technique") in SQUID_TECHNIQUES for r in run.records)
    assert not wrong, "\n".join(wrong)
    # the imported configs do say something wherever the scenario configures that layer
    if scenario.dns.nxdomain or scenario.dns.sinkhole or scenario.dns.drop:
        # a browser scenario may block only what a page needs (its videos, its ads), not a target
        assert any(rpz.decide(url).action == "block" for url in _urls_measured(run.records))


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == text)


SELF_BLOCKING = [
    # scenario, selects the target, config file, config line (None: a layer with no importer)
    ("admin-blocked", {"service": "youtube", "function": "admin"}, None, None),
    (
        "official-path-blocked",
        {"url": "https://www.youtube.com/@MinisterioLab"},
        "squid.conf",
        "http_access deny deny_url",
    ),
    (
        "cdn-blocked",
        {"service": "facebook", "function": "media"},
        "rpz.zone",
        "*.fbcdn.net CNAME .",
    ),
]


@pytest.mark.parametrize(("name", "select", "file", "line"), SELF_BLOCKING)
def test_self_blocking_against_the_ministry_policy(
    runs: ScenarioRuns, name: str, select: dict[str, str], file: str | None, line: str | None
) -> None:
    run = runs.get(name)
    folder = runs.configs(name)
    argv = [sys.executable, "-m", "netcheck", "check", "--policy", MINISTRY, "--network", COMMS]
    argv += ["--config", f"squid:{folder / 'squid.conf'}", "--config", f"rpz:{folder / 'rpz.zone'}"]
    argv += ["--json", str(run.results_file)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    findings = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]

    def chosen(f: dict[str, object]) -> bool:
        target = f["target"]
        assert isinstance(target, dict)
        return all(target.get(k) == v for k, v in select.items())

    mine = [f for f in findings if chosen(f)]
    assert mine, f"no finding for {select}"
    for finding in mine:
        assert finding["kind"] == "self-blocking", finding
        assert finding["decision"] == "allow"
        assert finding["verdict"] == "blocked"
        if file is None:
            assert finding["config_line"] is None, finding
        else:
            assert line is not None
            where = f"{folder / file}:{_line_of(folder / file, line)}"
            assert finding["config_line"] == where, finding
    # nothing the scenario leaves alone is reported as self-blocking
    others = [f for f in findings if not chosen(f) and f["kind"] == "self-blocking"]
    assert not others, others


def test_lab_policy_names_every_scenario_network() -> None:
    """The lab's probe runs carry ``--network lab-<scenario>``; policies/lab.yaml (the sample
    reports' policy) must resolve each of them to a network of its own."""
    from netcheck.policy.loader import load_policy, resolve_network

    policy = load_policy("policies/lab.yaml")
    for name in ALL:
        assert resolve_network(policy.policy, f"lab-{name}") == name
