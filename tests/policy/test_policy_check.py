"""Comparison: one table-driven case per finding kind, config-line attribution, and the
``policy explain`` / ``check`` commands (JSON output, exit codes) on real JSONL files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from netcheck.cli import policy_cmd
from netcheck.models import BandwidthEvidence, ProbeInfo, Result, Steps, Target, TcpStep
from netcheck.output import dump_line
from netcheck.policy.compare import check_results, findings_exit_code
from netcheck.policy.importers import load_config
from netcheck.policy.loader import load_policy
from tests.support.paths import ROOT

MINISTRY = str(ROOT / "policies" / "ministerio-ejemplo.yaml")
DATA = ROOT / "tests" / "data" / "policy"


def result(
    url: str,
    service: str,
    function: str,
    verdict: str,
    technique: str | None = None,
    *,
    official: bool = False,
    network: str | None = None,
    rtt: float = 0.0,
) -> Result:
    return Result(
        id=f"r-{abs(hash((url, function, verdict))) % 10**8}",
        probe=ProbeInfo(
            id="p1", software_version="0.1.0", started_at="2026-11-28T00:00:00Z", network=network
        ),
        target=Target(url=url, service=service, function=function, official=official),
        measured_at="2026-11-28T00:00:01Z",
        verdict=verdict,  # type: ignore[arg-type]
        technique=technique,  # type: ignore[arg-type]
        evidence="test",
        steps=Steps(tcp=[TcpStep(ip="198.18.1.10", port=443, runtime_ms=rtt)] if rtt else []),
    )


CASES = [
    # (result, network, kind, rule)
    (
        result("https://studio.youtube.com/", "youtube", "admin", "blocked", "tls-reset"),
        "comms",
        "self-blocking",
        "comms-administra",
    ),
    (
        result(
            "https://www.youtube.com/@MinisterioLab",
            "youtube",
            "official_channel",
            "blocked",
            "http-blockpage",
            official=True,
        ),
        None,
        "self-blocking",
        "canal-oficial",
    ),
    (
        result("https://scontent.xx.fbcdn.net/", "facebook", "media", "blocked", "dns-nxdomain"),
        "central",
        "self-blocking",
        "media-cdn",
    ),
    (
        result("https://studio.youtube.com/", "youtube", "admin", "accessible"),
        "central",
        "unenforced-block",
        "sin-administracion",
    ),
    (
        result("https://studio.youtube.com/", "youtube", "admin", "blocked", "proxy-denied"),
        "central",
        "compliant",
        "sin-administracion",
    ),
    (
        result("https://www.facebook.com/", "facebook", "view", "accessible"),
        "central",
        "compliant",
        "personal-ver",
    ),
    (
        result("https://a.rtmps.youtube.com/", "youtube", "live_ingest", "degraded", "throttled"),
        "comms",
        "bandwidth-shortfall",
        "comms-directo",
    ),
    (
        result("https://a.rtmps.youtube.com/", "youtube", "live_ingest", "accessible", rtt=450.0),
        "comms",
        "bandwidth-shortfall",
        "comms-directo",
    ),
    (
        result("https://example.org/", "example.org", "view", "accessible"),
        "central",
        "undeclared",
        "default",
    ),
    (
        result("https://www.facebook.com/", "facebook", "view", "unreachable"),
        "central",
        "inconclusive",
        "personal-ver",
    ),
]


@pytest.mark.parametrize(("res", "network", "kind", "rule"), CASES)
def test_every_finding_kind(res: Result, network: str | None, kind: str, rule: str) -> None:
    doc = load_policy(MINISTRY)
    [finding] = check_results([res], doc, network=network)
    assert (finding.kind, finding.rule) == (kind, rule), finding.evidence
    assert finding.rule_file == MINISTRY
    assert finding.result_id == res.id
    assert finding.probe_id == "p1"
    if rule != "default":
        assert finding.rule_line == doc.rule_lines[[r.id for r in doc.policy.rules].index(rule)]


def test_the_records_network_is_used_unless_overridden() -> None:
    doc = load_policy(MINISTRY)
    res = result("https://studio.youtube.com/", "youtube", "admin", "blocked", network="10.20.0.9")
    assert check_results([res], doc)[0].kind == "self-blocking"  # comms by address
    assert check_results([res], doc, network="central")[0].kind == "compliant"


def test_config_line_attribution_follows_the_technique() -> None:
    doc = load_policy(MINISTRY)
    configs = [
        load_config("squid", str(DATA / "squid-agency.conf")),
        load_config("rpz", str(DATA / "rpz.zone")),
    ]
    cdn = result("https://scontent.xx.fbcdn.net/", "facebook", "media", "blocked", "dns-nxdomain")
    admin = result("https://studio.youtube.com/", "youtube", "admin", "blocked", "proxy-denied")
    f_cdn, f_admin = check_results([cdn, admin], doc, network="comms", configs=configs)
    assert f_cdn.config_line == f"{DATA / 'rpz.zone'}:7"  # DNS technique → the RPZ line
    assert f_admin.config_line == f"{DATA / 'squid-agency.conf'}:15"
    assert "admin_consoles" in (f_admin.config_how or "")
    assert findings_exit_code([f_cdn]) == 1


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(policy_cmd.app, name="policy")
    app.command("check")(policy_cmd.check)
    return app


def test_explain_json() -> None:
    out = CliRunner().invoke(
        _app(), ["policy", "explain", MINISTRY, "https://studio.youtube.com/", "--json"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert (data["decision"], data["rule"], data["file"], data["line"]) == (
        "block",
        "sin-administracion",
        MINISTRY,
        72,
    )
    out = CliRunner().invoke(
        _app(),
        [
            "policy",
            "explain",
            MINISTRY,
            "https://studio.youtube.com/",
            "--network",
            "comms",
            "--json",
        ],
    )
    assert json.loads(out.stdout)["decision"] == "allow"
    out = CliRunner().invoke(
        _app(),
        [
            "policy",
            "explain",
            str(DATA / "squid-agency.conf"),
            "https://studio.youtube.com/",
            "--format",
            "squid",
            "--json",
        ],
    )
    data = json.loads(out.stdout)
    assert (data["decision"], data["line"]) == ("block", 15)


def test_explain_unknown_network_is_a_tool_error() -> None:
    out = CliRunner().invoke(
        _app(), ["policy", "explain", MINISTRY, "https://x.com/", "--network", "mars"]
    )
    assert out.exit_code == 2
    assert "mars" in out.output


def test_check_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(dump_line(CASES[5][0]) + "\n" + dump_line(CASES[4][0]) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dump_line(CASES[0][0]) + "\n")
    runner = CliRunner()
    ok = runner.invoke(_app(), ["check", "--policy", MINISTRY, str(good), "--network", "central"])
    assert ok.exit_code == 0, ok.output
    failing = runner.invoke(
        _app(),
        [
            "check",
            "--policy",
            MINISTRY,
            str(bad),
            "--network",
            "comms",
            "--json",
            "--config",
            f"squid:{DATA / 'squid-agency.conf'}",
        ],
    )
    assert failing.exit_code == 1, failing.output
    finding = json.loads(failing.stdout.splitlines()[0])
    assert finding["kind"] == "self-blocking"
    assert finding["config_line"].endswith(":15")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1}\n')
    err = runner.invoke(_app(), ["check", "--policy", MINISTRY, str(broken)])
    assert err.exit_code == 2
    assert "broken.jsonl:1" in err.output


def test_validate_and_import_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(_app(), ["policy", "validate", MINISTRY]).exit_code == 0
    shadow = tmp_path / "p.yaml"
    shadow.write_text(
        "organisation: t\nversion: 1\ndate: 2026-01-01\ndefault: allow\nrules:\n"
        "  - {id: a, match: {hosts: [.youtube.com]}, action: block}\n"
        "  - {id: b, match: {hosts: [studio.youtube.com]}, action: allow}\n"
    )
    out = runner.invoke(_app(), ["policy", "validate", str(shadow)])
    assert out.exit_code == 2
    assert f"{shadow}:7: rules[1]: rule 'b' can never match" in out.stdout
    out = runner.invoke(_app(), ["policy", "import", "squid", str(DATA / "squid-agency.conf")])
    assert out.exit_code == 0
    assert "source: " in out.stdout
    assert runner.invoke(_app(), ["policy", "import", "nope", "x"]).exit_code == 2


def _with_bandwidth(res: Result, service_mbps: float, goodput_mbps: float | None = None) -> Result:
    bw = BandwidthEvidence(
        service_url="https://a.rtmps.youtube.com/big", control_url="http://control/big",
        service_mbps=service_mbps, control_mbps=90.0, ratio=service_mbps / 90.0, ks_p=0.5,
        area=0.01, confirmed=False, bytes=10**6, verdict="accessible", goodput_mbps=goodput_mbps,
    )  # fmt: skip
    return res.model_copy(update={"bandwidth": bw})


def test_measured_goodput_is_compared_with_min_download_mbps() -> None:
    doc = load_policy(MINISTRY)  # comms-directo requires 10 Mbit/s
    live = result("https://a.rtmps.youtube.com/", "youtube", "live_ingest", "accessible")
    [slow] = check_results([_with_bandwidth(live, 4.2)], doc, network="comms")
    assert slow.kind == "bandwidth-shortfall"
    assert "4.20 Mbit/s" in slow.evidence
    assert "10 Mbit/s" in slow.evidence
    [fast] = check_results([_with_bandwidth(live, 40.0)], doc, network="comms")
    assert fast.kind == "compliant"
    # a short replay on a long path read 4.2 (slow start), the settled run 40: no shortfall
    [settled] = check_results([_with_bandwidth(live, 4.2, 40.0)], doc, network="comms")
    assert settled.kind == "compliant"
    [short] = check_results([_with_bandwidth(live, 40.0, 4.2)], doc, network="comms")
    assert short.kind == "bandwidth-shortfall"
    assert "4.20 Mbit/s" in short.evidence


@pytest.mark.parametrize("url", ["http://[bad", "https://www.youtube.com:notaport/", "not a url"])
def test_a_record_whose_url_does_not_parse_is_compared_without_blame(url: str) -> None:
    # records read offline may hold anything; comparing them never raises, and no config line
    # is named for a URL no config can have seen
    doc = load_policy(MINISTRY)
    configs = [
        load_config("squid", str(DATA / "squid-agency.conf")),
        load_config("pac", str(DATA / "proxy.pac")),
        load_config("rpz", str(DATA / "rpz.zone")),
    ]
    odd = result(url, "youtube", "admin", "blocked", "proxy-denied")
    (found,) = check_results([odd], doc, network="comms", configs=configs)
    assert found.config_line is None
