"""Benchmark: 1,000 probes each uploading a day of results at once to one collector.

A real collector process (``netcheck server serve``, uvicorn, one process) on 127.0.0.1; the
probes are simulated in this process: each is enrolled through the API, and its day of results
(``--records`` per probe: 24 hourly runs of a few targets by default) is signed into batches
*before* the clock starts, so only the upload is timed. All probes send at once (one connection
each, at most ``--concurrency`` in flight). Prints records per second over the whole upload,
p50/p99 latency of a batch (request sent to answer), and checks every record was stored exactly
once.

    python bench/ingest.py [--probes 1000] [--records 96] [--batch 96] [--concurrency 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import published  # noqa: E402
from netcheck.fleet.evidence import GENESIS, new_key, public_b64, sign_batch  # noqa: E402
from netcheck.server.store import Store  # noqa: E402
from tests.fleet.support import TEMPLATE, Collector  # noqa: E402


def day_of_records(network: str, n: int) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        rec = copy.deepcopy(TEMPLATE)
        rec["id"] = uuid.uuid4().hex
        rec["probe"]["network"] = network
        rec["measured_at"] = f"2026-11-30T{i % 24:02d}:{i % 60:02d}:00.000Z"
        out.append(rec)
    return out


async def upload(
    url: str, batches: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float], int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    refused = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:

        async def one(probe: str, body: bytes) -> None:
            nonlocal refused
            async with gate:
                while True:
                    t0 = time.perf_counter()
                    answer = await client.post(
                        "/v1/batches", content=body, headers={"x-netcheck-probe": probe}
                    )
                    if answer.status_code == 200:
                        latencies.append(time.perf_counter() - t0)
                        return
                    refused += 1
                    await asyncio.sleep(float(answer.headers.get("retry-after", "1")))

        start = time.perf_counter()
        # each probe sends its batches in order; all probes at once
        by_probe: dict[str, list[bytes]] = {}
        for probe, body in batches:
            by_probe.setdefault(probe, []).append(body)

        async def probe_run(probe: str, bodies: list[bytes]) -> None:
            for body in bodies:
                await one(probe, body)

        await asyncio.gather(*(probe_run(p, b) for p, b in by_probe.items()))
        return time.perf_counter() - start, latencies, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--records", type=int, default=96, help="records per probe (a day)")
    parser.add_argument("--batch", type=int, default=96, help="records per batch")
    parser.add_argument("--concurrency", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        c = Collector(data).start("--rate", "1000")
        try:
            store = Store(data)
            codes = [store.create_code("bench", 3600) for _ in range(args.probes)]
            store.close()
            probes = []
            with httpx.Client(base_url=c.url) as http:
                for code in codes:
                    key = new_key()
                    answer = http.post(
                        "/v1/enroll", json={"code": code, "public_key": public_b64(key)}
                    )
                    probes.append((answer.json()["probe_id"], key))
            batches: list[tuple[str, bytes]] = []
            for probe, key in probes:
                records = day_of_records("bench", args.records)
                prev = GENESIS
                for seq, start in enumerate(range(0, len(records), args.batch), start=1):
                    signed = sign_batch(
                        key,
                        probe=probe,
                        seq=seq,
                        prev=prev,
                        records=records[start : start + args.batch],
                        sent_at="t",
                    )
                    batches.append((probe, signed.to_wire()))
                    prev = signed.sha256
            total = args.probes * args.records
            megabytes = sum(len(b) for _, b in batches) / 1e6
            seconds, latencies, refused = asyncio.run(upload(c.url, batches, args.concurrency))
        finally:
            c.stop()
        with sqlite3.connect(data / "collector.sqlite3") as db:
            stored = db.execute("SELECT count(DISTINCT sha256) FROM records").fetchone()[0]
            rows = db.execute("SELECT count(*) FROM records").fetchone()[0]
    lat = sorted(latencies)
    with published("ingest"):
        print(
            f"probes: {args.probes}, each a day of {args.records} records in batches of "
            f"{args.batch} ({len(batches)} batches, {megabytes:.0f} MB), all at once"
        )
        print("collector: one uvicorn process; SQLite WAL, synchronous=FULL; Parquet archive")
        print(
            f"stored {stored} distinct records in {rows} rows for {total} sent "
            f"({'every record exactly once' if stored == rows == total else 'MISMATCH'})"
        )
        print(
            f"upload wall time: {seconds:.1f} s -> {total / seconds:,.0f} records/s "
            f"({len(batches) / seconds:.0f} batches/s)"
        )
        print(
            f"batch latency: p50 {statistics.median(lat) * 1000:.0f} ms, "
            f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.0f} ms; retries after 429/503: "
            f"{refused}"
        )


if __name__ == "__main__":
    main()
