"""Benchmark: what a clean run of the whole built-in catalogue costs (issue 13 §4).

The catalogue (``builtin_targets``) against a simulated clean network (``bench/_simnet.py``, a
network namespace of its own, root): a local DNS server answers every catalogue name with
127.0.0.1, where an HTTPS server with a certificate per service (from a test CA given as
``--ca-bundle``) serves each target the page its catalogue entry expects, and UDP 443 is read
and never answered, as the many firewalls that drop QUIC do. Nothing leaves 127.0.0.0/8.

    python bench/footprint.py [--timeout 5]

Prints the run's wall time, the bytes on the simulated wire (everything ``lo`` carried in the
namespace: DNS, TCP, TLS, HTTP and QUIC, both directions) and the probe process's peak RSS,
against the targets: at most 5 s, 1 MB and 150 MB. Every target must come out accessible.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402
from bench._simnet import in_own_netns, loopback_bytes, simulated  # noqa: E402
from netcheck.measure.probe import Probe, ProbeConfig  # noqa: E402
from netcheck.measure.proxy import ProxySettings  # noqa: E402
from netcheck.measure.trust import Trust  # noqa: E402
from netcheck.models import Result, Target  # noqa: E402
from netcheck.netaddr import url_host  # noqa: E402
from netcheck.targets.catalogue import builtin_targets  # noqa: E402

MAX_SECONDS, MAX_BYTES, MAX_RSS_MB = 5.0, 1_000_000, 150.0
SITE = "127.0.0.1"


def spec_for(targets: list[Target], folder: str) -> dict[str, Any]:
    """The clean network: every name at SITE, one certificate per service, expected pages."""
    certs: dict[str, set[str]] = collections.defaultdict(set)
    hosts: dict[str, str] = {}
    pages: dict[str, list[str]] = {}
    for t in targets:
        host = url_host(t.url)
        group = hosts.setdefault(host, t.service)
        certs[group].update([host, *t.expect.cert_names])
        path = t.url.split(host, 1)[1].split("?", 1)[0] or "/"
        words = " ".join(t.expect.title_contains) or t.service
        pages[host + path] = [words, " ".join(t.expect.body_contains) or words]
    return {
        "folder": folder,
        "zone": {h: [SITE] for h in hosts},
        "site_ip": SITE,
        "certs": {g: sorted(names) for g, names in certs.items()},
        "hosts": hosts,
        "pages": pages,
        "udp_silent": [SITE],
    }


async def run(targets: list[Target], cfg: ProbeConfig) -> tuple[list[Result], float]:
    got: list[Result] = []
    start = time.monotonic()
    await Probe(cfg).run(targets, got.append)
    return got, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=ProbeConfig.timeout)
    args = parser.parse_args()
    in_own_netns()
    targets = builtin_targets()
    with tempfile.TemporaryDirectory() as folder, simulated(spec_for(targets, folder)) as port:
        cfg = ProbeConfig(
            trust=Trust(public_ca=f"{folder}/public-ca.pem"),
            proxy=ProxySettings(mode="none"),
            resolvers=[(SITE, port)],
            allow_nets=["127.0.0.0/8"],
            timeout=args.timeout,
        )
        before, packets_before = loopback_bytes()
        load = os.getloadavg()[0]
        cpu = time.process_time()
        results, seconds = asyncio.run(run(targets, cfg))
        cpu = time.process_time() - cpu
        after, packets_after = loopback_bytes()
    moved, packets = after - before, packets_after - packets_before
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdicts = collections.Counter(r.verdict for r in results)
    quic = {(q.ip, url_host(r.target.url)) for r in results for q in r.steps.quic}
    quic_fail = collections.Counter(q.failure for r in results for q in r.steps.quic)
    wrong = [r for r in results if r.verdict != "accessible"]
    ok = not wrong and seconds <= MAX_SECONDS and moved <= MAX_BYTES and rss_mb <= MAX_RSS_MB
    with published("footprint"):
        hosts = len({url_host(t.url) for t in targets})
        print(f"built-in catalogue: {len(targets)} targets on {hosts} hosts", end=", ")
        print(f"--timeout {args.timeout:g}")
        print("clean simulated network: DNS and HTTPS answer, UDP 443 silently dropped")
        print(f"verdicts: {dict(verdicts)}")
        print(f"QUIC probes: {len(quic)} (one per host and address), outcomes {dict(quic_fail)}")
        print(f"wall time:  {seconds:6.2f} s    (target <= {MAX_SECONDS:g} s)", end=", ")
        print(f"probe CPU {cpu:.2f} s, machine load average {load:.1f} on {os.cpu_count()} cores")
        print(f"bytes moved: {moved / 1e6:6.3f} MB in {packets} packets", end=" ")
        print(f"(target <= {MAX_BYTES / 1e6:g} MB)")
        print(f"peak RSS:   {rss_mb:6.1f} MB   (target <= {MAX_RSS_MB:g} MB)")
        print("within every target: " + ("yes" if ok else "NO"))
    for r in wrong:
        print(
            f"  not accessible: {r.target.url}: {r.verdict} {r.technique} {r.evidence}",
            file=sys.stderr,
        )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
