"""A real collector process on loopback, and records to send it.

``Collector`` starts ``python -m netcheck server serve`` on a free port of 127.0.0.1 with its own
data folder, waits for ``/v1/health``, and can enroll probes (``server enroll`` as a subprocess,
then ``POST /v1/enroll``), kill it with SIGKILL and start it again on the same folder.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from netcheck.fleet.evidence import new_key, public_b64
from tests.support.paths import ROOT
from tests.support.ports import free_port

#: a real record from the lab's clean scenario
TEMPLATE = json.loads((ROOT / "sample_results" / "lab" / "clean.jsonl").open().readline())


def record(
    network: str | None, url: str = "https://www.youtube.com/", **extra: Any
) -> dict[str, Any]:
    """A valid record (the lab's, with a fresh id, the network label and ``url``)."""
    rec = copy.deepcopy(TEMPLATE)
    rec["id"] = uuid.uuid4().hex
    rec["probe"]["network"] = network
    rec["target"]["url"] = url
    rec.update(extra)
    return rec


def netcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


class Collector:
    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> Collector:
        self.log = open(self.data.parent / f"collector-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "netcheck",
                "server",
                "serve",
                "--data",
                str(self.data),
                "--bind",
                f"127.0.0.1:{self.port}",
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the collector did not start: " + self.logs())

    def logs(self) -> str:
        return (self.data.parent / f"collector-{self.port}.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    @property
    def token(self) -> str:
        return (self.data / "admin.token").read_text().strip()

    def code(self, network: str) -> str:
        done = netcheck("server", "enroll", "--data", str(self.data), "--network", network)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def enroll(self, network: str) -> tuple[str, Any]:
        key = new_key()
        answer = httpx.post(
            self.url + "/v1/enroll",
            json={"code": self.code(network), "public_key": public_b64(key)},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["probe_id"], key
