"""Every command that reads a file, fed damaged files: no traceback, exit 0/1/2, --out untouched.

Property-based (hypothesis, derandomized so CI sees the same examples every run): each command
gets real sample files (results from ``sample_results/``, the test targets, fingerprints,
policies and configs) mutated the ways real files go wrong — byte flips, truncation, NUL bytes,
invalid UTF-8, a stray quote, deep nesting, a huge field, emptiness, random bytes — and must
answer with an exit code of the contract (0, 1, or 2 with one ``netcheck: error:`` line), never
an exception. ``report`` runs with an existing ``--out`` (and with ``--out`` naming the input
itself): when the command does not succeed, that file keeps its content and its mtime.

``run`` is only ever given ``--function no-such-function``: whatever the targets file holds, the
run stops at input validation before any packet (and sockets are disabled to prove it).
"""

from __future__ import annotations

import os
import socket
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from netcheck.cli import app
from tests.support.paths import ROOT, TESTS

RESULTS = b"".join(
    (ROOT / "sample_results" / "lab" / "proxy-blockpage.jsonl").read_bytes().splitlines(True)[:3]
)
OONI = (
    b"name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
    b"expected_countries,source,exp_url,notes\n"
    b"prs_acme_filter,prod,,body,contains,ACME NetGuard,true,,,,\n"
    b'prs_fortinet,prod,,header.location,regexp,"^https?://[^/]+:8008/",true,,,,"a, note"\n'
    b"nat_sinkhole,prod,,dns,full,203.0.113.66,true,,,,\n"
)
FP_YAML = (
    b"fingerprints:\n"
    b"  - {id: gw, vendor: agency-gw, scope: title, match: full, pattern: Bloqueo SGI}\n"
    b"  - {id: gw2, vendor: agency-gw, scope: body, match: regex, pattern: 'bloq(ueo|ued)'}\n"
)
POLICY = ROOT / "policies" / "ministerio-ejemplo.yaml"
SEEDS: dict[str, bytes] = {
    "results": RESULTS,
    "targets_yaml": (TESTS / "data" / "targets" / "agency.yaml").read_bytes(),
    "targets_csv": (TESTS / "data" / "targets" / "citizenlab.csv").read_bytes(),
    "fingerprints_csv": OONI,
    "fingerprints_yaml": FP_YAML,
    "policy": POLICY.read_bytes(),
    "squid": (TESTS / "data" / "policy" / "squid-agency.conf").read_bytes(),
    "pac": (TESTS / "data" / "policy" / "proxy.pac").read_bytes(),
    "rpz": (TESTS / "data" / "policy" / "rpz.zone").read_bytes(),
    "hosts": (TESTS / "data" / "policy" / "hosts.txt").read_bytes(),
    "adblock": (TESTS / "data" / "policy" / "adblock.txt").read_bytes(),
}
FUZZ = settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# --- mutations -----------------------------------------------------------------------------------


def _deep_yaml(depth: int) -> bytes:
    return b"".join(b"  " * i + b"k:\n" for i in range(depth)) + b"  " * depth + b"v\n"


@st.composite
def _mutation(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(
        st.sampled_from(
            ["flip", "truncate", "nul", "utf8", "quote", "deep", "huge", "empty", "random", "line"]
        )
    )
    at = draw(st.integers(0, len(data)))
    if kind == "flip" and data:
        spot = min(at, len(data) - 1)
        return data[:spot] + bytes([data[spot] ^ draw(st.integers(1, 255))]) + data[spot + 1 :]
    if kind == "truncate":
        return data[:at]
    if kind == "nul":
        return data[:at] + b"\x00" + data[at:]
    if kind == "utf8":
        return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80"])) + data[at:]
    if kind == "quote":
        return data[:at] + b'"' + data[at:]
    if kind == "deep":
        n = draw(st.sampled_from([100, 3000, 100_000]))
        nested = draw(st.sampled_from([b"[" * n + b"]" * n, b"{" * n, _deep_yaml(min(n, 3000))]))
        return data[:at] + nested + data[at:]
    if kind == "huge":
        size = draw(st.sampled_from([70_000, 1_100_000, 9_000_000]))
        return data[:at] + b"x" * size + data[at:]
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"  \n\n", b"\xef\xbb\xbf"]))
    if kind == "random":
        return draw(st.binary(max_size=600))
    # a whole line of the file repeated or dropped
    lines = data.splitlines(True)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    return b"".join(lines[:i] + (lines[i : i + 1] * 2 if draw(st.booleans()) else lines[i + 1 :]))


def damaged(seed: str) -> st.SearchStrategy[bytes]:
    """A seed file with one to three mutations applied, one after the other."""
    base = SEEDS[seed]

    @st.composite
    def chain(draw: st.DrawFn) -> bytes:
        data = base
        for _ in range(draw(st.integers(1, 3))):
            data = draw(_mutation(data))
        return data

    return chain()


