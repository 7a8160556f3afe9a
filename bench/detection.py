"""Detection benchmark: does netcheck name the technique each lab scenario uses?

Run as root: ``python bench/detection.py [--scenario all] [--state-dir DIR] [--keep]``.

For every lab scenario it applies the scenario, runs the real probe in the client namespace, and
counts (expected technique x reported technique) over all measured targets; a scenario is named
correctly when every one of its targets reports what the scenario says. In the same run it points
Debian's prometheus-blackbox-exporter (started in the client namespace, trusting the same CAs and
using the same proxy and the same proxy password) at the same targets, as the peer an IT
department already runs: it reports success or failure only, so it is scored on that — did it
fail exactly the targets that are not accessible? (It has no Kerberos: behind a proxy that wants
a ticket it can only fail.)

Prints the confusion table, the peer's figure, the probe's own runtime on a clean network with
UDP 443 dropped beside the clean one's (QUIC must not slow a run), and last
``scenarios named correctly: N/M``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from _figures import published  # bench/ is sys.path[0] when run as a script

from netcheck.lab import accounts, topology
from netcheck.lab.daemons import wait_listening
from netcheck.lab.lifecycle import Lab
from netcheck.lab.runner import ScenarioRun, run_scenario
from netcheck.lab.scenarios import Scenario, select

EXPORTER = "prometheus-blackbox-exporter"
EXPORTER_ADDR = ("127.0.0.1", 9115)
PEER_TIMEOUT = "4s"


def _expected_label(scenario: Scenario, record: dict[str, object]) -> str:
    rule = next((e for e in scenario.expect if e.selects(record)), None)
    if rule is None or rule.verdict == "accessible":
        return "accessible"
    return str(rule.technique or rule.verdict)  # "unreachable" has no technique


def _reported_label(record: dict[str, object]) -> str:
    if record.get("verdict") == "accessible":
        return "accessible"
    return str(record.get("technique") or record.get("verdict"))


def print_confusion(counts: Counter[tuple[str, str]]) -> None:
    rows = sorted({e for e, _ in counts})
    cols = sorted({r for _, r in counts})
    width = max(len(x) for x in rows + cols + ["expected \\ reported"]) + 1
    print("expected \\ reported".ljust(width) + "".join(c[:14].rjust(15) for c in cols))
    for row in rows:
        cells = "".join(str(counts.get((row, c), "")).rjust(15) for c in cols)
        print(row.ljust(width) + cells)


# --- the peer: prometheus-blackbox-exporter --------------------------------------------------


def _peer_proxies(lab: Lab) -> dict[str, str]:
    """The exporter's proxy per scenario ``credentials``: what the probe is given, as far as
    the exporter can take it (a password in the URL, sent as Basic; no Kerberos)."""
    by_address = f"http://{topology.GW_INSIDE_IP}:{topology.PROXY_PORT}"
    passwords = {
        "password": lab.accounts.password_file,
        "wrong-password": lab.accounts.wrong_password_file,
    }
    proxies = {"none": by_address, "ticket": f"http://{accounts.PROXY_FQDN}:{topology.PROXY_PORT}"}
    for credentials, path in passwords.items():
        secret = path.read_text().strip()
        proxies[credentials] = accounts.with_credentials(by_address, accounts.STAFF_USER, secret)
    return proxies


def peer_module(scenario: Scenario) -> str:
    return f"proxied-{scenario.credentials}" if scenario.proxied else "direct"


def start_peer(lab: Lab) -> None:
    bundle = lab.state / "peer-ca-bundle.pem"
    bundle.write_text(lab.pki.public_ca.read_text() + lab.pki.corporate_ca.read_text())
    http = {
        "preferred_ip_protocol": "ip4",
        "ip_protocol_fallback": False,
        "tls_config": {"ca_file": str(bundle)},
    }
    modules: dict[str, object] = {
        "direct": {"prober": "http", "timeout": PEER_TIMEOUT, "http": http}
    }
    for credentials, proxy_url in _peer_proxies(lab).items():
        modules[f"proxied-{credentials}"] = {
            "prober": "http",
            "timeout": PEER_TIMEOUT,
            # without this the exporter resolves the name itself and CONNECTs to the IP,
            # which slips past a proxy's domain rules: configure it the fair way
            "http": {**http, "proxy_url": proxy_url, "skip_resolve_phase_with_proxy": True},
        }
    path = lab.state / "blackbox.yml"
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)  # it holds the staff password, as the probe's command line does
    path.write_text(yaml.safe_dump({"modules": modules}))
    lab.daemons.stop("blackbox")
    listen = f"{EXPORTER_ADDR[0]}:{EXPORTER_ADDR[1]}"
    argv = [EXPORTER, f"--config.file={path}", f"--web.listen-address={listen}"]
    lab.daemons.start("blackbox", topology.CLIENT, argv)
    if not wait_listening(topology.CLIENT, "tcp", *EXPORTER_ADDR):
        raise SystemExit(f"{EXPORTER} did not start:\n{lab.daemons.log_tail('blackbox')}")


def peer_probe(url: str, module: str) -> bool:
    query = f"http://{EXPORTER_ADDR[0]}:{EXPORTER_ADDR[1]}/probe?module={module}&target={url}"
    out = topology.ns_run(
        topology.CLIENT, ["curl", "-s", "--max-time", "10", "-g", query], check=False
    )
    match = re.search(r"^probe_success (\S+)$", out, re.M)
    return match is not None and float(match.group(1)) == 1.0


def peer_scores(run: ScenarioRun, seen: Counter[tuple[str, str]]) -> bool:
    """True when the exporter failed exactly the targets the scenario blocks; counts into
    ``seen`` (expected label x the exporter's success/failure)."""
    module = peer_module(run.scenario)
    urls = [str(r["target"]["url"]) for r in run.records]  # type: ignore[index]
    with ThreadPoolExecutor(max_workers=16) as pool:
        successes = list(pool.map(lambda u: peer_probe(u, module), urls))
    right = True
    for record, success in zip(run.records, successes, strict=True):
        expected = _expected_label(run.scenario, record)
        seen[(expected, "success" if success else "failure")] += 1
        right = right and success == (expected == "accessible")
    return right


def classes_told_apart(counts: Counter[tuple[str, str]]) -> int:
    """Expected classes whose reports never land in a column another class also lands in."""
    columns: dict[str, set[str]] = {}
    for expected, reported in counts:
        columns.setdefault(reported, set()).add(expected)
    return sum(1 for labels in columns.values() if len(labels) == 1)


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="all")
    parser.add_argument("--state-dir", type=Path, default=Path("/run/netcheck-lab-bench"))
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args()
    chosen = select(args.scenario)
    lab = Lab(args.state_dir)
    counts: Counter[tuple[str, str]] = Counter()
    peer_counts: Counter[tuple[str, str]] = Counter()
    named = peer_right = 0
    #: browser scenarios (run --browser, issue 16): named, and pages judged degraded as expected
    browser_named = browser_total = degraded_right = degraded_total = 0
    probe_seconds: dict[str, float] = {}
    start = time.monotonic()
    with lab.locked():
        lab.up(chosen[0])
        start_peer(lab)
        try:
            for scenario in chosen:
                run = run_scenario(lab, scenario)
                for record in run.records:
                    counts[(_expected_label(scenario, record), _reported_label(record))] += 1
                peer_ok = peer_scores(run, peer_counts)
                named += run.ok
                if scenario.browser:
                    browser_total += 1
                    browser_named += run.ok
                    for record in run.records:
                        rule = next((e for e in scenario.expect if e.selects(record)), None)
                        if rule is not None and rule.verdict == "degraded":
                            degraded_total += 1
                            degraded_right += record.get("verdict") == "degraded" and (
                                record.get("technique") == rule.technique
                            )
                peer_right += peer_ok
                probe_seconds[scenario.name] = run.probe_seconds
                print(
                    f"{scenario.name:<28} netcheck {'named' if run.ok else 'WRONG'}   "
                    f"blackbox {'right' if peer_ok else 'wrong'} (success/failure)   "
                    f"probe {run.probe_seconds:4.1f} s, {len(run.records)} targets",
                    flush=True,
                )
                for outcome in run.outcomes:
                    if not outcome.ok:
                        print(
                            f"    {outcome.url}: expected {outcome.expected}, "
                            f"reported {outcome.reported}"
                        )
        finally:
            if not args.keep:
                lab.down()
    print()
    print("confusion (targets): expected technique x reported technique")
    print_confusion(counts)
    print()
    m = len(chosen)
    classes = len({e for e, _ in counts})
    print(f"time: {time.monotonic() - start:.0f} s")
    if {"clean", "quic-dropped-clean"} <= probe_seconds.keys():
        clean, dropped = probe_seconds["clean"], probe_seconds["quic-dropped-clean"]
        print(
            f"QUIC dropped vs answered (whole catalogue, probe only): quic-dropped-clean "
            f"{dropped:.1f} s, clean {clean:.1f} s, ratio {dropped / clean:.2f}"
        )
    print(
        f"outcome classes told apart: netcheck {classes_told_apart(counts)}/{classes}, "
        f"blackbox-exporter {classes_told_apart(peer_counts)}/{classes}"
    )
    print(
        f"peer prometheus-blackbox-exporter: success/failure right in {peer_right}/{m} scenarios;"
        f" techniques named 0/{m} (it reports success or failure only)"
    )
    if browser_total:
        print(
            f"browser mode (run --browser): scenarios named {browser_named}/{browser_total}; "
            f"pages degraded by one blocked dependency named with its technique "
            f"{degraded_right}/{degraded_total}"
        )
    print(f"scenarios named correctly: {named}/{m}")
    return 0 if named == m else 1


if __name__ == "__main__":
    with published("detection"):
        status = main()
    sys.exit(status)
