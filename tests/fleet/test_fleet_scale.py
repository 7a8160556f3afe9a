"""The collector over HTTPS, an agent trusting it through --ca-bundle, the spool's caps, and a
thousand probes uploading a day of results at once (every record stored exactly once)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from netcheck.agent.spool import Spool
from netcheck.agent.state import AgentState
from netcheck.fleet.evidence import GENESIS, new_key, parse_header, public_b64
from netcheck.server.store import Store
from tests.fleet.support import Collector, record
from tests.support.paths import ROOT

PROBES = 1000
RECORDS = 24  # a day of hourly runs of one official channel


def test_https_collector_and_an_agent_that_trusts_it_by_ca_bundle(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, bundle = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(bundle))
    c = Collector(tmp_path / "data")
    c.url = c.url.replace("http://", "https://")
    import httpx

    c.proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcheck",
            "server",
            "serve",
            "--data",
            str(c.data),
            "--bind",
            f"127.0.0.1:{c.port}",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    trusting = ssl.create_default_context(cafile=str(bundle))
    try:
        for _ in range(300):
            try:
                if httpx.get(c.url + "/v1/health", verify=trusting).status_code == 200:
                    break
            except httpx.HTTPError:
                asyncio.run(asyncio.sleep(0.05))
        state = tmp_path / "agent"
        agent = [sys.executable, "-m", "netcheck", "agent"]
        no_trust = subprocess.run(
            [
                *agent,
                "enroll",
                "--server",
                c.url,
                "--code",
                c.code("tls"),
                "--state",
                str(tmp_path / "untrusting"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert no_trust.returncode == 2  # the OS store does not know this CA: refused, one line
        assert "cannot reach the collector" in no_trust.stderr
        done = subprocess.run(
            [
                *agent,
                "enroll",
                "--server",
                c.url,
                "--code",
                c.code("tls"),
                "--state",
                str(state),
                "--ca-bundle",
                str(bundle),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        results = tmp_path / "r.jsonl"
        results.write_text("".join(json.dumps(record("tls")) + "\n" for _ in range(3)))
        done = subprocess.run(
            [*agent, "upload", "--state", str(state), str(results)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(c.data / "collector.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 3
    finally:
        c.stop()


def test_the_spool_drops_oldest_first_counts_it_and_reports_it(tmp_path: Path) -> None:
    state = AgentState(server="http://x", probe_id="p", network="n")
    spool = Spool(tmp_path, max_age=86400)
    for _ in range(5):
        spool.add([record("n")])
    spool.max_bytes = 3 * max(p.stat().st_size for p in spool.files())
    oldest = spool.files()[0]
    dropped = spool.enforce_caps(state)
    assert dropped == 2
    assert not oldest.exists()
    assert spool.pending_records() == 3
    assert (state.dropped, state.dropped_total) == (2, 2)
    (made,) = spool.pack(state, new_key(), tmp_path)
    header = parse_header(json.loads(made.read_text())["header"])
    assert header.dropped == 2  # the collector hears of it in the next batch
    assert len(header.records) == 3
    assert state.dropped == 0
    assert state.dropped_total == 2
    old = Spool(tmp_path, max_age=60)
    old.add([record("n")])
    assert old.enforce_caps(state, now=__import__("time").time() + 120) == 1


@pytest.mark.timeout(600)
def test_a_thousand_probes_upload_a_day_at_once(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.ingest import day_of_records, upload  # the bench's client, at test scale

    c = Collector(tmp_path / "data").start("--rate", "1000")
    try:
        store = Store(c.data)
        codes = [store.create_code("fleet", 3600) for _ in range(PROBES)]
        store.close()
        import httpx

        from netcheck.fleet.evidence import sign_batch

        batches = []
        with httpx.Client(base_url=c.url) as http:
            for code in codes:
                key = new_key()
                probe = http.post(
                    "/v1/enroll", json={"code": code, "public_key": public_b64(key)}
                ).json()
                signed = sign_batch(
                    key,
                    probe=probe["probe_id"],
                    seq=1,
                    prev=GENESIS,
                    records=day_of_records("fleet", RECORDS),
                    sent_at="t",
                )
                batches.append((probe["probe_id"], signed.to_wire()))
        seconds, latencies, _ = asyncio.run(upload(c.url, batches, PROBES))
        assert len(latencies) == PROBES
    finally:
        c.stop()
    with sqlite3.connect(c.data / "collector.sqlite3") as db:
        rows = db.execute("SELECT count(*), count(DISTINCT sha256) FROM records").fetchone()
        probes = db.execute("SELECT count(*) FROM probes WHERE last_seq = 1").fetchone()[0]
    assert rows == (PROBES * RECORDS, PROBES * RECORDS)
    assert probes == PROBES
