"""Reading results for reports: JSON Lines files and folders, hive Parquet datasets, bad input.

The small fleet every ``test_report_*`` file uses is ``netcheck.report.samples.write_scenario``
(re-exported here): two probes (central office, comms office) over three days, with the
ministry's official YouTube channel blocked by the proxy's block page at the central office from
the second day on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from netcheck.errors import InputError
from netcheck.output import dump_line
from netcheck.report import ingest
from netcheck.report.load import load
from netcheck.report.samples import BLOCKPAGE, CHANNEL, DAYS, scenario_results, write_scenario
from tests.support.paths import ROOT

POLICY = str(ROOT / "policies" / "ministerio-ejemplo.yaml")
__all__ = ["BLOCKPAGE", "CHANNEL", "DAYS", "POLICY", "scenario_results", "write_scenario"]


def test_folder_tree_gives_one_row_per_record_with_line_hashes(tmp_path: Path) -> None:
    root = write_scenario(tmp_path / "results")
    frame = load([str(root)], workers=2)
    assert len(frame) == len(scenario_results()) == 42
    row = frame[frame["id"] == "probe-central-01-2026-11-27-youtube-official_channel"].iloc[0]
    assert (row["verdict"], row["technique"], row["vendor"]) == BLOCKPAGE
    assert row["network"] == "central"
    assert bool(row["official"]) is True
    assert row["tcp_ms"] == 20.0
    assert row["date"] == "2026-11-27"
    # sha256 is the hash of the stored line's exact bytes, checkable with sha256sum
    lines = Path(row["file"]).read_bytes().split(b"\n")
    assert hashlib.sha256(lines[row["line"] - 1]).hexdigest() == row["sha256"]
    assert json.loads(lines[row["line"] - 1])["id"] == row["id"]


def test_parquet_dataset_round_trip(tmp_path: Path) -> None:
    frame = load([str(write_scenario(tmp_path / "results"))])
    ingest.write_dataset(frame, tmp_path / "ds")
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == [f"date={d}" for d in DAYS]
    again = load([str(tmp_path / "ds")])
    cols = ["id", "sha256", "verdict", "technique", "network", "date", "tcp_ms", "line"]
    left = frame[cols].astype(str).sort_values("id").reset_index(drop=True)
    right = again[cols].astype(str).sort_values("id").reset_index(drop=True)
    assert left.equals(right)


def test_bad_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    good = dump_line(scenario_results()[0])
    path.write_text(good + "\n\n" + good[:-5] + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load([str(path)])
    assert err.value.file == str(path)
    assert err.value.line == 3


def test_record_missing_a_required_field_is_named(tmp_path: Path) -> None:
    data = json.loads(dump_line(scenario_results()[0]))
    del data["verdict"]
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load([str(path)])
    assert (err.value.line, err.value.field) == (1, "verdict")


def test_missing_path_and_empty_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load([str(tmp_path / "nope")])
    with pytest.raises(InputError):
        load([str(tmp_path)])


def test_truncated_and_wrong_typed_lines_are_named_by_file_line_and_field(tmp_path: Path) -> None:
    good = dump_line(scenario_results()[0])
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text(good + "\n" + good + "\n" + good[: len(good) // 2] + "\n", "utf-8")
    with pytest.raises(InputError) as err:
        load([str(truncated)])
    assert (err.value.file, err.value.line) == (str(truncated), 3)
    assert "not JSON" in err.value.message

    data = json.loads(good)
    data["probe"]["id"] = 17
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(good + "\n" + json.dumps(data) + "\n", "utf-8")
    with pytest.raises(InputError) as err:
        load([str(wrong)])
    assert (err.value.file, err.value.line, err.value.field) == (str(wrong), 2, "probe.id")
    assert str(err.value).startswith(f"{wrong}:2: probe.id: not a netcheck result")

    data = json.loads(good)
    data["steps"]["tcp"][0]["runtime_ms"] = "fast"
    wrong.write_text(json.dumps(data) + "\n", "utf-8")
    with pytest.raises(InputError) as err:
        load([str(wrong)])
    assert (err.value.line, err.value.field) == (1, "steps.tcp[0].runtime_ms")


def test_crlf_and_blank_lines_keep_line_numbers_and_hashes(tmp_path: Path) -> None:
    lines = [dump_line(r) for r in scenario_results()[:3]]
    path = tmp_path / "r.jsonl"
    path.write_bytes(("\r\n".join([lines[0], "", "  ", lines[1], lines[2]]) + "\r\n").encode())
    frame = load([str(path)]).sort_values("line")
    assert frame["line"].tolist() == [1, 4, 5]
    expected = [hashlib.sha256(line.encode()).hexdigest() for line in lines]
    assert frame["sha256"].tolist() == expected


def test_worker_processes_give_the_same_table_and_locate_bad_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netcheck.report import load as loader

    root = write_scenario(tmp_path / "results")
    alone = load([str(root)], workers=1)
    monkeypatch.setattr(loader, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(loader, "TASK_BYTES", 1)  # one file per task: several tasks per worker
    pooled = load([str(root)], workers=2)
    assert alone.astype(str).equals(pooled.astype(str))
    assert len(pooled) == 42
    assert pooled["file"].nunique() > 2

    bad = sorted(root.rglob("*.jsonl"))[-1]
    text = bad.read_text("utf-8").splitlines()
    text[1] = text[1].replace('"verdict":"', '"verdict":1,"x":"', 1)
    bad.write_text("\n".join(text) + "\n", "utf-8")
    with pytest.raises(InputError) as err:
        load([str(root)], workers=2)
    assert (err.value.file, err.value.line, err.value.field) == (str(bad), 2, "verdict")


# --- what is not a record, and folders that hold more than records --------------------------------


def _one_line(tmp_path: Path, line: bytes, name: str = "r.jsonl") -> Path:
    good = dump_line(scenario_results()[0]).encode()
    path = tmp_path / name
    path.write_bytes(good + b"\n" + line + b"\n" + good + b"\n")
    return path


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (b'{"id": "\xff\xfe"}', None, "not UTF-8"),
        (b'{"id": "a\x00b"}', None, "NUL"),
        (b"[" * 100_000 + b"]" * 100_000, None, "not a netcheck result"),
        (b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None, "nested too deeply"),
    ],
)
def test_bytes_that_are_not_json_lines_are_named_at_their_line(
    tmp_path: Path, line: bytes, field: str | None, words: str
) -> None:
    path = _one_line(tmp_path, line)
    with pytest.raises(InputError) as err:
        load([str(path)])
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 2, field)
    assert words in err.value.message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"schema_version": "9.9"}, "schema_version", "unknown schema_version '9.9'"),
        ({"measured_at": "yesterday"}, "measured_at", "ISO 8601 UTC"),
        ({"measured_at": "2026-11-28T09:00:00+02:00"}, "measured_at", "ISO 8601 UTC"),
        ({"measured_at": "2026-13-45T09:00:00Z"}, "measured_at", "not a real date"),
        ({"evidence": "x" * (9 * 2**20)}, None, "line longer than"),
    ],
)
def test_records_from_elsewhere_are_refused_by_both_readers(
    tmp_path: Path, change: dict[str, str], field: str | None, words: str
) -> None:
    from netcheck.output import read_results

    data = json.loads(dump_line(scenario_results()[0]))
    data.update(change)
    path = _one_line(tmp_path, json.dumps(data).encode())
    with pytest.raises(InputError) as fast:
        load([str(path)])
    with pytest.raises(InputError) as full:
        list(read_results(str(path)))
    for err in (fast.value, full.value):
        assert (err.file, err.line, err.field) == (str(path), 2, field)
        assert words in err.message


def test_a_named_empty_file_is_an_error_but_one_in_a_folder_is_skipped(tmp_path: Path) -> None:
    from netcheck.output import read_results

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n \n")
    for read in (load, lambda paths: list(read_results(paths[0]))):
        with pytest.raises(InputError, match="no records"):
            read([str(empty)])
    root = write_scenario(tmp_path / "results")
    (root / "started-but-empty.jsonl").write_text("")
    assert len(load([str(root)])) == 42


def test_sample_results_folder_reads_the_records_and_skips_the_reports() -> None:
    # sample_results/ holds lab/*.jsonl, a fleet (the collector's Parquet archive and its
    # evidence export) and reports/ (HTML, CSV, Parquet tables of findings, and the lab's records
    # again as a Parquet dataset): the records count once, the rest is skipped
    whole = load([str(ROOT / "sample_results")])
    lab = load([str(ROOT / "sample_results" / "lab")])
    fleet = load([str(ROOT / "sample_results" / "fleet" / "records")])
    assert len(whole) == len(lab) + len(fleet)
    assert len(lab) > 0
    assert len(fleet) > 0
    assert sorted(whole["id"]) == sorted([*lab["id"], *fleet["id"]])
    dataset = load([str(ROOT / "sample_results" / "reports" / "audit-parquet" / "records")])
    assert sorted(dataset["sha256"]) == sorted(lab["sha256"])


def test_a_collector_export_is_not_records(tmp_path: Path) -> None:
    export = ROOT / "sample_results" / "fleet" / "export.jsonl"
    with pytest.raises(InputError) as err:
        load([str(export)])
    assert "netcheck verify" in err.value.message
    copy = tmp_path / "folder" / "export.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(export.read_bytes())
    (tmp_path / "folder" / "r.jsonl").write_bytes(
        (ROOT / "sample_results" / "lab" / "clean.jsonl").read_bytes()
    )
    assert len(load([str(tmp_path / "folder")])) == len(
        load([str(ROOT / "sample_results" / "lab" / "clean.jsonl")])
    )


def test_what_is_not_records_stops_with_what_to_pass(tmp_path: Path) -> None:
    reports = ROOT / "sample_results" / "reports"
    for path in (reports / "audit-csv", reports / "audit-parquet" / "findings.parquet"):
        with pytest.raises(InputError) as err:
            load([str(path)])
        assert "pass the .jsonl files" in err.value.message
    fake = tmp_path / "x.parquet"
    fake.write_bytes(b"PAR1" + b"\x00" * 100)
    with pytest.raises(InputError, match="not a readable Parquet file"):
        load([str(fake)])
    jsonl_as_parquet = tmp_path / "y.jsonl"
    part = next((reports / "audit-parquet" / "records").rglob("*.parquet"))
    jsonl_as_parquet.write_bytes(part.read_bytes())
    with pytest.raises(InputError) as err:
        load([str(jsonl_as_parquet)])
    assert err.value.line == 1


def test_a_parquet_record_file_is_checked_like_json_lines(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = load([str(write_scenario(tmp_path / "results"))])
    ingest.write_dataset(frame, tmp_path / "ds")
    part = next((tmp_path / "ds").rglob("*.parquet"))
    table = pq.read_table(part)
    times = table.column("measured_at").to_pylist()
    times[1] = "yesterday"
    index = table.schema.get_field_index("measured_at")
    pq.write_table(table.set_column(index, "measured_at", pa.array(times)), part)
    with pytest.raises(InputError) as err:
        load([str(tmp_path / "ds")])
    assert (err.value.file, err.value.field) == (str(part), "measured_at")
