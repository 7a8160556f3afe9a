"""One agent cycle: measure like ``netcheck run``, keep the records, deliver what is waiting.

In: the state folder and the run's options (the same as ``netcheck run``'s flags). Out: a
``CycleReport``. Order matters for "nothing is lost": the records are fsynced into the spool
before anything is sent, the spool is signed into batches, then the outbox is delivered — a
cycle that dies anywhere leaves everything for the next one. The records carry the network the
probe was enrolled with and the probe id the collector gave it, whatever the options said.
At most one bandwidth test a day (``--bandwidth``): it moves megabytes on a staff machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netcheck import runner
from netcheck.agent.spool import Spool
from netcheck.agent.state import AgentState, load_key, load_state
from netcheck.agent.uplink import Delivery, deliver
from netcheck.models import Result, utc_now

BANDWIDTH_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class CycleReport:
    measured: int
    dropped: int
    batches: int
    delivery: Delivery


def _bandwidth_due(state: AgentState, now: datetime) -> bool:
    if state.last_bandwidth is None:
        return True
    last = datetime.fromisoformat(state.last_bandwidth.replace("Z", "+00:00"))
    return now - last >= BANDWIDTH_EVERY


def measure(folder: Path, options: runner.RunOptions, note: Callable[[str], None]) -> list[Result]:
    state = load_state(folder)
    bandwidth = options.bandwidth and _bandwidth_due(state, datetime.now(UTC))
    if options.bandwidth and not bandwidth:
        note("bandwidth: measured less than a day ago; skipped this cycle")
    options = replace(options, network=state.network, probe_id=state.probe_id, bandwidth=bandwidth)
    plan = runner.plan_run(options, os.environ)
    results = asyncio.run(runner.measure(plan, lambda _: None))
    if bandwidth:
        results = runner.measure_goodput(plan, results, note)
        state = load_state(folder)
        state.last_bandwidth = utc_now()
        state.save(folder)
    return results


def keep_and_deliver(
    folder: Path, results: list[Result], *, budget: float = 300.0, spool: Spool | None = None
) -> CycleReport:
    """Spool ``results`` (fsynced), sign the spool into batches, deliver the outbox."""
    spool = spool or Spool(folder)
    state = load_state(folder)
    load_key(folder)  # a key that does not load stops here, before the records are spooled
    spool.check()
    spool.add([r.model_dump(mode="json") for r in results])
    dropped = spool.enforce_caps(state)
    made = spool.pack(state, load_key(folder), folder)
    delivery = deliver(state, folder, spool, budget=budget)
    return CycleReport(len(results), dropped, len(made), delivery)


def lower_priority() -> None:
    """Low CPU and I/O priority: the agent must not be noticed on a staff machine."""
    with contextlib.suppress(OSError):
        os.nice(10)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def next_sleep(every: float, jitter: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds until the next cycle: the interval plus a uniform jitter (machines do not align)."""
    return every + rng() * jitter


def sleep_until_next(every: float, jitter: float) -> None:
    time.sleep(next_sleep(every, jitter))
