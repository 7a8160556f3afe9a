"""Benchmark: 1,000 targets on two cores, and not one false accusation (issue 13 §2).

``netcheck run --timeout 2`` over 1,000 targets on 1,000 host names in a simulated network
(``bench/_simnet.py``: a network namespace of its own, root; nothing leaves 127.0.0.0/8): a
quarter of the names resolve to an address whose SYNs are dropped (black-holed), a quarter to
one that refuses connections, half to an HTTPS site that works (UDP 443 there is dropped, as
QUIC often is). The same run first measures 60 targets of the same mix, to compare growth.

    python bench/scale.py [--targets 1000] [--small 60] [--timeout 2]

Prints whether every verdict is right (black-holed: blocked tcp-timeout; refused: blocked
tcp-reset; healthy: accessible), the wall time of each ``netcheck run`` process (target: 20 s
for 1,000), its peak RSS (target: 300 MB), and time per target at both sizes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402
from bench._simnet import in_own_netns, simulated  # noqa: E402

SITE, HOLE, REFUSING = "127.0.0.1", "127.0.0.2", "127.0.0.3"
#: what each kind of host must be called
EXPECTED = {
    "blackhole": ("blocked", "tcp-timeout"),
    "refused": ("blocked", "tcp-reset"),
    "healthy": ("accessible", None),
}
MAX_SECONDS, MAX_RSS_MB = 20.0, 300.0


def kind(i: int) -> str:
    return ("blackhole", "refused", "healthy", "healthy")[i % 4]


def names(prefix: str, count: int) -> dict[str, str]:
    return {f"{prefix}{i}.scale.test": kind(i) for i in range(count)}


def spec_for(hosts: dict[str, str], folder: str) -> dict[str, Any]:
    ip = {"blackhole": HOLE, "refused": REFUSING, "healthy": SITE}
    return {
        "folder": folder,
        "zone": {h: [ip[k]] for h, k in hosts.items()},
        "site_ip": SITE,
        "certs": {"scale": ["*.scale.test"]},
        "hosts": {h: "scale" for h, k in hosts.items() if k == "healthy"},
        "pages": {f"{h}/": ["Scale bench", "a working page"] for h in hosts},
        "black_holes": [HOLE],
        "udp_silent": [SITE],
    }


class Run(NamedTuple):
    seconds: float
    rss_mb: float
    cpu: float
    load: float
    records: list[dict[str, Any]]


def run(hosts: dict[str, str], folder: Path, dns_port: int, timeout: float) -> Run:
    """One ``netcheck run`` process over ``hosts``: wall and CPU seconds, peak RSS, records."""
    targets = folder / f"targets-{len(hosts)}.yaml"
    targets.write_text(
        "targets:\n"
        + "".join(f"  - {{url: 'https://{h}/', service: scale, function: view}}\n" for h in hosts),
        encoding="utf-8",
    )
    out = folder / f"out-{len(hosts)}.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    argv = [sys.executable, "-m", "netcheck", "run", "--targets", str(targets)]
    argv += ["--service", "scale", "--resolver", f"{SITE}:{dns_port}", "--proxy", "none"]
    argv += ["--allow-net", "127.0.0.0/8", "--ca-bundle", str(folder / "public-ca.pem")]
    argv += ["--timeout", f"{timeout:g}", "--out", str(out)]
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        assert proc.stderr is not None
        sys.exit(f"netcheck run failed ({status}): {proc.stderr.read()[-2000:]}")
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, cpu, load, records)


def judge(hosts: dict[str, str], records: list[dict[str, Any]]) -> list[str]:
    """Every target whose verdict is not what its host is."""
    wrong = []
    seen = set()
    for r in records:
        host = r["target"]["url"].split("/")[2]
        seen.add(host)
        got = (r["verdict"], r["technique"])
        if got != EXPECTED[hosts[host]]:
            wrong.append(f"{host} ({hosts[host]}): {got} {r['evidence']}")
    wrong += [f"{h}: no record" for h in hosts if h not in seen]
    return wrong


def misses(hosts: dict[str, str], records: list[dict[str, Any]]) -> dict[str, int]:
    """Wrong verdicts by kind: a healthy target called blocked is an accusation; one called
    inconclusive because the probe was busy is a miss the record explains."""
    found: collections.Counter[str] = collections.Counter()
    for r in records:
        kind = hosts[r["target"]["url"].split("/")[2]]
        if (r["verdict"], r["technique"]) != EXPECTED[kind]:
            busy = "probe's own machine was busy" in r["evidence"]
            found[f"{kind} -> {r['verdict']}{' (probe busy)' if busy else ''}"] += 1
    return dict(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--small", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    in_own_netns()
    small, large = names("s", args.small), names("h", args.targets)
    sizes = ((args.small, small), (args.targets, large))
    with tempfile.TemporaryDirectory() as tmp, simulated(spec_for(small | large, tmp)) as port:
        runs = {n: run(h, Path(tmp), port, args.timeout) for n, h in sizes}
    wrong = {n: judge(h, runs[n].records) for n, h in sizes}
    few, many = runs[args.small], runs[args.targets]
    ok = not any(wrong.values()) and many.seconds <= MAX_SECONDS and many.rss_mb <= MAX_RSS_MB
    lags = [r["steps"].get("loop_lag_ms") or 0.0 for r in many.records]
    retried = collections.Counter(s for r in many.records for s in r["steps"].get("retried", []))
    with published("scale"):
        mix = dict(collections.Counter(large.values()))
        print(
            f"{args.targets} targets on {len(large)} host names, --timeout {args.timeout:g}: {mix}"
        )
        for n, _ in sizes:
            r = runs[n]
            print(
                f"  {n:5d} targets: {len(r.records) - len(wrong[n])}/{n} verdicts right, "
                f"{r.seconds:6.2f} s wall ({r.seconds / n * 1000:5.1f} ms/target), "
                f"probe CPU {r.cpu:5.2f} s, peak RSS {r.rss_mb:5.1f} MB, load average {r.load:.1f}"
            )
        growth, work = many.seconds / few.seconds, args.targets / args.small
        print(f"time growth {args.small} -> {args.targets}: {growth:.2f}x for {work:.1f}x the work")
        print(
            f"wall time {many.seconds:.2f} s (target <= {MAX_SECONDS:g} s), "
            f"peak RSS {many.rss_mb:.1f} MB (target <= {MAX_RSS_MB:g} MB)"
        )
        print(f"wrong verdicts by kind: {misses(large, many.records) or 'none'}")
        print(f"worst event-loop stall charged to a verdict: {max(lags):.0f} ms", end="; ")
        print(f"stages retried once: {dict(retried)}")
        print("every verdict right and within every target: " + ("yes" if ok else "NO"))
    for n, lines in wrong.items():
        for line in lines[:20]:
            print(f"  wrong ({n}): {line}", file=sys.stderr)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
