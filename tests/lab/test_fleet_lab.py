"""The fleet end to end in the lab: real agents in the client namespace, on two days and two
networks, upload to a real collector; every record lands once, under its enrolled network, and
the evidence verifies."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.lab.fleet import Fleet, Site
from netcheck.lab.lifecycle import Lab

pytestmark = pytest.mark.lab


@pytest.mark.timeout(900)
def test_agents_in_the_lab_upload_to_a_collector(lab: Lab, tmp_path: Path) -> None:
    data = tmp_path / "collector"
    fleet = Fleet(lab, data, tmp_path / "agents")
    plan = (Site("clean", "sede-a", probes=2), Site("admin-blocked", "sede-b"))
    with lab.locked():
        fleet.run(plan, days=2)
    with sqlite3.connect(data / "collector.sqlite3") as db:
        probes = dict(db.execute("SELECT id, network FROM probes"))
        per_probe = dict(db.execute("SELECT probe, count(*) FROM batches GROUP BY probe"))
        rows = db.execute("SELECT probe, network, body FROM records").fetchall()
    assert sorted(probes.values()) == ["sede-a", "sede-a", "sede-b"]
    assert set(per_probe.values()) == {2}  # one batch a day each, in order
    ids = [json.loads(body)["id"] for _, _, body in rows]
    assert len(ids) == len(set(ids))
    days = {json.loads(body)["measured_at"][:10] for _, _, body in rows}
    assert len(days) == 2
    for probe, network, body in rows:
        record = json.loads(body)
        assert network == probes[probe] == record["probe"]["network"]
        assert record["probe"]["id"] == probe
    blocked = [
        json.loads(b) for p, n, b in rows if n == "sede-b" and json.loads(b)["verdict"] == "blocked"
    ]
    assert blocked, "the admin-blocked network shows its blocked admin console"
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", "verify", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
