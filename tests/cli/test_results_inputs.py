"""Results readers and ``report --out`` on the inputs an audit found breaking the contract.

Each case was a traceback (exit 3), a hang, a silently wrong report or a vague line before: a
write that fails on the disk, a named pipe in a results folder, a file named twice, year 0 and
nanosecond times, unknown techniques, a byte-order mark, Parquet record files with columns of
the wrong kind. The contract: exit 2 with one ``netcheck: error:`` line naming file, line and
field, and nothing created or changed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.output import dump_line, read_results
from netcheck.report import ingest
from netcheck.report.load import load
from netcheck.report.samples import write_scenario
from tests.support.paths import ROOT


def _run(args: list[str]) -> tuple[int, str]:
    done = CliRunner().invoke(app, args)
    return done.exit_code, done.output


def _refused(args: list[str]) -> str:
    code, output = _run(args)
    assert code == 2, output
    assert output.count("\n") == 1, output
    assert output.startswith("netcheck: error:"), output
    return output


def _one_file(tmp_path: Path) -> Path:
    return sorted(write_scenario(tmp_path / "r").rglob("*.jsonl"))[0]


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# --- --out: a write that fails, a folder that is a file, "-" ------------------------------------


@pytest.mark.parametrize(
    "fmt", [["--format", "md"], ["--audience", "audit", "--format", "csv"]], ids=["md", "csv"]
)
def test_a_write_that_fails_is_one_line_and_leaves_no_folder(
    tmp_path: Path, fmt: list[str]
) -> None:
    results = _one_file(tmp_path)
    # a name the file system refuses (over 255 bytes): the write fails after the checks
    out = tmp_path / "new" / "deep" / ("a" * 300)
    message = _refused(["report", str(results), *fmt, "--out", str(out)])
    assert "--out: cannot write the report" in message
    assert not (tmp_path / "new").exists()  # the folders made for it are gone again


def test_out_below_a_file_is_refused_before_reading(tmp_path: Path) -> None:
    results = _one_file(tmp_path)
    before = results.read_bytes()
    message = _refused(["report", str(results), "--format", "md", "--out", f"{results}/x.md"])
    assert "--out: " in message
    assert "is not a folder" in message
    assert results.read_bytes() == before


def test_out_dash_is_stdout_for_a_document_and_refused_for_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _one_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, output = _run(["report", str(results), "--format", "md", "--out", "-"])
    assert code == 0
    assert output.startswith("# ")
    assert not (tmp_path / "-").exists()
    _refused(["report", str(results), "--audience", "audit", "--format", "csv", "--out", "-"])
    assert not (tmp_path / "-").exists()


# --- what a folder or the command line holds -----------------------------------------------------


def test_a_named_pipe_in_a_folder_is_skipped_and_one_named_is_refused(tmp_path: Path) -> None:
    root = write_scenario(tmp_path / "r")
    os.mkfifo(root / "live.jsonl")  # nothing ever writes to it: reading it would block
    command = [sys.executable, "-m", "netcheck", "report", str(root), "--format", "md"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    command[4] = str(root / "live.jsonl")
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 2
    assert b"not a regular file or folder" in done.stderr


def test_a_file_named_twice_counts_once(tmp_path: Path) -> None:
    results = _one_file(tmp_path)
    once = len(load([str(results)]))
    (tmp_path / "hard.jsonl").hardlink_to(results)
    spellings = [
        str(results),
        str(results.parent / "." / results.name),
        str(tmp_path / "hard.jsonl"),
    ]
    assert len(load(spellings)) == once
    assert len(load([str(results.parent), str(results)])) == len(load([str(results.parent)]))


# --- record fields -------------------------------------------------------------------------------


def test_year_zero_is_refused_and_nanoseconds_are_read(tmp_path: Path) -> None:
    records = _lines(_one_file(tmp_path))
    records[1]["measured_at"] = "2026-11-27T09:00:00.123456789Z"
    frame = load([str(_write(tmp_path / "ns.jsonl", records))])
    assert str(frame["ts"].iloc[1]) == "2026-11-27 09:00:00.123456+00:00"
    records[1]["measured_at"] = "0000-01-01T00:00:00Z"
    bad = str(_write(tmp_path / "y0.jsonl", records))
    message = _refused(["report", bad, "--format", "md"])
    assert f"{bad}:2: measured_at: not a real date and time" in message


def test_unknown_technique_and_missing_schema_version_are_named(tmp_path: Path) -> None:
    records = _lines(_one_file(tmp_path))
    records[2]["technique"] = "dns-magic"
    bad = str(_write(tmp_path / "t.jsonl", records))
    assert f"{bad}:3: technique: unknown technique 'dns-magic'" in _refused(["report", bad])
    records = _lines(_one_file(tmp_path))
    del records[0]["schema_version"]
    bad = str(_write(tmp_path / "v.jsonl", records))
    assert f"{bad}:1: schema_version: not a netcheck result: missing" in _refused(["report", bad])


def test_a_byte_order_mark_is_read_as_classify_reads_it(tmp_path: Path) -> None:
    results = _one_file(tmp_path)
    marked = tmp_path / "bom.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + results.read_bytes())
    assert len(load([str(marked)])) == len(load([str(results)]))
    assert _run(["classify", str(marked)])[0] in (0, 1)


# --- Parquet record files ------------------------------------------------------------------------


def _part(tmp_path: Path) -> Path:
    ingest.write_dataset(load([str(write_scenario(tmp_path / "r"))]), tmp_path / "ds")
    return next((tmp_path / "ds").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("column", "values", "named"),
    [
        ("tcp_ms", lambda n: ["fast"] * n, "tcp_ms is string"),
        ("goodput_mbps", lambda n: ["x"] * n, "goodput_mbps is string"),
        ("official", lambda n: ["yes"] * n, "official is string"),
        ("intercepted", lambda n: [5] * n, "intercepted is int64"),
        ("evidence", lambda n: [["a"]] * n, "evidence is list"),
        ("batch_seq", lambda n: [2.5] * n, "batch_seq is double"),
    ],
)
def test_a_parquet_column_of_the_wrong_kind_is_named(
    tmp_path: Path, column: str, values: object, named: str
) -> None:
    part = _part(tmp_path)
    table = pq.read_table(part)
    array = pa.array(values(len(table)))  # type: ignore[operator]
    if column in table.column_names:
        table = table.set_column(table.schema.get_field_index(column), column, array)
    else:
        table = table.append_column(column, array)
    pq.write_table(table, part)
    message = _refused(["report", str(part), "--audience", "audit", "--format", "html"])
    assert f"{part}: {column}: not a netcheck record table: {named}" in message


def test_parquet_rows_are_named_and_sha256_is_required(tmp_path: Path) -> None:
    part = _part(tmp_path)
    table = pq.read_table(part)
    shas = table.column("sha256").to_pylist()
    shas[2] = None
    index = table.schema.get_field_index("sha256")
    pq.write_table(table.set_column(index, "sha256", pa.array(shas, pa.string())), part)
    message = _refused(["report", str(part), "--audience", "audit", "--format", "html"])
    assert f"{part}:3: sha256: not a netcheck result: missing" in message


# --- classify reads as strictly as report ------------------------------------------------------


RESULTS_FILE = ROOT / "sample_results" / "lab" / "clean.jsonl"
RESULTS_LINE = RESULTS_FILE.read_text().splitlines()[0]


def _classify_refuses(tmp_path: Path, line: str, named: str) -> None:
    """classify (output.parse_line) refuses the line at its field, as report does."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(RESULTS_LINE + "\n" + line + "\n")
    before = bad.read_bytes()
    assert f"{bad}:2: {named}" in _refused(["classify", str(bad)])
    assert bad.read_bytes() == before


