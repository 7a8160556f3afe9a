"""The collector as a real process on loopback: enrollment, ingest, refusals, export, verify.

Each refusal is checked for its status *and* for storing nothing, and the collector keeps
serving an honest probe afterwards.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netcheck.fleet.evidence import GENESIS, SignedBatch, new_key, public_b64, sign_batch
from tests.fleet.support import Collector, netcheck, record
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    c = Collector(tmp_path_factory.mktemp("collector") / "data").start()
    yield c
    c.stop()


def post(c: Collector, batch: SignedBatch | bytes, probe: str = "") -> httpx.Response:
    body = batch if isinstance(batch, bytes) else batch.to_wire()
    return httpx.post(
        c.url + "/v1/batches",
        content=body,
        headers={"content-type": "application/json", "x-netcheck-probe": probe},
        timeout=30,
    )


def stored(c: Collector, probe: str) -> int:
    with sqlite3.connect(c.data / "collector.sqlite3") as db:
        return int(
            db.execute("SELECT count(*) FROM records WHERE probe = ?", (probe,)).fetchone()[0]
        )


class Probe:
    def __init__(self, c: Collector, network: str) -> None:
        self.c, self.network = c, network
        self.id, self.key = c.enroll(network)
        self.seq, self.prev = 0, GENESIS

    def batch(self, n: int = 3, **kw: Any) -> SignedBatch:
        recs = kw.pop("records", None) or [record(self.network) for _ in range(n)]
        return sign_batch(
            self.key,
            probe=self.id,
            seq=self.seq + 1,
            prev=self.prev,
            records=recs,
            sent_at="2026-12-01T00:00:00Z",
            **kw,
        )

    def send(self, batch: SignedBatch) -> httpx.Response:
        answer = post(self.c, batch, self.id)
        if answer.status_code == 200 and answer.json()["status"] == "stored":
            self.seq, self.prev = self.seq + 1, batch.sha256
        return answer


def test_a_batch_is_stored_once_and_a_resend_is_already_stored(collector: Collector) -> None:
    p = Probe(collector, "site-a")
    batch = p.batch(3)
    first = p.send(batch)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "stored"
    again = post(collector, batch, p.id)
    assert again.status_code == 200
    assert again.json()["status"] == "already-stored"
    assert stored(collector, p.id) == 3
    fork = p.batch(2)  # same seq as the stored one, different records
    fork = sign_batch(
        p.key, probe=p.id, seq=1, prev=GENESIS, records=[record("site-a")], sent_at="x"
    )
    answer = post(collector, fork, p.id)
    assert answer.status_code == 409
    assert "fork" in answer.json()["error"]
    assert stored(collector, p.id) == 3


def test_refusals_store_nothing_and_name_the_reason(collector: Collector) -> None:
    p = Probe(collector, "site-b")
    other_key = new_key()
    wrong_sig = sign_batch(
        other_key, probe=p.id, seq=1, prev=GENESIS, records=[record("site-b")], sent_at="t"
    )
    assert post(collector, wrong_sig, p.id).status_code == 401
    unknown = sign_batch(
        other_key, probe="f" * 32, seq=1, prev=GENESIS, records=[record("site-b")], sent_at="t"
    )
    assert post(collector, unknown, "f" * 32).status_code == 401
    gap = sign_batch(
        p.key, probe=p.id, seq=2, prev=GENESIS, records=[record("site-b")], sent_at="t"
    )
    assert post(collector, gap, p.id).status_code == 409
    assert post(collector, b'{"header": ', p.id).status_code == 400
    bad = record("site-b")
    bad["verdict"] = "probably-fine"
    answer = p.send(p.batch(records=[record("site-b"), bad]))
    assert answer.status_code == 422
    assert answer.json()["line"] == 2
    # as strictly as classify and the report read the archive back (they refuse these)
    for field, value in (("intercepted", "yes"), ("schema_version", None)):
        loose = record("site-b")
        if value is None:
            del loose[field]
        else:
            loose[field] = value
        refused = p.send(p.batch(records=[loose]))
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"].startswith(f"{field}: "), refused.text
    other_net = p.send(p.batch(records=[record("site-a")]))
    assert other_net.status_code == 422
    assert "enrolled in 'site-b'" in other_net.json()["error"]
    huge = b"{" + b" " * (60 * 1024 * 1024) + b"}"
    assert post(collector, huge, p.id).status_code == 413
    assert stored(collector, p.id) == 0
    assert p.send(p.batch(2)).status_code == 200  # still serving, the chain intact
    assert stored(collector, p.id) == 2


def test_revoked_probe_and_unknown_code(collector: Collector) -> None:
    p = Probe(collector, "site-c")
    assert p.send(p.batch(1)).status_code == 200
    done = netcheck("server", "revoke", "--data", str(collector.data), "--probe", p.id)
    assert done.returncode == 0, done.stderr
    assert p.send(p.batch(1)).status_code == 401
    answer = httpx.post(
        collector.url + "/v1/enroll",
        json={"code": "not-a-code", "public_key": public_b64(new_key())},
    )
    assert answer.status_code == 401


def test_only_health_answers_without_a_token(collector: Collector) -> None:
    assert httpx.get(collector.url + "/v1/health").status_code == 200
    for path in ("/metrics", "/v1/probes", "/v1/state"):
        assert httpx.get(collector.url + path).status_code == 401
        assert (
            httpx.get(collector.url + path, headers={"authorization": "Bearer wrong"}).status_code
            == 401
        )
    auth = {"authorization": f"Bearer {collector.token}"}
    metrics = httpx.get(collector.url + "/metrics", headers=auth)
    assert metrics.status_code == 200
    assert 'netcheck_probes{network="site-a"}' in metrics.text
    assert "netcheck_targets{" in metrics.text


def test_network_labels_cannot_escape_the_archive(collector: Collector) -> None:
    for label in ("../etc", "a/b", "", "x" * 65, "..", "lab\n1"):
        done = netcheck("server", "enroll", "--data", str(collector.data), "--network", label)
        assert done.returncode == 2, label
        assert done.stdout == ""


def test_slow_loris_clients_do_not_stop_the_others(collector: Collector) -> None:
    slow = []
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", collector.port))
        s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
        slow.append(s)
    try:
        p = Probe(collector, "site-d")
        assert p.send(p.batch(1)).status_code == 200
    finally:
        for s in slow:
            s.close()


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    c = Collector(tmp_path / "data").start("--rate", "0.5")
    try:
        p = Probe(c, "site-e")
        codes = []
        for _ in range(25):
            answer = p.send(p.batch(1))
            codes.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["retry-after"]) >= 1
                break
        assert codes[-1] == 429
        assert set(codes[:-1]) == {200}
    finally:
        c.stop()


def test_export_verify_and_report_read_the_archive(collector: Collector, tmp_path: Path) -> None:
    other = Probe(collector, "site-g")
    assert other.send(other.batch(2)).status_code == 200
    p = Probe(collector, "site-f")
    for _ in range(3):
        assert p.send(p.batch(4)).status_code == 200
    out = tmp_path / "export.jsonl"
    done = netcheck("server", "export", "--data", str(collector.data), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    records = [x for x in lines if x["type"] == "record"]
    ids = [x["record"]["id"] for x in records]
    assert len(ids) == len(set(ids))  # every stored record exactly once
    assert all({"probe", "seq", "batch_sha256"} <= set(x) for x in records)
    assert netcheck("verify", str(out)).returncode == 0
    assert netcheck("verify", str(collector.data)).returncode == 0
    # an auditor's copy with one record edited: named in one line, exit 2 (untrusted input)
    mine = [i for i, x in enumerate(lines) if x["type"] == "record" and x["probe"] == p.id]
    lines[mine[5]]["record"]["verdict"] = "blocked"
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(json.dumps(x) + "\n" for x in lines))
    done = netcheck("verify", str(tampered))
    assert done.returncode == 2
    said = [line for line in done.stderr.splitlines() if line.startswith("netcheck: error:")]
    assert len(said) == 1, done.stderr
    assert said[0].startswith(f"netcheck: error: {tampered}: probe {p.id}, batch 2")
    assert "record 2" in said[0]
    assert "changed" in said[0]
    # the archive is what `netcheck report` reads directly (the archiver passes every second)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(collector.data / "collector.sqlite3") as db:
            if db.execute("SELECT count(*) FROM batches WHERE archived = 0").fetchone()[0] == 0:
                break
        time.sleep(0.2)
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "netcheck",
            "report",
            str(collector.data / "records"),
            "--audience",
            "it",
            "--format",
            "json",
            "--out",
            str(tmp_path / "it.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert report.returncode in (0, 1), report.stderr
    it = json.loads((tmp_path / "it.json").read_text())
    assert {t["network"] for t in it["targets"]} >= {"site-f", "site-g"}
