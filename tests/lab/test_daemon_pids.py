"""The lab signals only its own daemons: a pid file that is damaged (0, -1, our own pid) or
stale (the daemon died and the pid now belongs to a process started later) names nobody."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.lab.daemons import Daemons


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_pid_file_written_after_its_process_started_names_it(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "squid.pid").write_text(f"{sleeper.pid}\n")
    assert Daemons(tmp_path).pid("squid") == sleeper.pid


@pytest.mark.parametrize("text", ["-1", "0", "1", "own", "x", ""])
def test_a_damaged_pid_file_names_nobody(tmp_path: Path, text: str) -> None:
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "squid.pid").write_text(str(os.getpid()) if text == "own" else text)
    assert Daemons(tmp_path).pid("squid") is None
    Daemons(tmp_path).stop("squid", grace=0.1)  # and stopping it signals nobody (we live on)


def test_a_stale_pid_file_names_nobody(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    """The file is older than the process now holding its pid: that process is not ours."""
    (tmp_path / "pids").mkdir()
    stale = tmp_path / "pids" / "squid.pid"
    stale.write_text(f"{sleeper.pid}\n")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    assert Daemons(tmp_path).pid("squid") is None
    Daemons(tmp_path).stop("squid", grace=0.1)
    assert sleeper.poll() is None  # not signalled
