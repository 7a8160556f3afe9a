"""A small fleet for the dashboard and notify tests: real signed batches through the real API.

Three networks of the example ministry's policy (``sede-central``, ``comms-office``, ``vpn``),
four probes that upload (two on the central site) plus one enrolled that never uploads (stale),
three days of measurements of two official channels, an admin console and a view page. What
each network does to each target each day is ``STATE`` below; tests read their expectations
from it.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx

from netcheck.fleet.evidence import GENESIS, new_key, public_b64, sign_batch
from netcheck.server.store import Store
from tests.fleet.support import Collector, record
from tests.support.paths import ROOT

POLICY = ROOT / "policies" / "ministerio-ejemplo.yaml"
CHANNEL = "https://www.youtube.com/@MinisterioLab"
X_CHANNEL = "https://x.com/MinisterioEj"
STUDIO = "https://studio.youtube.com/"
FACEBOOK = "https://www.facebook.com/"
TARGETS = {
    CHANNEL: ("youtube", "official_channel", True),
    X_CHANNEL: ("x", "official_channel", True),
    STUDIO: ("youtube", "admin", False),
    FACEBOOK: ("facebook", "view", False),
}
NETWORKS = ("sede-central", "comms-office", "vpn")
DAYS = ("2026-11-27", "2026-11-28", "2026-11-29")
OK = ("accessible", None, None)


def state(url: str, network: str, day: int) -> tuple[str, str | None, str | None]:
    """(verdict, technique, vendor) of ``url`` on ``network`` on day 0, 1 or 2."""
    if url == CHANNEL and network == "vpn" and day >= 1:
        return ("blocked", "dns-nxdomain", None)
    if url == X_CHANNEL and network == "sede-central":
        return ("blocked", "proxy-denied", "squid")
    if url == STUDIO and network == "sede-central":
        return ("blocked", "tls-reset", None)
    if url == STUDIO and network == "comms-office" and day >= 2:
        return ("blocked", "tls-reset", None)
    return OK


def measurement(url: str, network: str, at: str, verdict: tuple[str, str | None, str | None]):
    service, function, official = TARGETS[url]
    rec = record(network, url, measured_at=at)
    rec["target"].update(service=service, function=function, official=official)
    rec["verdict"], rec["technique"], rec["vendor"] = verdict
    if verdict[0] == "blocked":
        rec["evidence"] = f"{url} on {network}: {verdict[1]} (lab fleet)"
    return rec


def enroll(c: Collector, network: str) -> tuple[str, Any]:
    """A probe enrolled through ``POST /v1/enroll``; the one-time code is made as ``server
    enroll`` makes it, in this process (a CLI start per probe would cost seconds each)."""
    store = Store(c.data, create=False)
    try:
        code = store.create_code(network, 600)
    finally:
        store.close()
    key = new_key()
    answer = httpx.post(c.url + "/v1/enroll", json={"code": code, "public_key": public_b64(key)})
    assert answer.status_code == 200, answer.text
    return answer.json()["probe_id"], key


@dataclass
class Probe:
    collector: Collector
    network: str
    id: str = ""
    key: Any = None
    seq: int = 0
    prev: str = GENESIS
    batches: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.id, self.key = enroll(self.collector, self.network)

    def send(self, records: list[dict[str, Any]]) -> httpx.Response:
        batch = sign_batch(
            self.key,
            probe=self.id,
            seq=self.seq + 1,
            prev=self.prev,
            records=records,
            sent_at=records[-1]["measured_at"],
        )
        answer = httpx.post(
            self.collector.url + "/v1/batches",
            content=batch.to_wire(),
            headers={"content-type": "application/json", "x-netcheck-probe": self.id},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        self.seq, self.prev = self.seq + 1, batch.sha256
        self.batches.append(batch.sha256)
        return answer

    def day(self, day: int, hours: tuple[str, ...] = ("09:00", "15:00")) -> httpx.Response:
        records = [
            measurement(
                url, self.network, f"{DAYS[day]}T{h}:00.000Z", state(url, self.network, day)
            )
            for h in hours
            for url in TARGETS
        ]
        return self.send(records)


@dataclass
class Fleet:
    probes: dict[str, list[Probe]]
    stale: str


def fill(c: Collector) -> Fleet:
    """Enroll the probes and upload the three days, in time order."""
    probes = {n: [Probe(c, n)] for n in NETWORKS}
    probes["sede-central"].append(Probe(c, "sede-central"))
    stale, _ = enroll(c, "vpn")  # enrolled, never uploads
    for day in range(len(DAYS)):
        for _network, group in probes.items():
            # the central site's two probes take turns: each day one of them measures
            group[day % len(group)].day(day)
    return Fleet(probes, stale)


def add_user(c: Collector, name: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "netcheck",
            "server",
            "user",
            "add",
            "--data",
            str(c.data),
            "--name",
            name,
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
