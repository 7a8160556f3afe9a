"""Benchmark: 60 black-holed targets, ``netcheck run`` against a sequential ``curl`` loop.

Both meet the same black hole in the same run: a loopback listener whose accept queue is full,
so every SYN is dropped and each connection waits for its timeout (no root, nothing leaves
127.0.0.1). Names resolve through a local DNS server for netcheck and ``--resolve`` for curl.

    python bench/speed.py [--targets 60] [--timeout 1]

Prints both wall times and their ratio. netcheck probes reachability for up to 16 × concurrency
targets at once, so the whole run should cost about two timeouts (a connect that timed out is
tried once more).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402
from tests.support.servers.dns import DnsServer  # noqa: E402
from tests.support.servers.tls import tcp_black_hole  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()

    names = [f"t{i}.blackhole.test" for i in range(args.targets)]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    port_box: list[int] = []

    async def hole() -> None:
        async with tcp_black_hole() as (_, port):
            port_box.append(port)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(hole(),), daemon=True)
    thread.start()
    ready.wait(10)
    port = port_box[0]

    with DnsServer({n: ["127.0.0.1"] for n in names}) as dns, tempfile.TemporaryDirectory() as tmp:
        targets = Path(tmp) / "targets.yaml"
        targets.write_text(
            "targets:\n"
            + "".join(
                f"  - url: https://{n}:{port}/\n    service: bench\n    function: view\n"
                for n in names
            ),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "netcheck", "run", "--targets", str(targets),
             "--service", "bench", "--resolver", dns.spec, "--allow-net", "127.0.0.0/8",
             "--proxy", "none", "--timeout", str(args.timeout),
             "--out", str(Path(tmp) / "out.jsonl"), "--json"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        netcheck_s = time.monotonic() - start
        techniques = {json.loads(line)["technique"] for line in proc.stdout.splitlines()}
        if proc.returncode != 1 or techniques != {"tcp-timeout"}:
            sys.exit(
                f"netcheck did not report tcp-timeout for all targets: {techniques}\n{proc.stderr}"
            )

        start = time.monotonic()
        for n in names:
            subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "--noproxy", "*",
                 "--connect-timeout", str(args.timeout),
                 "--resolve", f"{n}:{port}:127.0.0.1", f"https://{n}:{port}/"],
                check=False,
            )  # fmt: skip
        curl_s = time.monotonic() - start

    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    print(f"targets: {args.targets} black-holed, step timeout {args.timeout:g} s")
    print(f"netcheck run (default --concurrency 16): {netcheck_s:7.2f} s wall")
    print(f"sequential curl loop:                    {curl_s:7.2f} s wall")
    print(f"ratio curl/netcheck: {curl_s / netcheck_s:.1f}x")


if __name__ == "__main__":
    with published("speed"):
        main()
