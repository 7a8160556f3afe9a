"""The error contract at the CLI edge, as a user's script sees it (a real subprocess).

0 all well, 1 something blocked or self-blocking, 2 bad input or flags (one line), 3 an internal
error: one line on stderr naming the exception and the file that holds the traceback (under the
user's log directory, else the temp directory, never the current one). Internal errors are
provoked on purpose by replacing a library function inside the subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CRASH_LINE = re.compile(
    r"^netcheck: internal error: RuntimeError: boom from the catalogue; details in (\S+)$"
)


def crash(
    tmp_path: Path,
    env_extra: dict[str, str],
    raised: str = "RuntimeError('boom from\\nthe catalogue')",
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``netcheck targets list`` whose catalogue loader raises ``raised`` (by default an
    internal error, not input)."""
    script = (
        "import sys\n"
        "import netcheck.cli.targets_cmd as cmd\n"
        "def broken(*args, **kwargs):\n"
        f"    raise {raised}\n"
        "cmd.load_targets = broken\n"
        "sys.argv = ['netcheck', 'targets', 'list']\n"
        "from netcheck.cli import main\n"
        "main()\n"
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env_extra}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        check=False,
    )
    return done, cwd


def test_internal_error_is_exit_3_one_line_and_a_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done, cwd = crash(tmp_path, {"XDG_STATE_HOME": str(state), "HOME": str(tmp_path)})
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    found = CRASH_LINE.match(lines[0])
    assert found, lines[0]
    details = Path(found.group(1))
    assert details.is_relative_to(state / "netcheck"), details
    text = details.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: boom from" in text
    assert "'targets', 'list'" in text  # the command line that crashed
    assert list(cwd.iterdir()) == []  # nothing written where the user stands


def test_unwritable_log_dir_falls_back_to_the_temp_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory would go")
    temp = tmp_path / "tmp"
    temp.mkdir()
    done, cwd = crash(tmp_path, {"XDG_STATE_HOME": str(blocker), "TMPDIR": str(temp)})
    assert done.returncode == 3, done.stderr
    found = CRASH_LINE.match(done.stderr.strip())
    assert found, done.stderr
    assert Path(found.group(1)).parent == temp
    assert Path(found.group(1)).exists()
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["targets", "list", "--service", "nosuch"], 2),  # bad input: InputError
        (["targets", "list", "--nosuch-flag"], 2),  # usage error from click
        (["nosuch-command"], 2),
        (["--version"], 0),
    ],
)
def test_input_and_usage_errors_stay_exit_2(args: list[str], code: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr


RESULTS = str(
    Path(__file__).resolve().parents[2] / "sample_results" / "lab" / "proxy-blockpage.jsonl"
)


@pytest.mark.parametrize(
    "args",
    [
        ["targets", "list", "--targets", "{f}"],
        ["policy", "validate", "{f}"],
        ["policy", "import", "squid", "{f}"],
        ["classify", "{f}"],
        ["classify", RESULTS, "--fingerprints", "{f}"],
        ["report", "{f}", "--format", "md", "--out", "{out}"],
        ["verify", "{f}"],
    ],
)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path: Path, args: list[str]) -> None:
    """A FIFO with no writer would make a reader wait for ever, /dev/zero would never end:
    every reader opens without blocking and refuses what is not a regular file."""
    fifo = tmp_path / "input.yaml"
    os.mkfifo(fifo)
    out = tmp_path / "out.md"
    for path in (str(fifo), "/dev/zero"):
        argv = [a.format(f=path, out=out) for a in args]
        done = subprocess.run(
            [sys.executable, "-m", "netcheck", *argv],
            capture_output=True,
            text=True,
            timeout=60,  # the bug being tested is a hang: the timeout fails the test
            check=False,
        )
        assert done.returncode == 2, (argv, done.stderr)
        assert done.stderr.startswith(f"netcheck: error: {path}"), done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert not out.exists()


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        ("PermissionError(13, 'Permission denied', '/srv/x.yaml')", 2, "/srv/x.yaml: Permission"),
        ("IsADirectoryError(21, 'Is a directory', '/srv/out')", 2, "/srv/out: Is a directory"),
        ("PermissionError('no file named')", 3, "internal error: PermissionError"),
    ],
)
def test_a_path_the_account_may_not_use_is_exit_2(
    tmp_path: Path, raised: str, code: int, line: str
) -> None:
    """Wherever a reader meets it (root cannot be refused, so the error is raised here): a
    path this account may not read or write is the user's input; without a path it is ours."""
    done, _ = crash(tmp_path, {"XDG_STATE_HOME": str(tmp_path)}, raised)  # crash files go there
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    prefix = "netcheck: " if code == 3 else "netcheck: error: "
    assert done.stderr.startswith(prefix + line), done.stderr