# --- running the CLI -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may send a packet: any connect or send is a test failure."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a fuzzed command tried to use the network")

    for name in ("connect", "connect_ex", "sendto", "send", "sendall"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def invoke(args: list[str]) -> int:
    """Run ``netcheck ARGS`` in-process; fail on anything but a contract exit."""
    done = CliRunner().invoke(app, args, catch_exceptions=True)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        trace = "".join(traceback.format_exception(done.exception))
        pytest.fail(f"netcheck {' '.join(args)[:300]} crashed:\n{trace}")
    text = done.output  # click 8.2+: stdout and stderr, interleaved
    assert done.exit_code in (0, 1, 2), (args, done.exit_code, text[-2000:])
    assert "Traceback" not in text, text[-2000:]
    if done.exit_code == 2:
        errors = [line for line in text.splitlines() if line.startswith("netcheck: error:")]
        assert len(errors) == 1, text[-2000:]
    return done.exit_code


def _with_file(data: bytes, suffix: str, run: Callable[[str, Path], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        run(str(path), Path(tmp))


def _fuzz(seed: str, suffix: str, args: Callable[[str], list[str]]) -> Callable[..., None]:
    @FUZZ
    @given(data=damaged(seed))
    def test(data: bytes) -> None:
        _with_file(data, suffix, lambda path, _: invoke(args(path)) and None)

    return test


# --- the readers, one command each ---------------------------------------------------------------

test_targets_list = _fuzz("targets_yaml", ".yaml", lambda f: ["targets", "list", "--targets", f])
test_targets_list_csv = _fuzz(
    "targets_csv", ".csv", lambda f: ["targets", "list", "--targets", f, "--json"]
)
test_classify = _fuzz("results", ".jsonl", lambda f: ["classify", f])
test_fingerprints_csv = _fuzz(
    "fingerprints_csv", ".csv", lambda f: ["classify", _results_file(), "--fingerprints", f]
)
test_fingerprints_yaml = _fuzz(
    "fingerprints_yaml", ".yaml", lambda f: ["classify", _results_file(), "--fingerprints", f]
)
test_check_results = _fuzz("results", ".jsonl", lambda f: ["check", f, "--policy", str(POLICY)])
test_check_policy = _fuzz("policy", ".yaml", lambda f: ["check", _results_file(), "--policy", f])
test_policy_validate = _fuzz("policy", ".yaml", lambda f: ["policy", "validate", f])
test_policy_explain = _fuzz(
    "policy", ".yaml", lambda f: ["policy", "explain", f, "https://www.youtube.com/"]
)


@pytest.mark.parametrize("fmt", ["squid", "pac", "rpz", "hosts", "adblock"])
def test_policy_import(fmt: str) -> None:
    suffix = {"pac": ".pac", "rpz": ".zone", "squid": ".conf"}.get(fmt, ".txt")
    _fuzz(fmt, suffix, lambda f: ["policy", "import", fmt, f])()


@FUZZ
@given(data=damaged("targets_yaml") | damaged("targets_csv"))
def test_run_stops_before_measuring(data: bytes) -> None:
    def run(path: str, _: Path) -> None:
        code = invoke(["run", "--targets", path, "--function", "no-such-function"])
        assert code == 2

    _with_file(data, ".yaml" if data.lstrip().startswith(b"#") else ".txt", run)


def _parquet_records() -> bytes:
    """The seed results as the collector archives them: one Parquet file of records."""
    import io

    import pyarrow.parquet as pq

    from netcheck.report import fastjson

    table = fastjson.table_from_lines(RESULTS.splitlines()).drop_columns(["file_index", "line"])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


SEEDS["parquet"] = _parquet_records()


@st.composite
def _flipped(draw: st.DrawFn, seed: str) -> bytes:
    """Bytes flipped inside the file, its magic numbers kept: a Parquet file whose footer,
    schema (column names) or pages are corrupt, as a bad disk or a cut copy leaves it."""
    data = bytearray(SEEDS[seed])
    for _ in range(draw(st.sampled_from([1, 2, 5, 20]))):
        at = draw(st.integers(4, len(data) - 9))
        data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


@FUZZ
@given(data=damaged("parquet") | _flipped("parquet"))
def test_report_reads_damaged_parquet(data: bytes) -> None:
    def run(path: str, tmp: Path) -> None:
        out = tmp / "audit"
        invoke(["report", path, "--audience", "audit", "--format", "csv", "--out", str(out)])

    _with_file(data, ".parquet", run)


@pytest.mark.parametrize("column", [b"probe_id", b"verdict", b"measured_at"])
def test_report_refuses_parquet_whose_column_names_are_not_utf8(
    tmp_path: Path, column: bytes
) -> None:
    """A footer whose schema names are not UTF-8 (pyarrow raises UnicodeDecodeError there)."""
    data = SEEDS["parquet"]
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    damaged = data[:footer] + data[footer:].replace(column, b"\xad" + column[1:])
    path = tmp_path / "records.parquet"
    path.write_bytes(damaged)
    out = tmp_path / "audit"
    args = ["report", str(path), "--audience", "audit", "--format", "csv", "--out", str(out)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 2, done.output
    assert done.output.startswith(f"netcheck: error: {path}: ")
    assert done.output.count("\n") == 1
    assert not out.exists()


def _export() -> bytes:
    """A ``server export`` file as the collector writes it: a probe, two signed batches of the
    seed records (the second resending one record of the first, as a duplicate line)."""
    import json

    from netcheck.fleet.evidence import GENESIS, key_fingerprint, new_key, public_b64, sign_batch

    key = new_key()
    records = [json.loads(line) for line in RESULTS.splitlines()]
    lines = [
        {
            "type": "probe",
            "probe": "p1",
            "network": "lab",
            "public_key": public_b64(key),
            "key_fingerprint": key_fingerprint(public_b64(key)),
            "enrolled_at": "2026-12-01T00:00:00Z",
            "revoked_at": None,
        }
    ]
    prev = GENESIS
    for seq, chunk in ((1, records[:2]), (2, records[1:])):
        batch = sign_batch(
            key, probe="p1", seq=seq, prev=prev, records=chunk, sent_at="2026-12-01T00:00:00Z"
        )
        head = {"probe": "p1", "seq": seq, "batch_sha256": batch.sha256, "network": "lab"}
        lines.append(
            {"type": "batch", "probe": "p1", "seq": seq, "sha256": batch.sha256}
            | {"header": batch.header, "signature": batch.signature}
        )
        for index, text in enumerate(batch.records):
            if seq == 2 and index == 0:
                same = {"seq": 1, "index": 1}
                lines.append({"type": "duplicate", **head, "index": index, "same_as": same})
            else:
                lines.append({"type": "record", **head, "index": index, "record": json.loads(text)})
        prev = batch.sha256
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


SEEDS["export"] = _export()


def test_the_export_seed_verifies(tmp_path: Path) -> None:
    """The fuzz below starts from evidence that checks, so its mutations test the checks."""
    path = tmp_path / "export.jsonl"
    path.write_bytes(SEEDS["export"])
    assert invoke(["verify", str(path)]) == 0


@FUZZ
@given(data=damaged("export"))
def test_verify_reads_damaged_exports(data: bytes) -> None:
    _with_file(data, ".jsonl", lambda path, _: invoke(["verify", path]) and None)


@FUZZ
@given(data=damaged("results"), fmt=st.sampled_from(["md", "html"]))
def test_report_never_touches_an_existing_out(data: bytes, fmt: str) -> None:
    def run(path: str, tmp: Path) -> None:
        out = tmp / f"report.{fmt}"
        out.write_text("precious\n")
        os.utime(out, ns=(1_000_000_000, 1_000_000_000))
        if invoke(["report", path, "--format", fmt, "--out", str(out)]) != 0:
            assert out.read_text() == "precious\n"
            assert out.stat().st_mtime_ns == 1_000_000_000
        # --out naming the input itself is refused, whatever the input holds
        before = Path(path).read_bytes()
        assert invoke(["report", path, "--format", fmt, "--out", path]) == 2
        assert Path(path).read_bytes() == before
        assert sorted(p.name for p in tmp.iterdir()) == ["input.jsonl", f"report.{fmt}"]

    _with_file(data, ".jsonl", run)


# --- helpers -------------------------------------------------------------------------------------

_KEEP = tempfile.TemporaryDirectory(prefix="netcheck-fuzz-")  # removed when the module goes


def _results_file() -> str:
    """A valid results file for commands whose other input is the one being fuzzed."""
    path = Path(_KEEP.name) / "results.jsonl"
    if not path.exists():
        path.write_bytes(RESULTS)
    return str(path)


# --- the cases the issue names, answered exactly ------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [({"schema_version": "9.9"}, "schema_version"), ({"measured_at": "yesterday"}, "measured_at")],
)
def test_classify_refuses_unknown_versions_and_bad_times(
    tmp_path: Path, change: dict[str, str], field: str
) -> None:
    import json

    lines = RESULTS.decode().splitlines()
    record = json.loads(lines[1])
    record.update(change)
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(record), lines[2]]) + "\n")
    done = CliRunner().invoke(app, ["classify", str(path)])
    assert done.exit_code == 2
    assert done.output.startswith(f"netcheck: error: {path}:2: {field}: ")
    assert done.output.count("\n") == 1
