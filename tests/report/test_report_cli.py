"""``netcheck report`` through typer's runner, and the one-command sample reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.errors import InputError
from netcheck.report.samples import make_samples
from tests.report.test_report_load import CHANNEL, POLICY, write_scenario


def test_markdown_to_stdout_and_folders_for_csv(tmp_path: Path) -> None:
    root = str(write_scenario(tmp_path / "r"))
    runner = CliRunner()
    done = runner.invoke(app, ["report", root, "--policy", POLICY, "--format", "md"])
    assert done.exit_code == 0, done.output
    assert f"El canal oficial {CHANNEL} no se puede ver" in done.stdout
    out = tmp_path / "audit"
    done = runner.invoke(
        app,
        [
            "report",
            root,
            "--policy",
            POLICY,
            "--audience",
            "audit",
            "--format",
            "csv",
            "--out",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    assert (out / "findings.csv").is_file() and (out / "compliance_matrix.csv").is_file()
    done = runner.invoke(app, ["report", root, "--audience", "it", "--format", "prom"])
    assert done.exit_code == 0
    assert list(text_string_to_metric_families(done.stdout))


def test_bad_choices_are_one_line_errors(tmp_path: Path) -> None:
    root = str(write_scenario(tmp_path / "r"))
    runner = CliRunner()
    for args in (
        ["--audience", "comms", "--format", "prom"],
        ["--audience", "board"],
        ["--lang", "fr"],
        ["--audience", "audit", "--format", "csv"],  # a folder format needs --out
    ):
        done = runner.invoke(app, ["report", root, *args])
        assert done.exit_code == 2, (args, done.output)
        assert done.output.count("\n") == 1 and "netcheck: error:" in done.output


def test_samples_command_writes_every_report(tmp_path: Path) -> None:
    write_scenario(tmp_path / "sample_results" / "lab")
    written = make_samples(
        tmp_path / "sample_results", tmp_path / "sample_results" / "reports", POLICY, None
    )
    names = {p.name for p in written}
    assert {
        "comms.es.html",
        "comms.en.md",
        "audit.es.html",
        "netcheck.prom",
        "it.json",
        "findings.csv",
        "findings.parquet",
        "records",
    } <= names
    assert not (tmp_path / "sample_results" / "demo").exists()  # samples are never synthesised


def test_samples_without_results_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="make-samples"):
        make_samples(tmp_path / "sample_results", tmp_path / "out", POLICY, None)
    assert not (tmp_path / "sample_results").exists()
