"""The collector's flags and its data folder's files, wrong: exit 2, one line, nothing made.

``server serve`` checks everything it can before it makes the data folder: the address it
listens on (a name that does not resolve, an address not on this machine), the TLS pair, the
rate. The secrets it keeps in the folder are checked on every start: an empty or truncated
``admin.token`` would let anyone read ``/metrics`` with ``Authorization: Bearer``. ``server
export`` never writes into the data folder, whatever the spelling of ``--out``.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleet.support import netcheck
from tests.support.paths import ROOT


def serve(data: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """``server serve`` that must stop by itself (every case here is refused at start)."""
    return subprocess.run(
        [sys.executable, "-m", "netcheck", "server", "serve", "--data", str(data), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def one_error(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("netcheck: error: ")
    for part in parts:
        assert part in lines[0]


@pytest.mark.parametrize(
    ("bind", "why"),
    [
        ("127.0.0.1:+5", "not HOST:PORT"),
        ("127.0.0.1:99999", "not HOST:PORT"),
        ("127.0.0.1", "not HOST:PORT"),
        ("", "not HOST:PORT"),
    ],
)
def test_a_malformed_address_is_refused_before_the_folder_is_made(
    tmp_path: Path, bind: str, why: str
) -> None:
    data = tmp_path / "data"
    one_error(serve(data, "--bind", bind), "--bind", why)
    assert not data.exists()


def test_a_port_in_use_is_refused_before_the_folder_is_made(tmp_path: Path) -> None:
    """(uvicorn's own failure came after the folder, database and secrets were made, exit 3
    with its log lines)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        one_error(serve(data, "--bind", f"127.0.0.1:{port}"), "--bind", "cannot listen")
    assert not data.exists()


def test_a_tls_pair_that_does_not_load_is_refused_before_the_folder_is_made(
    tmp_path: Path,
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not PEM\n")
    data = tmp_path / "data"
    done = serve(data, "--bind", "127.0.0.1:0", "--tls-cert", str(junk), "--tls-key", str(junk))
    one_error(done, "--tls-cert", "not a PEM certificate chain")
    assert not data.exists()


@pytest.mark.parametrize("rate", ["nan", "inf"])
def test_a_rate_that_is_no_number_is_refused(tmp_path: Path, rate: str) -> None:
    data = tmp_path / "data"
    one_error(serve(data, "--bind", "127.0.0.1:0", "--rate", rate), "--rate")
    assert not data.exists()


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("admin.token", b"", "admin.token:1: the admin token is empty or shorter"),
        ("admin.token", b"short\n", "admin.token:1: the admin token is empty or shorter"),
        ("admin.token", b"\x00" * 40, "admin.token:1: the admin token is not one word"),
        ("dashboard.key", b"", "dashboard.key:1: the dashboard key is empty or shorter"),
        ("dashboard.key", b"z" * 64 + b"\n", "dashboard.key:1: the dashboard key is not hex"),
    ],
)
def test_a_damaged_secret_stops_the_start_and_is_left_as_it_is(
    tmp_path: Path, name: str, content: bytes, why: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_bytes(content)
    one_error(serve(data, "--bind", "127.0.0.1:0"), why)
    assert (data / name).read_bytes() == content


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (os.urandom(4096), "file is not a database"),
        (b"SQLite format 3\x00" + bytes(4080), "cannot open the collector's database"),
    ],
)
@pytest.mark.parametrize("command", ["enroll", "export", "serve"])
def test_a_database_that_is_not_the_collectors_is_exit_2_and_untouched(
    tmp_path: Path, content: bytes, why: str, command: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "collector.sqlite3").write_bytes(content)
    if command == "serve":
        done = serve(data, "--bind", "127.0.0.1:0")
    elif command == "enroll":
        done = netcheck("server", "enroll", "--data", str(data), "--network", "hq")
    else:
        done = netcheck("server", "export", "--data", str(data), "--out", str(tmp_path / "x"))
    one_error(done, why)
    assert (data / "collector.sqlite3").read_bytes() == content
    assert [p.name for p in data.iterdir()] == ["collector.sqlite3"]


def test_a_data_folder_that_is_a_file_is_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("x")
    one_error(serve(data, "--bind", "127.0.0.1:0"), "--data: not a folder")
    one_error(netcheck("server", "enroll", "--data", str(data), "--network", "hq"), "--data")


@pytest.mark.parametrize("expires", ["0s", "9" * 400 + "d", "99999999d"])
def test_enroll_refuses_a_lifetime_out_of_range_and_makes_no_code(
    tmp_path: Path, expires: str
) -> None:
    data = tmp_path / "data"
    done = netcheck(
        "server", "enroll", "--data", str(data), "--network", "hq", "--expires", expires
    )
    one_error(done, "--expires")
    assert done.stdout == ""
    assert not data.exists()


def test_export_never_writes_into_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert netcheck("server", "enroll", "--data", str(data), "--network", "hq").returncode == 0
    token = data / "admin.token"
    token.write_text("t" * 43 + "\n")
    (tmp_path / "link").symlink_to(token)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    for out in (token, data / ".." / "data" / "new.jsonl", tmp_path / "link"):
        done = netcheck("server", "export", "--data", str(data), "--out", str(out))
        one_error(done, "--out", "inside the collector's data folder")
    one_error(
        netcheck("server", "export", "--data", str(data), "--out", str(tmp_path / "no" / "x")),
        "--out: no such folder",
    )
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before


@pytest.mark.root
def test_export_never_replaces_a_device(tmp_path: Path) -> None:
    """The export is renamed into place: over /dev/zero it replaced the device (as root). A
    private copy of /dev/zero's node stands in for it here."""
    data = tmp_path / "data"
    assert netcheck("server", "enroll", "--data", str(data), "--network", "hq").returncode == 0
    zero = tmp_path / "zero"
    os.mknod(zero, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for out in (zero, fifo):
        done = netcheck("server", "export", "--data", str(data), "--out", str(out))
        one_error(done, "--out", "not a regular file")
    assert stat.S_ISCHR(zero.stat().st_mode)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_an_archive_that_is_a_file_is_exit_2_and_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert netcheck("server", "enroll", "--data", str(data), "--network", "hq").returncode == 0
    (data / "records").write_text("x")
    one_error(serve(data, "--bind", "127.0.0.1:0"), "records: the archive is not a folder")
    assert (data / "records").read_text() == "x"


def test_a_password_that_is_not_utf8_is_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert netcheck("server", "enroll", "--data", str(data), "--network", "hq").returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", "server", "user", "add", "--data", str(data)]
        + ["--name", "ana"],
        input=b"contrase\xf1a-larga\n",
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.decode()
        == "netcheck: error: password: the password on stdin is not UTF-8 text\n"
    )
