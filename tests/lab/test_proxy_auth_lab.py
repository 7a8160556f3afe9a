"""The lab's authenticating proxy (issue 13 §3): the agency's squid demands Basic or Kerberos
before any rule, and the probe runs from the client namespace as a staff member would.

- proxy-auth-basic: with the staff password in ``--proxy``, targets are judged as through any
  proxy, and the password is in no record, no log line and no report made from the records.
- proxy-auth-required: with a wrong password, or none, every target is ``inconclusive`` (407),
  never ``blocked``, and the run's exit code says nothing is blocked.
- proxy-kerberos: the proxy's name resolves forward and reverse in the lab's DNS; with the staff
  user's ticket squid's ``negotiate_kerberos_auth`` accepts the probe (squid logs the
  principal); without one, every target is ``inconclusive``.

The scenario runs are the session's (``tests/lab/conftest.py``); the runs without credentials
are made here, in the applied scenario, with the scenario's own profile less its credentials.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.lab import accounts, profile, scenarios, topology
from netcheck.lab.lifecycle import Lab
from netcheck.lab.runner import read_records, run_probe
from tests.lab.conftest import ScenarioRuns

pytestmark = pytest.mark.lab

ALL = scenarios.load()
PROXY_BY_ADDRESS = f"http://{topology.GW_INSIDE_IP}:{topology.PROXY_PORT}"
PROXY_BY_NAME = f"http://{accounts.PROXY_FQDN}:{topology.PROXY_PORT}"
NOT_MEASURED = "the proxy requires authentication (407)"


def _records(path: Path) -> list[dict[str, Any]]:
    return read_records(path)


def _probe_with(lab: Lab, name: str, out: Path, **changes: object) -> list[dict[str, Any]]:
    """Apply ``name`` and run its probe with the profile changed as given."""
    with lab.locked():
        probe = run_probe(lab, ALL[name], out, changes)
    assert probe.exit_code == 0, probe.stderr[-2000:]  # inconclusive is not blocked (exit 1)
    return _records(out)


def _all_inconclusive(records: list[dict[str, Any]], because: str) -> None:
    assert records
    for record in records:
        url = record["target"]["url"]
        assert record["verdict"] == "inconclusive", (url, record["verdict"], record["evidence"])
        assert record["technique"] is None, url
        assert NOT_MEASURED in record["evidence"], url
        assert because in record["evidence"], (url, record["evidence"])


def _reports(results: Path, out: Path) -> str:
    """Every report the records can make (comms, audit, IT) and ``check``'s findings, as text."""
    texts = []
    for audience, fmt, name in (
        ("comms", "html", "comms.html"),
        ("comms", "md", "comms.md"),
        ("audit", "csv", "audit"),
        ("it", "json", "it.json"),
    ):
        argv = [sys.executable, "-m", "netcheck", "report", str(results), "--policy"]
        argv += ["policies/lab.yaml", "--audience", audience, "--format", fmt]
        argv += ["--lang", "en", "--out", str(out / name)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        texts.append(proc.stdout + proc.stderr)
    argv = [sys.executable, "-m", "netcheck", "check", "--policy", "policies/lab.yaml"]
    proc = subprocess.run(
        [*argv, "--json", str(results)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr
    texts.append(proc.stdout + proc.stderr)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


# --- Basic ---------------------------------------------------------------------------------------


def test_basic_password_is_used_and_kept_nowhere(runs: ScenarioRuns, tmp_path: Path) -> None:
    run = runs.get("proxy-auth-basic")
    records = _records(run.results_file)
    password, wrong = runs.secrets["proxy-auth-basic"]
    assert run.exit_code == 1  # Facebook is blocked by squid once the probe is let in
    for record in records:
        url = record["target"]["url"]
        assert record["probe"]["proxy"] == f"http://***@{topology.GW_INSIDE_IP}:3128", url
        assert record["steps"]["http"], url
        assert record["steps"]["http"][-1]["proxy_auth"] == "basic", url
    # squid let the staff user in: it names the user on what it served or refused
    logged = [line.split() for line in runs.squid_log("proxy-auth-basic").read_text().splitlines()]
    assert any(row[3].startswith("TCP_TUNNEL/200") for row in logged)
    assert any(row[3] == "TCP_DENIED/403" for row in logged)  # Facebook, after auth
    assert all(row[7] == accounts.STAFF_USER for row in logged if "/407" not in row[3])
    # no record, no log line and no report carries the password
    shown = run.results_file.read_text() + run.stderr + _reports(run.results_file, tmp_path)
    assert password not in shown
    assert wrong not in shown
    assert "***@" in shown  # the proxy is named, its credentials redacted


# --- 407: no (or wrong) credentials -------------------------------------------------------------


def test_wrong_password_makes_every_target_inconclusive(runs: ScenarioRuns) -> None:
    run = runs.get("proxy-auth-required")
    assert run.exit_code == 0  # nothing blocked
    records = _records(run.results_file)
    _all_inconclusive(records, "the probe's basic credentials were refused")
    # Facebook too, though squid refuses it to anyone it lets in
    assert any("facebook" in r["target"]["url"] for r in records)
    assert all("it offers Basic" in r["evidence"] for r in records)
    password, wrong = runs.secrets["proxy-auth-required"]
    assert wrong not in run.results_file.read_text() + run.stderr


def test_no_credentials_makes_every_target_inconclusive(lab: Lab, tmp_path: Path) -> None:
    records = _probe_with(
        lab,
        "proxy-auth-required",
        tmp_path / "no-credentials.jsonl",
        proxy_user=None,
        proxy_password_file=None,
    )
    assert {r["probe"]["proxy"] for r in records} == {PROXY_BY_ADDRESS}
    _all_inconclusive(records, "the probe had no credentials it accepts")


# --- Kerberos ------------------------------------------------------------------------------------

_LOOKUP = """
import dns.resolver, dns.reversename
r = dns.resolver.Resolver(configure=False)
r.nameservers = [{gw!r}]
print(r.resolve({name!r}, "A")[0].address)
print(r.resolve(dns.reversename.from_address({gw!r}), "PTR")[0].target)
"""


def test_proxy_name_resolves_forward_and_reverse(lab: Lab) -> None:
    script = _LOOKUP.format(gw=topology.GW_INSIDE_IP, name=accounts.PROXY_FQDN)
    with lab.locked():
        out = topology.ns_run(topology.CLIENT, [sys.executable, "-c", script])
    assert out.split() == [topology.GW_INSIDE_IP, accounts.PROXY_FQDN + "."]


def test_kerberos_ticket_passes_squid(runs: ScenarioRuns) -> None:
    run = runs.get("proxy-kerberos")
    records = _records(run.results_file)
    assert {r["verdict"] for r in records} == {"accessible"}
    for record in records:
        url = record["target"]["url"]
        assert record["probe"]["proxy"] == PROXY_BY_NAME, url
        assert record["steps"]["http"][-1]["proxy_auth"] == "negotiate", url
    # squid's negotiate_kerberos_auth accepted the ticket: it logs the staff user's principal
    served = [
        line.split()
        for line in runs.squid_log("proxy-kerberos").read_text().splitlines()
        if "/200 " in line
    ]
    assert served
    assert {row[7] for row in served} == {f"{accounts.STAFF_USER}@{accounts.REALM}"}
    conf = (runs.configs("proxy-kerberos") / "squid.conf").read_text()
    assert "negotiate_kerberos_auth -k " in conf
    assert "auth_param basic" not in conf  # Kerberos only: nothing else could have let it in
    assert not any(s in run.results_file.read_text() for s in runs.secrets["proxy-kerberos"])


def test_without_a_ticket_kerberos_is_inconclusive(lab: Lab, tmp_path: Path) -> None:
    prof = profile.read(lab.configs("proxy-kerberos") / "profile.json")
    env = {**prof.env, "KRB5CCNAME": f"FILE:{tmp_path / 'no-such-ccache'}"}
    records = _probe_with(lab, "proxy-kerberos", tmp_path / "no-ticket.jsonl", env=env)
    _all_inconclusive(records, "it offers Negotiate")