def _edit(change: Callable[[dict[str, Any]], object]) -> str:
    record = json.loads(RESULTS_LINE)
    change(record)
    return json.dumps(record)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (_edit(lambda r: r.update(intercepted=1)), "intercepted: not a netcheck result: "),
        (_edit(lambda r: r.update(intercepted="yes")), "intercepted: not a netcheck result: "),
        (_edit(lambda r: r["target"].update(official=1)), "target.official: not a netcheck"),
        (_edit(lambda r: r.update(runtime_ms=math.nan)), "runtime_ms: not a netcheck result: "),
        (
            _edit(lambda r: r["steps"]["tcp"][0].update(t0_ms=-math.inf)),
            "steps.tcp[0].t0_ms: not a netcheck result: ",
        ),
        (
            _edit(lambda r: r["steps"]["tcp"][0].update(runtime_ms=12.3456)).replace(
                "12.3456", "1e999"
            ),
            "steps.tcp[0].runtime_ms: not a netcheck result: ",
        ),
        (
            _edit(lambda r: r.pop("schema_version")),
            "schema_version: not a netcheck result: missing",
        ),
    ],
    ids=["int-bool", "str-bool", "int-official", "nan", "inf", "1e999", "no-version"],
)
def test_classify_refuses_what_report_refuses(tmp_path: Path, line: str, named: str) -> None:
    _classify_refuses(tmp_path, line, named)
    bad = tmp_path / "bad.jsonl"
    assert _refused(["report", str(bad)]).startswith(f"netcheck: error: {bad}:2: ")


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (RESULTS_LINE[:-1] + ',"verdict":"blocked"}', "verdict: not a netcheck result: duplicate"),
        (
            RESULTS_LINE.replace('"service":', '"service":"other","service":', 1),
            "target.service: not a netcheck result: duplicate key 'service'",
        ),
        (
            RESULTS_LINE.replace('"failure":', '"failure":null, "failure" :', 1),
            "steps.dns[0].failure: not a netcheck result: duplicate key 'failure'",
        ),
    ],
    ids=["top", "nested", "spaced"],
)
def test_a_key_given_twice_is_refused(tmp_path: Path, line: str, named: str) -> None:
    """JSON readers differ on which of two values wins: classify took the last one."""
    _classify_refuses(tmp_path, line, named)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r.update(evidence="DNS \u001b[31mblocked"), "evidence"),
        (lambda r: r["target"].update(service="a\u0000b"), "target.service"),
        (lambda r: r["probe"].update(network="lan\u0007"), "probe.network"),
        (lambda r: r.update(vendor="acme\u001b]0;x\u0007"), "vendor"),
    ],
    ids=["esc-evidence", "nul-service", "bel-network", "osc-vendor"],
)
def test_control_characters_in_printed_fields_are_refused(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], named: str
) -> None:
    """Escaped in the JSON (a raw one is refused as binary), they reached tables and reports:
    ESC starts a terminal's colour and cursor commands."""
    _classify_refuses(tmp_path, _edit(change), f"{named}: not a netcheck result: control char")


def test_control_characters_in_a_page_body_and_tabs_in_evidence_are_kept(tmp_path: Path) -> None:
    """A body is what the page sent, control characters and all; it is not printed."""
    record = json.loads(RESULTS_LINE)
    record["steps"]["http"][0]["body"] = "<p>\u001b[31m\u0000</p>"
    record["evidence"] = "a\tb"
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(record) + "\n")
    [read] = read_results(str(good))
    assert read.steps.http[0].body == "<p>\u001b[31m\u0000</p>"
    assert _run(["classify", str(good)])[0] in (0, 1)


def test_a_record_with_nan_is_never_written() -> None:
    """The models refuse NaN; a copy made without validation still does not reach a file."""
    read = next(read_results(str(RESULTS_FILE)))
    with pytest.raises(ValueError, match="Out of range float values"):
        dump_line(read.model_copy(update={"runtime_ms": math.nan}))
