"""The agent's own files, damaged: ``agent.json``, ``probe.key``, the spool and the outbox.

Each case runs ``netcheck agent upload`` (or ``status``) as a subprocess on a state folder with
one file broken, and checks the contract: exit 2, one line naming the file (and line and field
where there is one), and nothing lost or added — the spool, the outbox and the state are byte
for byte what they were. The collector's address is a closed port on 127.0.0.1: no case gets
as far as sending anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
)

from netcheck.agent.state import AgentState
from netcheck.fleet.evidence import new_key, save_private
from tests.fleet.support import netcheck
from tests.support.paths import ROOT

RESULTS = ROOT / "sample_results" / "lab" / "clean.jsonl"


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return netcheck("agent", *args)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "agent"
    folder.mkdir()
    save_private(new_key(), folder / "probe.key")
    AgentState(server="http://127.0.0.1:9", probe_id="p1", network="lab-clean").save(folder)
    (folder / "spool").mkdir()
    (folder / "outbox").mkdir()
    # one run's records already waiting, as the agent writes them
    name = f"{time.time_ns() - 10**9:020d}.jsonl"
    (folder / "spool" / name).write_text(RESULTS.open().readline(), encoding="utf-8")
    return folder


def edit_state(change: Callable[[dict[str, object]], object]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / "agent.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data, indent=2) + "\n")

    return apply


def spool_file(content: bytes, name: str | None = None) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        stem = name or f"{time.time_ns() - 10**8:020d}.jsonl"
        (folder / "spool" / stem).write_bytes(content)

    return apply


def write(relative: str, content: bytes) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        target = folder / relative
        if target.is_dir():
            shutil.rmtree(target)
        target.write_bytes(content)

    return apply


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # agent.json
    "seq a string": (edit_state(lambda d: d.update(last_seq="x")), "agent.json:6: last_seq"),
    "seq negative": (edit_state(lambda d: d.update(last_seq=-5)), "agent.json:6: last_seq"),
    "hash not sha": (edit_state(lambda d: d.update(last_hash="00")), "agent.json:7: last_hash"),
    "server a number": (edit_state(lambda d: d.update(server=5)), "agent.json:2: server"),
    "server bad ipv6": (
        edit_state(lambda d: d.update(server="http://[::1")),
        "agent.json:2: server",
    ),
    "probe id null": (edit_state(lambda d: d.update(probe_id=None)), "agent.json:3: probe_id"),
    "missing CA": (
        edit_state(lambda d: d.update(ca_bundle="/nonexistent/ca.pem")),
        "agent.json:5: ca_bundle",
    ),
    "state nested": (write("agent.json", b"[" * 100_000), "agent.json: agent state larger"),
    "state not json": (write("agent.json", b'{"server": 1,\n'), "agent.json:2:"),
    "state empty": (write("agent.json", b""), "agent.json: agent state is empty"),
    # probe.key
    "key encrypted": (
        write(
            "probe.key",
            new_key().private_bytes(
                Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"passphrase")
            ),
        ),
        "probe.key: cannot read the probe's key",
    ),
    # spool and outbox
    "spool line garbage": (spool_file(b"{}\ngarbage\n"), ".jsonl:2: not a record"),
    "spool line a list": (spool_file(b"[1]\n"), ".jsonl:1: not a record"),
    "spool not utf-8": (spool_file(b"\xff\xfe\n"), ".jsonl:1: spool file is not UTF-8"),
    "spool foreign name": (spool_file(b"{}\n", "notes.jsonl"), "notes.jsonl: not the agent's"),
    "spool is a file": (write("spool", b"x"), "spool: cannot use the agent's spool folder"),
    "outbox truncated": (write("outbox/0000000001.json", b'{"header": "'), "0000000001.json:1:"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_file_stops_upload_with_one_line_and_nothing_lost(state: Path, case: str) -> None:
    damage, where = CASES[case]
    damage(state)
    before = snapshot(state)
    done = agent("upload", str(RESULTS), "--state", str(state))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("netcheck: error: ")
    assert where in lines[0]
    assert snapshot(state) == before  # nothing spooled, signed, moved or removed


def test_status_names_a_folder_in_the_spool(state: Path) -> None:
    (state / "spool" / f"{time.time_ns():020d}.jsonl").mkdir()
    done = agent("status", "--state", str(state))
    assert done.returncode == 2
    assert "not the agent's: not a file" in done.stderr


@pytest.mark.parametrize(
    ("server", "why"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://a b/", "with a host"),
        ("ftp://x", "not an http(s) URL"),
    ],
)
def test_enroll_refuses_a_bad_server_and_makes_no_folder(
    tmp_path: Path, server: str, why: str
) -> None:
    folder = tmp_path / "new"
    done = agent("enroll", "--server", server, "--code", "c0de", "--state", str(folder))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--server" in done.stderr
    assert why in done.stderr
    assert not folder.exists()


def test_enroll_refused_by_the_network_leaves_no_folder(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    done = agent(
        "enroll", "--server", "http://127.0.0.1:9", "--code", "c0de", "--state", str(folder)
    )
    assert done.returncode == 2
    assert "cannot reach the collector" in done.stderr
    assert not folder.exists()


def test_enroll_refuses_a_ca_bundle_that_is_not_pem(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    done = agent(
        "enroll", "--server", "https://127.0.0.1:9", "--code", "c", "--state", str(folder),
        "--ca-bundle", str(ca),
    )  # fmt: skip
    assert done.returncode == 2
    assert "--ca-bundle: not a readable PEM CA bundle" in done.stderr
    assert not folder.exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--every", "0s"], "--every"),
        (["--every", "9" * 400 + "d"], "--every"),
        (["--state", "a\nExecStartPre=/bin/true"], "--state"),
    ],
)
def test_install_refuses_bad_values_and_writes_nothing(
    tmp_path: Path, args: list[str], field: str
) -> None:
    done = agent("install", "--systemd", "--out", str(tmp_path), *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert field in done.stderr
    assert list(tmp_path.iterdir()) == []
