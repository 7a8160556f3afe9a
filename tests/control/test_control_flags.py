"""``control serve``'s token file and flags, wrong: exit 2, one line, before any socket.

The token file is read with a cap and refused when it is a FIFO or a device (which would hang
or fill memory), empty, binary, or too short to be a secret. Numeric flags refuse NaN and
infinity (click's ranges let them through) and values so large that a limit is no limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.control.client import read_token
from netcheck.errors import InputError
from tests.support.paths import ROOT

GOOD = "a-good-control-token-0123456789"


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("fifo", "not a regular file"),
        ("device", "not a regular file"),
        ("huge", "larger than"),
        ("short", "shorter than 16"),
        ("nul", "one printable word"),
        ("latin1", "not UTF-8"),
        ("empty", "empty"),
    ],
)
def test_a_token_file_that_is_no_token_is_refused(tmp_path: Path, kind: str, words: str) -> None:
    path = tmp_path / "token"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        content = {
            "huge": b"a" * 50_000,
            "short": b"a\n",
            "nul": b"abcdefgh\x00ijklmnopq\n",
            "latin1": b"contrase\xf1a-de-prueba-larga\n",
            "empty": b"\n \n",
        }[kind]
        path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_token(str(path), field="--token-file")
    assert caught.value.field == "--token-file"
    assert caught.value.file == str(path)
    assert words in caught.value.message


def test_a_token_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\r\n")
    assert read_token(str(path)) == GOOD


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--rate", "nan"),
        ("--max-urls", "99999999999"),
        ("--max-bytes", str(10**12)),
        ("--burst", str(10**9)),
        ("--bind", "127.0.0.1:+5"),
    ],
)
def test_serve_refuses_a_value_that_is_no_limit(tmp_path: Path, flag: str, value: str) -> None:
    token = tmp_path / "token"
    token.write_text(GOOD + "\n")
    args = ["--bind", "127.0.0.1:0", "--token-file", str(token)]
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", "control", "serve", *args, flag, value],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"netcheck: error: {flag}:" in done.stderr
