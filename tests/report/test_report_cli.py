"""``netcheck report`` through typer's runner, and the one-command sample reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.errors import InputError
from netcheck.report.samples import make_samples
from tests.report.test_report_load import POLICY, write_scenario
from tests.support.paths import ROOT


def test_markdown_to_stdout_and_folders_for_csv(tmp_path: Path) -> None:
    root = str(write_scenario(tmp_path / "r"))
    runner = CliRunner()
    done = runner.invoke(app, ["report", root, "--policy", POLICY, "--format", "md"])
    assert done.exit_code == 0, done.output
    assert "No funciona en la red «sede central»" in done.stdout
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
    assert (out / "findings.csv").is_file()
    assert (out / "compliance_matrix.csv").is_file()
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
        assert done.output.count("\n") == 1
        assert "netcheck: error:" in done.output


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


# --- --out: never an input, never a folder, never from zero records, atomic ---------------------


def _refused(args: list[str]) -> str:
    done = CliRunner().invoke(app, ["report", *args])
    assert done.exit_code == 2, done.output
    assert done.output.count("\n") == 1
    assert done.output.startswith("netcheck: error:")
    return done.output


def _stamp(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_out_never_names_an_input(tmp_path: Path) -> None:
    root = write_scenario(tmp_path / "r")
    results = sorted(root.rglob("*.jsonl"))[0]
    before = _stamp(results)
    (tmp_path / "link.jsonl").symlink_to(results)
    (tmp_path / "hard.jsonl").hardlink_to(results)
    for out in (str(results), str(tmp_path / "link.jsonl"), str(tmp_path / "hard.jsonl")):
        assert "is an input" in _refused([str(results), "--format", "md", "--out", out])
    # a file found inside a folder given as input, and the policy, are inputs too
    assert "is an input" in _refused([str(root), "--format", "md", "--out", str(results)])
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(Path(POLICY).read_bytes())
    policy_before = _stamp(policy)
    _refused([str(root), "--policy", str(policy), "--format", "md", "--out", str(policy)])
    # a folder format may not write into the folder that holds the inputs
    out = ["--audience", "audit", "--format", "csv", "--out"]
    assert "is an input" in _refused([str(root), *out, str(root)])
    assert "holds an input" in _refused([str(root), *out, str(tmp_path)])
    assert _stamp(results) == before
    assert _stamp(policy) == policy_before


def test_out_is_never_an_existing_folder_and_zero_records_write_nothing(tmp_path: Path) -> None:
    root = str(write_scenario(tmp_path / "r"))
    folder = tmp_path / "reports"
    folder.mkdir()
    assert "is a folder" in _refused([root, "--format", "md", "--out", str(folder)])
    assert list(folder.iterdir()) == []
    out = tmp_path / "comms.md"
    out.write_text("last week's report\n")
    before = _stamp(out)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    only_empty = tmp_path / "nothing-yet"
    only_empty.mkdir()
    (only_empty / "run.jsonl").write_text("\n")
    for source in (empty, only_empty, tmp_path / "reports"):
        message = _refused([str(source), "--format", "md", "--out", str(out)])
        assert "no records" in message or "no result records" in message
    assert _stamp(out) == before
    done = CliRunner().invoke(app, ["report", str(only_empty), "--format", "md"])
    assert done.exit_code == 2  # not even to stdout


def test_outputs_are_written_whole_and_leave_no_temporary_files(tmp_path: Path) -> None:
    root = str(write_scenario(tmp_path / "r"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "comms.md").write_text("old\n")
    runner = CliRunner()
    done = runner.invoke(app, ["report", root, "--format", "md", "--out", str(out / "comms.md")])
    assert done.exit_code == 0, done.output
    assert (out / "comms.md").read_text().startswith("# ")
    args = ["report", root, "--audience", "audit", "--format", "parquet", "--out"]
    done = runner.invoke(app, [*args, str(out / "audit")])
    assert done.exit_code == 0, done.output
    # a day already in the dataset and not in this run stays; the days of this run are replaced
    kept = out / "audit" / "records" / "date=2020-01-01"
    kept.mkdir()
    (kept / "part-0.parquet").write_bytes(b"older")
    assert runner.invoke(app, [*args, str(out / "audit")]).exit_code == 0
    assert (kept / "part-0.parquet").read_bytes() == b"older"
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    assert sorted(p.name for p in out.iterdir()) == ["audit", "comms.md"]


def test_report_on_sample_results_folder() -> None:
    runner = CliRunner()
    whole = runner.invoke(app, ["report", str(ROOT / "sample_results"), "--format", "md"])
    # the folder's records: the lab's JSON Lines and the sample fleet's collector archive (its
    # evidence export and the reports' own tables are not records, and are skipped)
    parts = [
        str(ROOT / "sample_results" / "lab"),
        str(ROOT / "sample_results" / "fleet" / "records"),
    ]
    named = runner.invoke(app, ["report", *parts, "--format", "md"])
    assert whole.exit_code == 0, whole.output
    assert whole.stdout == named.stdout
