"""A whole catalogue run against a control on its default settings, through real processes.

Everything runs in a network namespace the test creates (only ``lo``), so nothing can leave it:
- the simulated clean network of ``bench/footprint.py`` (``bench/_simnet.py``, its own process):
  a DNS test server answering every name with 127.0.0.1, where HTTPS (a certificate per service
  from a test CA) and HTTP serve each target the page its expectations describe;
- ``netcheck control serve`` with its defaults, told only where it is: its resolver, its trust
  anchors and that it may reach 127.0.0.0/8 (the simulated internet);
- ``netcheck run`` over the built-in catalogue plus 10 agency targets, with ``--control``.

Every record must carry the control's evidence (no error, no refusal, the control's own page),
the control must never have answered 429, and the probe must have asked in batches.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.footprint import SITE, spec_for
from netcheck.targets import load_targets
from tests.support.paths import ROOT

pytestmark = pytest.mark.root

TOKEN = "catalogue-control-token"
AGENCY = """\
targets:
  - {url: "https://www.youtube.com/@MinisterioDeSalud", service: youtube,
     function: official_channel, official: true}
  - {url: "https://www.facebook.com/MinisterioDeSalud", service: facebook,
     function: official_channel, official: true}
  - {url: "https://x.com/MinSalud", service: x, function: official_channel, official: true}
  - {url: "https://www.instagram.com/minsalud/", service: instagram,
     function: official_channel, official: true}
  - {url: "https://www.linkedin.com/company/minsalud/", service: linkedin,
     function: official_channel, official: true}
  - {url: "https://www.tiktok.com/@minsalud", service: tiktok, function: official_channel}
  - {url: "https://mastodon.social/@minsalud", service: mastodon, function: official_channel}
  - {url: "https://www.minsalud.example.gov/", service: agency-portal, function: view}
  - {url: "https://tramites.minsalud.example.gov/citas", service: agency-portal, function: view}
  - {url: "http://intranet.minsalud.example.gov/", service: agency-portal, function: view}
"""


@pytest.fixture
def netns() -> Iterator[list[str]]:
    """A namespace with only ``lo``; yields the prefix that runs a command inside it."""
    name = f"nctest-ctlcat-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def started(proc: subprocess.Popen[str], log: Path, pattern: str, what: str) -> re.Match[str]:
    """Wait for ``pattern`` in a process's log file (its start-up line)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{what} did not start: {log.read_text(errors='replace')[-2000:]}")


def test_a_default_control_gives_evidence_for_a_whole_catalogue_run(
    tmp_path: Path, netns: list[str]
) -> None:
    agency = tmp_path / "agency.yaml"
    agency.write_text(AGENCY, encoding="utf-8")
    targets = load_targets([str(agency)], [], [])
    assert len(targets) >= 58  # the whole catalogue plus the 10 agency targets
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(spec_for(targets, str(tmp_path))), encoding="utf-8")
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    procs: list[subprocess.Popen[str]] = []
    try:
        sim_log = tmp_path / "simnet.log"
        with sim_log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [*netns, sys.executable, "bench/_simnet.py", str(spec)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    cwd=ROOT,
                )
            )
        dns_port = started(procs[0], sim_log, r"ready (\d+)", "simulated network")[1]
        dns = f"{SITE}:{dns_port}"
        control_log = tmp_path / "control.log"
        with control_log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [*netns, sys.executable, "-m", "netcheck", "control", "serve"]
                    + ["--bind", f"{SITE}:0", "--token-file", str(token)]
                    + ["--allow-dest", "127.0.0.0/8", "--resolver", dns]
                    + ["--ca-bundle", str(tmp_path / "public-ca.pem")],
                    stderr=out,
                    text=True,
                    cwd=ROOT,
                )
            )
        control = started(procs[1], control_log, r"listening on (\S+)", "control")[1]
        results = tmp_path / "results.jsonl"
        run = subprocess.run(
            [*netns, sys.executable, "-m", "netcheck", "run", "--targets", str(agency)]
            + ["--resolver", dns, "--ca-bundle", str(tmp_path / "public-ca.pem")]
            + ["--allow-net", "127.0.0.0/8", "--proxy", "none", "--network", "test"]
            + ["--control", control, "--control-token-file", str(token)]
            + ["--out", str(results)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=180,
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert run.returncode in (0, 1), run.stderr[-3000:]
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["target"]["url"] for r in records) == sorted(t.url for t in targets)
    for record in records:
        url, evidence = record["target"]["url"], record["control"]
        assert evidence is not None, url
        assert evidence["error"] is None, (url, evidence["error"])
        assert evidence["refused"] is None, (url, evidence["refused"])
        assert evidence["steps"]["http"][-1]["status"] == 200, url
        assert "no control evidence" not in record["evidence"], url
    answers = collections.Counter(re.findall(r"control: \S+ (\d{3})", control_log.read_text()))
    assert answers["429"] == 0  # the defaults let one probe's whole catalogue through
    assert 0 < answers["200"] <= len(records) // 10 + 4  # batches of --max-urls, not one per URL
