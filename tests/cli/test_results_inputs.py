"""Results readers and ``report --out`` on the inputs an audit found breaking the contract.

Each case was a traceback (exit 3), a hang, a silently wrong report or a vague line before: a
write that fails on the disk, a named pipe in a results folder, a file named twice, year 0 and
nanosecond times, unknown techniques, a byte-order mark, Parquet record files with columns of
the wrong kind. The contract: exit 2 with one ``netcheck: error:`` line naming file, line and
field, and nothing created or changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.report import ingest
from netcheck.report.load import load
from netcheck.report.samples import write_scenario


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
