"""The probe: a run over many targets, each measured by the one pipeline, then classified.

In: targets and a ``ProbeConfig``. Out: one ``Result`` per target, handed to a callback the
moment it is finished (so the JSON Lines file grows as the run goes and a crash loses nothing).

What the run adds to ``measure.pipeline``:
- concurrency in two tiers (``Slots``): reachability (DNS queries, TCP connects: a packet each)
  for up to ``REACH_PER_SLOT × concurrency`` targets at once, bounded by the file descriptors
  the process may open, so a few hundred black-holed targets cost about two timeouts, not one
  each; TLS and HTTP, which move real bytes, for at most ``concurrency`` targets and at most
  ``per_host`` per host name;
- one QUIC probe per host and address for the whole run (``QuicProbes``);
- the event loop's own lag (``LoopLag``), recorded per target as ``steps.loop_lag_ms``: the
  worst stall during the last step that timed out (else during the whole measurement), so the
  classifier can tell a busy probe from a network that drops packets;
- the control vantage asked about the same URL while the probe measures it.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netcheck import __version__
from netcheck.classify import classify
from netcheck.classify.evidence import expect_of
from netcheck.classify.fingerprints import Fingerprints, load_fingerprints
from netcheck.failures import GENERIC_TIMEOUT
from netcheck.measure import tls
from netcheck.measure.pipeline import Limits, Pipeline, Slots
from netcheck.measure.proxy import PacEvaluator, ProxySettings, proxy_for_url
from netcheck.measure.quic import QuicProbes
from netcheck.measure.steplog import StepLog
from netcheck.measure.trust import Trust
from netcheck.models import (
    ControlEvidence,
    DnsStep,
    HttpStep,
    ProbeInfo,
    Result,
    Steps,
    Target,
    TcpStep,
    TlsStep,
    utc_now,
)

#: targets probing reachability at once, per unit of ``concurrency``
REACH_PER_SLOT = 16
#: file descriptors one reaching target may hold (DNS sockets, a TCP socket per address)
FDS_PER_REACH = 8
#: the lag sampler's resolution around a deadline (seconds)
SLACK = 0.02


class ControlSource(Protocol):
    """A second vantage asked about the same URL while the probe measures it
    (``netcheck.control.client.ControlClient``); the probe only needs its answer."""

    async def evidence_for(self, url: str) -> ControlEvidence: ...


@dataclass(frozen=True)
class ProbeConfig:
    trust: Trust
    proxy: ProxySettings
    pac: PacEvaluator | None = None
    resolvers: Sequence[tuple[str, int]] | None = None
    allow_nets: Sequence[str] = ()
    fingerprints: Fingerprints | None = None
    timeout: float = 5.0
    concurrency: int = 16
    per_host: int = 4
    max_body: int = 262_144
    network: str | None = None
    probe_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: a control vantage asked for the same URL while the probe measures it (issue 7)
    control: ControlSource | None = None

    @property
    def target_deadline(self) -> float:
        """Cap on one target's whole measurement: DNS, TCP, TLS and up to 10 redirect hops."""
        return self.timeout * 8


class LoopLag:
    """How late the event loop wakes a sleeper: the probe's own busyness, sampled every
    ``interval`` seconds. Only lags over ``floor`` are kept (a bounded deque of (end, lag))."""

    def __init__(self, interval: float = 0.05, floor: float = 0.02, keep: int = 8192) -> None:
        self.interval = interval
        self.floor = floor
        self._lags: deque[tuple[float, float]] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None
        self._users = 0
        self._due: float | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LoopLag]:
        """Sample while the block runs (nested uses share one sampler)."""
        self._users += 1
        if self._task is None:
            self._task = asyncio.create_task(self._sample())
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag = loop.time() - self._due
            if lag > self.floor:
                self._lags.append((loop.time(), lag))

    def _stalls(self, start: float, end: float) -> list[tuple[float, float]]:
        """Stalls as (began, stopped) intervals overlapping ``[start, end]`` (loop time, which
        is ``time.monotonic``), a stall still going on now included."""
        found = [
            (stop - lag, stop) for stop, lag in self._lags if stop >= start and stop - lag <= end
        ]
        now = asyncio.get_running_loop().time()
        if self._due is not None and now > self._due and self._due <= end:
            found.append((self._due, now))
        return found

    def cost(
        self, step: DnsStep | TcpStep | TlsStep | HttpStep, t0: float, timeout: float
    ) -> float:
        """Seconds of stall that may have cost ``step`` its answer, judged up to its deadline
        (``timeout`` after it began; stalls that began later, such as the burst of work when
        many timeouts fire at once, came after the verdict was sealed). A DNS query or a TCP
        connect waits one round trip: a stall ruins it only if it spans the deadline (an answer
        that arrived just before was read after). A handshake or an HTTP exchange waits several:
        every stall inside the step delays it, so they add up."""
        start = t0 + step.t0_ms / 1000
        deadline = min(start + step.runtime_ms / 1000, start + timeout)
        stalls = self._stalls(start, deadline)
        if isinstance(step, DnsStep | TcpStep):
            return max((b - a for a, b in stalls if a <= deadline <= b + SLACK), default=0.0)
        return sum(max(0.0, min(b, deadline) - max(a, start)) for a, b in stalls)

    def behind(self, log: StepLog, began: float, timeout: float) -> float:
        """The stall that matters for this URL's verdict: what it may have cost the last step
        that timed out (its retry, if it had one: a stall in a first attempt that the retry
        survived is no excuse), else the worst stall during the whole measurement."""
        steps: list[DnsStep | TcpStep | TlsStep | HttpStep] = [
            *log.dns,
            *log.tcp,
            *log.tls,
            *log.http,
        ]
        timed_out = [s for s in steps if s.failure == GENERIC_TIMEOUT]
        if timed_out:
            last = max(timed_out, key=lambda s: s.t0_ms + s.runtime_ms)
            return self.cost(last, log.t0, timeout)
        now = asyncio.get_running_loop().time()
        return max((b - a for a, b in self._stalls(began, now)), default=0.0)


