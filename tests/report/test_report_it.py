"""IT's exposition parses with prometheus_client's parser and says what is up where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netcheck.policy.loader import load_policy
from netcheck.report import it
from netcheck.report.judge import judge
from netcheck.report.load import load
from tests.report.test_report_load import CHANNEL, POLICY, write_scenario


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        out[family.name] = [(s.labels, s.value) for s in family.samples]
    return out


def test_prometheus_text_parses_and_carries_the_latest_state(tmp_path: Path) -> None:
    frame = judge(load([str(write_scenario(tmp_path / "r"))]), load_policy(POLICY))
    text = it.prometheus_text(frame)
    assert text.endswith("\n")
    assert "# TYPE netcheck_target_up gauge" in text
    fams = _families(text)
    up = {
        (lab["url"], lab["network"]): (lab["technique"], v) for lab, v in fams["netcheck_target_up"]
    }
    assert up[(CHANNEL, "central")] == ("http-blockpage", 0.0)
    assert up[(CHANNEL, "comms-office")] == ("", 1.0)
    assert len(up) == 14  # 7 targets x 2 networks, latest only
    findings = {(lab["kind"], lab["network"]): v for lab, v in fams["netcheck_findings"]}
    assert findings[("self-blocking", "central")] == 1.0  # the channel
    assert findings[("self-blocking", "comms")] == 1.0  # live ingest from the comms office
    assert findings[("unenforced-block", "central")] == 1.0  # business.facebook.com
    last = dict((lab["network"], v) for lab, v in fams["netcheck_last_run_timestamp_seconds"])
    assert last["central"] == 1795856405.0  # 2026-11-28T09:00:05Z
    assert "netcheck_goodput_mbps" not in fams  # no record here went through run --bandwidth


def test_label_values_are_escaped() -> None:
    assert it.escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    text = (
        "\n".join(
            [
                "# HELP netcheck_target_up x",
                "# TYPE netcheck_target_up gauge",
                it._sample("netcheck_target_up", {"url": 'http://x/"q"\\\n'}, 1.0),
            ]
        )
        + "\n"
    )
    fams = _families(text)
    assert fams["netcheck_target_up"][0][0]["url"] == 'http://x/"q"\\\n'


def test_json_has_the_rule_behind_each_target(tmp_path: Path) -> None:
    frame = judge(load([str(write_scenario(tmp_path / "r"))]), load_policy(POLICY))
    doc = json.loads(it.it_json(frame, load_policy(POLICY)))
    row = next(t for t in doc["targets"] if t["url"] == CHANNEL and t["network"] == "central")
    assert row["up"] is False
    assert row["blocked_since"].startswith("2026-11-27T09:00:05")
    assert row["finding"]["kind"] == "self-blocking"
    assert row["finding"]["rule"] == "canal-oficial"
    assert len(row["sha256"]) == 64
    assert doc["findings"]["self-blocking"] == 2


@pytest.mark.parametrize("policy", [None, POLICY])
def test_prometheus_text_is_written_atomically(tmp_path: Path, policy: str | None) -> None:
    frame = load([str(write_scenario(tmp_path / "r"))])
    if policy:
        frame = judge(frame, load_policy(policy))
    out = tmp_path / "textfile" / "netcheck.prom"
    it.write_atomic(out, it.prometheus_text(frame))
    assert _families(out.read_text())["netcheck_target_up"]
    assert [p.name for p in out.parent.iterdir()] == ["netcheck.prom"]


def test_goodput_from_run_bandwidth_reaches_prometheus_and_the_comms_chart(tmp_path: Path) -> None:
    from netcheck.models import BandwidthEvidence
    from netcheck.output import dump_line
    from netcheck.report import comms
    from netcheck.report.samples import scenario_results

    measured = BandwidthEvidence(
        service_url="https://media.example/large.bin",
        control_url="https://control.example/large.bin",
        service_mbps=3.1,  # the short replay; the settled figure below is the service's
        control_mbps=90.0,
        ratio=0.047,
        ks_p=1e-11,
        area=0.9,
        confirmed=True,
        bytes=1_400_000,
        verdict="degraded",
        goodput_mbps=4.2,
    )
    results = scenario_results()
    last_day = max(r.measured_at for r in results)[:10]
    results = [  # the reports read the latest state: the last day's YouTube records carry it
        r.model_copy(update={"bandwidth": measured})
        if r.target.service == "youtube" and r.measured_at.startswith(last_day)
        else r
        for r in results
    ]
    path = tmp_path / "run.jsonl"
    path.write_text("".join(dump_line(r) + "\n" for r in results), encoding="utf-8")
    frame = judge(load([str(path)]), load_policy(POLICY))
    fams = _families(it.prometheus_text(frame))
    goodput = fams["netcheck_goodput_mbps"]
    assert {(lab["service"], lab["network"], v) for lab, v in goodput} == {
        ("youtube", "central", 4.2),
        ("youtube", "comms-office", 4.2),
    }
    report = comms.build(frame, load_policy(POLICY), "en")
    assert any("4.2" in chart for chart in report.charts)
