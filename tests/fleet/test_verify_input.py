"""``netcheck verify`` on exports and data folders that are damaged, tampered with or empty.

A real collector on loopback stores two signed batches and writes its export; each case changes
the export (or the folder) and checks what ``verify`` answers: exit 2 and one line naming the
export's line and field for a file that is not an export, exit 1 naming the probe for evidence
that was removed, and never a traceback. ``verify`` on a data folder writes nothing to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from netcheck.fleet.evidence import GENESIS, sign_batch
from tests.fleet.support import Collector, netcheck, record
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """(the collector's data folder, the lines of its export)."""
    root = tmp_path_factory.mktemp("verify")
    c = Collector(root / "data").start()
    try:
        probe, key = c.enroll("hq")
        prev = GENESIS
        for seq in (1, 2):
            batch = sign_batch(
                key,
                probe=probe,
                seq=seq,
                prev=prev,
                records=[record("hq") for _ in range(2)],
                sent_at="2026-12-01T00:00:00Z",
            )
            answer = httpx.post(
                c.url + "/v1/batches",
                content=batch.to_wire(),
                headers={"content-type": "application/json", "x-netcheck-probe": probe},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            prev = batch.sha256
    finally:
        c.stop()
    out = root / "export.jsonl"
    done = netcheck("server", "export", "--data", str(c.data), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return c.data, out.read_text(encoding="utf-8").splitlines(keepends=True)


def edit(number: int, change: Callable[[dict[str, object]], object]) -> Callable[[list[str]], None]:
    """Change the JSON of line ``number`` (1-based) of the export."""

    def apply(lines: list[str]) -> None:
        item = json.loads(lines[number - 1])
        change(item)
        lines[number - 1] = json.dumps(item) + "\n"

    return apply


def without(number: int, key: str) -> Callable[[list[str]], None]:
    return edit(number, lambda item: item.pop(key))


BAD: dict[str, tuple[Callable[[list[str]], None], str]] = {
    "probe line without key": (without(1, "public_key"), ":1: public_key:"),
    "key not base64": (edit(1, lambda d: d.update(public_key="!!")), ":1: public_key:"),
    "probe id a list": (edit(1, lambda d: d.update(probe=["x"])), ":1: probe:"),
    "seq a string": (edit(2, lambda d: d.update(seq="1")), ":2: seq:"),
    "batch without header": (without(2, "header"), ":2: header:"),
    "header a number": (edit(2, lambda d: d.update(header=5)), ":2: header:"),
    "record line without record": (without(3, "record"), ":3: record:"),
    "index a list": (edit(3, lambda d: d.update(index=[1])), ":3: index:"),
    "duplicate without place": (
        edit(3, lambda d: d.update(type="duplicate", same_as=5)),
        ":3: same_as:",
    ),
    "unknown type": (edit(3, lambda d: d.update(type="note")), ":3: type:"),
    "not utf-8": (lambda lines: lines.insert(3, "\udcff\n"), ":4: netcheck export is not UTF-8"),
    "empty": (lambda lines: lines.clear(), "nothing to verify"),
}


def write(path: Path, lines: list[str]) -> None:
    path.write_bytes("".join(lines).encode("utf-8", "surrogateescape"))


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_file_that_is_not_an_export_is_named_at_its_line(
    evidence: tuple[Path, list[str]], tmp_path: Path, case: str
) -> None:
    damage, where = BAD[case]
    lines = list(evidence[1])
    damage(lines)
    path = tmp_path / "export.jsonl"
    write(path, lines)
    done = netcheck("verify", str(path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"netcheck: error: {path}")
    assert where in done.stderr


def test_removing_the_probe_line_does_not_hide_its_batches(
    evidence: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    write(path, evidence[1][1:])
    done = netcheck("verify", str(path))
    assert done.returncode == 2, done.stderr
    assert "no probe line with its key" in done.stderr


def test_the_untouched_export_verifies(evidence: tuple[Path, list[str]], tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    write(path, evidence[1])
    done = netcheck("verify", str(path))
    assert done.returncode == 0, done.stderr
    assert "checked 4 records in 2 batches of 1 probes" in done.stderr


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder another user can reach (pytest's own are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="netcheck-verify-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs verify as another user: needs root")
def test_verify_of_a_read_only_copy_writes_nothing(
    evidence: tuple[Path, list[str]], outside: Path
) -> None:
    copy = outside / "copy"
    shutil.copytree(evidence[0], copy)
    before = _digests(copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "netcheck", "verify", str(copy)],
        capture_output=True, text=True, timeout=60, check=False, cwd=outside,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _digests(copy) == before


def test_verify_of_a_folder_writes_nothing_beside_the_database(
    evidence: tuple[Path, list[str]], tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(evidence[0], copy)
    names = sorted(p.name for p in copy.iterdir())
    before = _digests(copy)
    done = netcheck("verify", str(copy))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in copy.iterdir()) == names
    assert _digests(copy) == before


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "an empty database"),
        (b"SQLite format 3\x00" + bytes(4000), "cannot open the collector's database"),
        (os.urandom(5000), "cannot open the collector's database"),
    ],
)
def test_a_data_folder_without_evidence_is_exit_2_and_left_alone(
    tmp_path: Path, content: bytes, why: str
) -> None:
    db = tmp_path / "collector.sqlite3"
    db.write_bytes(content)
    done = netcheck("verify", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert why in done.stderr
    assert db.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["collector.sqlite3"]