def reach_slots(concurrency: int) -> int:
    """Targets probing reachability at once: ``REACH_PER_SLOT × concurrency``, within what
    the process's file descriptor limit allows (raised to its hard limit first)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    wanted = max(1, concurrency * REACH_PER_SLOT)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(concurrency, min(wanted, (soft - 64) // FDS_PER_REACH))


class Probe:
    """One run: shared limits, the probe's identity, and the pipeline every target goes through."""

    def __init__(self, config: ProbeConfig) -> None:
        self.config = config
        self.info = ProbeInfo(
            id=config.probe_id,
            software_version=__version__,
            started_at=utc_now(),
            network=config.network,
            resolvers=[f"{ip}:{port}" for ip, port in config.resolvers or ()],
            proxy=_describe_proxy(config.proxy),
            allow_nets=list(config.allow_nets),
        )
        # parsed now, not at the first classification: that would stall the run mid-way
        self.fingerprints = config.fingerprints or load_fingerprints()
        self.lag = LoopLag()
        self.quic = QuicProbes(config.timeout)
        self._runs = 0
        self.pipeline = Pipeline(
            trust=config.trust,
            limits=Limits(
                timeout=config.timeout,
                deadline=config.target_deadline,
                max_body=config.max_body,
            ),
            resolvers=config.resolvers,
            proxy_for=lambda url: proxy_for_url(config.proxy, config.pac, url),
            proxy_auth=config.proxy.session_for,
            slots=Slots(
                reach=asyncio.Semaphore(reach_slots(config.concurrency)),
                heavy=asyncio.Semaphore(max(1, config.concurrency)),
                per_host=config.per_host,
            ),
            quic=self.quic,
        )

    async def run(
        self, targets: Sequence[Target], on_result: Callable[[Result], Awaitable[None] | None]
    ) -> list[Result]:
        results: list[Result] = []

        async def one(target: Target) -> None:
            result = await self.measure(target)
            results.append(result)
            done = on_result(result)
            if done is not None:
                await done

        if self.config.pac is not None:  # dead PAC proxies are passed over, as browsers do
            await self.config.pac.check_proxies([t.url for t in targets], self.config.timeout)
        self._runs += 1
        try:
            async with self.lag.running(), asyncio.TaskGroup() as group:
                for target in targets:
                    group.create_task(one(target))
        finally:
            self._runs -= 1
            if not self._runs:
                self.quic.close()
        return results

    async def measure(self, target: Target) -> Result:
        measured_at = utc_now()
        loop = asyncio.get_running_loop()
        asking = self.config.control
        control_task = asyncio.create_task(asking.evidence_for(target.url)) if asking else None
        async with self.lag.running():
            began = loop.time()
            log = StepLog()
            try:
                await self.pipeline.measure(target.url, log)
                # the client has its own deadline: this wait is bounded
                control = await control_task if control_task is not None else None
            finally:
                if control_task is not None:
                    control_task.cancel()  # no-op once done; stops it if we are cancelled
            lag_ms = round(self.lag.behind(log, began, self.config.timeout) * 1000, 1)
        if not self._runs:
            self.quic.close()  # measured alone: no later target will read its QUIC probe
        steps = tls.note_cert_names(log.freeze(loop_lag_ms=lag_ms), expect_of(target).cert_names)
        return self._finish(target, steps, measured_at, log.t0, control)

    def _finish(
        self,
        target: Target,
        steps: Steps,
        measured_at: str,
        t0: float,
        control: ControlEvidence | None = None,
    ) -> Result:
        found = classify(
            target,
            steps,
            allow_nets=self.config.allow_nets,
            fingerprints=self.fingerprints,
            control=control,
        )
        return Result(
            id=uuid.uuid4().hex,
            probe=self.info,
            target=target,
            measured_at=measured_at,
            verdict=found.verdict,
            technique=found.technique,
            vendor=found.vendor,
            intercepted=found.intercepted,
            evidence=found.evidence,
            steps=steps,
            runtime_ms=round((time.monotonic() - t0) * 1000, 3),
            control=control,
        )


def _describe_proxy(settings: ProxySettings) -> str | None:
    return settings.display  # credentials shown as ***
