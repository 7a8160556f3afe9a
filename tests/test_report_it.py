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
from tests.test_report_load import CHANNEL, POLICY, write_scenario


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        out[family.name] = [(s.labels, s.value) for s in family.samples]
    return out


def test_prometheus_text_parses_and_carries_the_latest_state(tmp_path: Path) -> None:
    frame = judge(load([str(write_scenario(tmp_path / "r"))]), load_policy(POLICY))
    text = it.prometheus_text(frame)
    assert text.endswith("\n") and "# TYPE netcheck_target_up gauge" in text
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
    assert "netcheck_goodput_mbps" not in fams  # records carry no goodput yet


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
    assert row["up"] is False and row["blocked_since"].startswith("2026-11-27T09:00:05")
    assert row["finding"]["kind"] == "self-blocking" and row["finding"]["rule"] == "canal-oficial"
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
