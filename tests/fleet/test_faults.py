"""The collector killed with SIGKILL 20 times while probes upload: afterwards every record is
stored exactly once, the database passes its integrity check, the archive holds every record
once, and ``netcheck verify`` accepts the evidence. The probes behave as agents do: a batch is
resent, byte for byte, until the collector acknowledges it."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset as ds
import pytest

from netcheck.fleet.evidence import GENESIS, sign_batch
from tests.fleet.support import Collector, netcheck, record

KILLS = 20
PROBES = 4


def uploader(
    c: Collector, enrolled: tuple[str, Any], network: str, sent: list[str], stop: threading.Event
) -> None:
    probe, key = enrolled
    seq, prev = 0, GENESIS
    with httpx.Client(timeout=5) as http:
        while not stop.is_set():
            recs = [record(network, url=f"https://{probe}-{seq}-{k}.example/") for k in range(50)]
            batch = sign_batch(key, probe=probe, seq=seq + 1, prev=prev, records=recs, sent_at="t")
            while True:  # resend the same bytes until acknowledged
                try:
                    answer = http.post(
                        c.url + "/v1/batches",
                        content=batch.to_wire(),
                        headers={"x-netcheck-probe": probe},
                    )
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
                if answer.status_code == 200:
                    break
                assert answer.status_code in (429, 503), answer.text
                time.sleep(0.2)
            sent.extend(r["id"] for r in recs)
            seq, prev = seq + 1, batch.sha256


@pytest.mark.timeout(400)
def test_sigkill_twenty_times_during_uploads(tmp_path: Path) -> None:
    c = Collector(tmp_path / "data").start("--rate", "1000")
    stop = threading.Event()
    sent: list[str] = []
    threads = [
        threading.Thread(
            target=uploader,
            args=(c, c.enroll(f"net{i % 2}"), f"net{i % 2}", sent, stop),
            daemon=True,
        )
        for i in range(PROBES)
    ]
    for t in threads:
        t.start()
    rng = random.Random(7)
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 0.6))
        c.kill()
        c.start("--rate", "1000")
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(60)
    c.stop()
    with sqlite3.connect(c.data / "collector.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [
            json.loads(b)["id"]
            for (b,) in db.execute("SELECT body FROM records WHERE body IS NOT NULL")
        ]
    assert len(sent) > PROBES * 50 * 3  # the probes got work through between the kills
    assert sorted(ids) == sorted(sent)
    c.start()  # a start archives whatever a kill left unarchived
    c.stop()
    table = ds.dataset(c.data / "records", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("id").to_pylist()) == sorted(sent)
    done = netcheck("verify", str(c.data))
    assert done.returncode == 0, done.stdout + done.stderr
