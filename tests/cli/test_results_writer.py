"""`--out` of `run` (and `agent run`, `browse`: the same writer) when the results file cannot be
written: a full disk, a file size limit, a folder that does not exist, a named pipe nobody reads.

The contract of issue 12: exit 2, one ``netcheck: error:`` line naming the file and ``--out``,
and nothing created or changed (no half line appended to an existing file, no new empty file,
no folder made). Before, a failed write was an internal error (exit 3) and a missing folder was
made. The only target is a closed port on 127.0.0.1 (an IP literal: no DNS) with `--proxy none`,
so nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.errors import InputError
from netcheck.output import JsonlWriter, read_results
from tests.cli.test_cli import netcheck  # the command in a subprocess, proxy variables unset
from tests.support.paths import ROOT
from tests.targets.support import LOOPBACK, RESULTS, digest, one_line

RUN = ["run", "--no-catalogue", "--targets", "t.yaml", "--proxy", "none"]


@contextlib.contextmanager
def _file_limit(size: int) -> Iterator[None]:
    """No file a process started meanwhile writes may grow past ``size`` bytes (RLIMIT_FSIZE,
    inherited: a write beyond fails with EFBIG, as on a full disk, part of it written)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    before = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG rather than a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, before)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "t.yaml").write_text(LOOPBACK)
    return tmp_path


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_full_disk_is_one_line_and_exit_2(folder: Path) -> None:
    proc = netcheck(*RUN, "--out", "/dev/full", cwd=folder)
    one_line(proc, "/dev/full: --out: cannot write the results: No space left on device")
    assert proc.stdout == ""


def test_a_failed_write_leaves_an_existing_file_as_it_was(folder: Path) -> None:
    out = folder / "old.jsonl"
    out.write_bytes(RESULTS.read_bytes())
    before = digest(folder)
    # room for a part of the record: that part is taken back
    with _file_limit(out.stat().st_size + 100):
        proc = netcheck(*RUN, "--out", "old.jsonl", cwd=folder)
    one_line(proc, "old.jsonl: --out: cannot write the results: File too large")
    assert digest(folder) == before
    assert len(list(read_results(str(out)))) == len(RESULTS.read_text().splitlines())


def test_a_failed_first_write_leaves_no_new_file(folder: Path) -> None:
    before = digest(folder)
    with _file_limit(100):
        proc = netcheck(*RUN, "--out", "new.jsonl", cwd=folder)
    one_line(proc, "new.jsonl: --out: cannot write the results: File too large")
    assert digest(folder) == before
    assert not (folder / "new.jsonl").exists()


def test_an_out_in_a_missing_folder_is_refused_and_nothing_is_made(folder: Path) -> None:
    before = sorted(folder.rglob("*"))
    proc = netcheck(*RUN, "--out", "missing/deeper/x.jsonl", cwd=folder)
    one_line(proc, "missing/deeper/x.jsonl: --out: ", "the folder missing/deeper does not exist")
    assert sorted(folder.rglob("*")) == before


def test_the_default_results_folder_is_made(folder: Path) -> None:
    proc = netcheck(*RUN, cwd=folder)
    assert proc.returncode in (0, 1), proc.stderr  # the closed port: blocked, or no route
    [written] = (folder / "results").glob("netcheck-*.jsonl")
    assert len(list(read_results(str(written)))) == 1


def test_a_named_pipe_nobody_reads_is_refused_at_once(folder: Path) -> None:
    os.mkfifo(folder / "pipe")
    proc = netcheck(*RUN, "--out", "pipe", cwd=folder)  # opening it for writing used to block
    one_line(proc, "pipe: --out: cannot write the results: a named pipe that nothing reads")


def test_a_pipe_is_written_without_being_synced(folder: Path) -> None:
    """fsync on a pipe is EINVAL: ``--out /dev/stdout | ...`` was an internal error."""
    proc = netcheck(*RUN, "--out", "/dev/stdout", cwd=folder)
    assert proc.returncode in (0, 1), proc.stderr  # the closed port: blocked, or no route
    assert '"service":"lo"' in proc.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_the_writer_says_its_error_again_on_close() -> None:
    """A write's InputError may leave a task group wrapped in an ExceptionGroup: the caller's
    ``finally: writer.close()`` raises it again, unwrapped."""
    record = next(read_results(str(RESULTS)))
    writer = JsonlWriter(Path("/dev/full"))
    with pytest.raises(InputError) as first:
        writer.write(record)
    with pytest.raises(InputError) as again:
        writer.write(record)  # no second attempt at a file that failed
    with pytest.raises(InputError) as closing:
        writer.close()
    assert first.value is again.value is closing.value
    assert str(first.value).startswith("/dev/full: --out: cannot write the results:")


@pytest.mark.parametrize(
    ("held", "why"),
    [
        (b"a" * 5_000_000, "does not start with a record"),
        (b"# netcheck report\n\nsomething\n", "does not start with a record"),
        (b'{"schema_version": "1.0", "id": "x"', "its last line is cut short"),
    ],
)
def test_an_out_that_holds_something_else_is_refused_untouched(
    tmp_path: Path, held: bytes, why: str
) -> None:
    """Records are appended to --out: a file of anything else would get one glued to its
    last line. Refused before anything is measured, the file left as it was."""
    out = tmp_path / "x.jsonl"
    out.write_bytes(held)
    with pytest.raises(InputError) as caught:
        JsonlWriter(out)
    assert caught.value.field == "--out"
    assert why in caught.value.message
    assert out.read_bytes() == held


def test_an_out_netcheck_wrote_is_appended_to(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    first = (ROOT / "sample_results" / "lab" / "clean.jsonl").read_bytes().splitlines(True)[0]
    out.write_bytes(first)
    JsonlWriter(out).close()
    assert out.read_bytes() == first


@pytest.mark.parametrize(
    ("control", "specs", "named"),
    [
        ("http://c/big", (), "--bandwidth-control"),
        (None, ("youtube=http://y/big",), "--bandwidth-url"),
    ],
)
def test_a_bandwidth_flag_without_bandwidth_is_named(
    control: str | None, specs: tuple[str, ...], named: str
) -> None:
    from netcheck.runner import goodput_for

    with pytest.raises(InputError) as caught:
        goodput_for(False, control, specs)
    assert caught.value.field == named
