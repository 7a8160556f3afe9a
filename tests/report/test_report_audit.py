"""The auditors' tables: one CSV row per finding with its evidence, record id and line hash; the
compliance matrix; reachability over time; Parquet and HTML."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd

from netcheck.policy.loader import load_policy
from netcheck.report import audit
from netcheck.report.judge import judge
from netcheck.report.load import load
from tests.report.test_report_load import CHANNEL, POLICY, scenario_results, write_scenario


def _audit(tmp_path: Path) -> tuple[pd.DataFrame, audit.Audit]:
    frame = judge(load([str(write_scenario(tmp_path / "results"))]), load_policy(POLICY))
    return frame, audit.aggregate(frame)


def test_csv_has_one_row_per_finding_with_evidence_columns(tmp_path: Path) -> None:
    _, tables = _audit(tmp_path)
    written = audit.write_csv(tables, tmp_path / "out")
    assert [p.name for p in written] == [
        "findings.csv",
        "compliance_matrix.csv",
        "compliance_counts.csv",
        "reachability.csv",
    ]
    with (tmp_path / "out" / "findings.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(scenario_results())  # one finding per record
    for column in (
        "result_id",
        "sha256",
        "file",
        "line",
        "kind",
        "rule",
        "rule_file",
        "rule_line",
        "evidence",
        "result_evidence",
        "verdict",
        "technique",
        "vendor",
    ):
        assert column in rows[0], column
    assert len({r["result_id"] for r in rows}) == len(rows)
    row = next(
        r for r in rows if r["result_id"] == "probe-central-01-2026-11-28-youtube-official_channel"
    )
    assert (row["kind"], row["rule"], row["technique"], row["vendor"]) == (
        "self-blocking",
        "canal-oficial",
        "http-blockpage",
        "squid",
    )
    assert "must be reachable here but was measured blocked (http-blockpage)" in row["evidence"]
    stored = Path(row["file"]).read_bytes().split(b"\n")[int(row["line"]) - 1]
    assert hashlib.sha256(stored).hexdigest() == row["sha256"]


def test_compliance_matrix_names_the_worst_kind_per_rule_and_network(tmp_path: Path) -> None:
    _, tables = _audit(tmp_path)
    m = tables.matrix.set_index(["rule", "network"])
    assert m.loc[("canal-oficial", "central"), "status"] == "self-blocking"
    assert m.loc[("canal-oficial", "central"), "n_self-blocking"] == 2  # days 2 and 3
    assert m.loc[("canal-oficial", "comms"), "status"] == "compliant"
    assert m.loc[("sin-administracion", "central"), "status"] == "unenforced-block"
    assert m.loc[("comms-directo", "comms"), "status"] == "self-blocking"
    assert m.loc[("streaming", "central"), "status"] == "compliant"
    wide = audit.matrix_wide(tables.matrix).set_index("rule")
    assert wide.loc["canal-oficial", "central"] == "self-blocking"
    assert wide.loc["canal-oficial", "where"] == f"{POLICY}:46"


def test_reachability_over_time(tmp_path: Path) -> None:
    _, tables = _audit(tmp_path)
    r = tables.reachability
    channel = r[
        (r["service"] == "youtube")
        & (r["function"] == "official_channel")
        & (r["network"] == "central")
    ].sort_values("date")
    assert channel["share_loaded"].tolist() == [1.0, 0.0, 0.0]
    assert int(r["records"].sum()) == len(scenario_results())


def test_parquet_and_html(tmp_path: Path) -> None:
    frame, tables = _audit(tmp_path)
    audit.write_parquet(tables, tmp_path / "pq")
    back = pd.read_parquet(tmp_path / "pq" / "findings.parquet")
    assert len(back) == len(frame)
    assert set(back["kind"]) >= {"self-blocking", "compliant"}
    html = audit.render_html(frame, tables, load_policy(POLICY), "en")
    assert "canal-oficial" in html
    assert CHANNEL in html
    assert "<svg" in html
    assert "Compliance matrix" in html


def test_without_policy_the_table_holds_verdicts(tmp_path: Path) -> None:
    frame = load([str(write_scenario(tmp_path / "results"))])
    tables = audit.aggregate(frame)
    assert not tables.with_policy
    assert tables.matrix.empty
    written = audit.write_csv(tables, tmp_path / "out")
    assert [p.name for p in written] == ["records.csv", "reachability.csv"]
    html = audit.render_html(frame, tables, None, "es")
    assert "No se indicó ninguna política" in html
