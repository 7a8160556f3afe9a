"""The one measurement pipeline: DNS -> TCP (QUIC beside it) -> TLS -> HTTP for one URL.

In: a URL and a ``Pipeline`` (resolvers, trust, ``Limits``, how to route each hop, and optional
hooks: a ``Guard`` that may refuse destinations, run-level ``Slots``, the run's ``QuicProbes``).
Out: a ``StepLog`` holding every step attempted, in stage order; ``freeze`` makes it ``Steps``.

The probe (``measure.probe``) and the control vantage (``control.measure``) both measure
through here, so both sides measure alike and keep the same guarantees:
- every step is recorded the moment it ends, failed or not; when the URL's overall deadline
  fires, the steps measured so far stay and a timed-out step is added for the running stage;
- bytes (``max_body``) and time (per step, per URL) are capped;
- names are resolved by the DNS stage only; TCP, TLS and HTTP connect to those addresses;
- a stage whose steps all timed out is tried once more (only the first such stage, so a black
  hole costs two timeouts, not one per stage), and ``Steps.retried`` names it: a probe too busy
  to read an answer in time must not read as a network that dropped it;
- QUIC runs beside TCP with its own short deadline (``quic.rtt_deadline``), once per host and
  address per run, and is awaited after the TLS/HTTP slots are released.

The control's guards are hooks, not a copy: ``Guard.destination`` is asked about every resolved
address (the connection then goes to exactly the addresses checked, so DNS rebinding cannot slip
in between) and ``Guard.hop`` about every redirect hop before anything is sent. A refusal ends
the measurement with ``StepLog.refused`` set.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from netcheck.failures import GENERIC_TIMEOUT
from netcheck.measure import dns, http, tcp, tls
from netcheck.measure.quic import QuicProbes, SharedProbe
from netcheck.measure.steplog import StepLog
from netcheck.measure.trust import Trust
from netcheck.models import DnsStep, TcpStep, TlsStep
from netcheck.netaddr import host_key, is_ip_literal, split_url

if TYPE_CHECKING:  # the run level lives in measure.probe; its old import path still works
    from netcheck.measure.probe import ControlSource, Probe, ProbeConfig  # noqa: F401

#: most addresses of one URL that get a TLS handshake (TCP goes to every answer by default)
MAX_TLS_ADDRESSES = 4

ProxyFor = Callable[[str], str | None]
S = TypeVar("S", DnsStep, TcpStep, TlsStep)


@dataclass(frozen=True)
class Limits:
    """Caps on one URL's measurement: per step (``timeout``), per URL (``deadline``), bytes."""

    timeout: float = 5.0
    deadline: float = 40.0
    max_body: int = 262_144
    keep_body: int = 65_536
    max_redirects: int = 10
    #: addresses of one name connected to (None: every answer)
    max_addresses: int | None = None
    max_tls: int = MAX_TLS_ADDRESSES
    #: try the first stage whose steps all timed out once more
    retry_timeouts: bool = True


class Guard(Protocol):
    """Where the measurement may go (the control's destination policy)."""

    def destination(self, ip: str) -> str | None:
        """Why ``ip`` must not be connected to, or None."""
        ...

    def hop(self, url: str) -> str | None:
        """Why ``url`` must not be fetched, or None."""
        ...


class Refused(Exception):
    """A guard refused a destination; the measurement ends (``StepLog.refused`` says why)."""


@dataclass
class Slots:
    """Run-level concurrency: reachability (DNS, TCP: a packet each), the heavy phase (TLS and
    HTTP move real bytes) and a per-host cap inside it."""

    reach: asyncio.Semaphore
    heavy: asyncio.Semaphore
    per_host: int
    _hosts: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def host(self, name: str) -> asyncio.Semaphore:
        return self._hosts.setdefault(host_key(name), asyncio.Semaphore(max(1, self.per_host)))


def _timed_out(steps: Sequence[TcpStep | TlsStep | DnsStep]) -> bool:
    return any(s.failure == GENERIC_TIMEOUT for s in steps)


@dataclass(frozen=True)
class Pipeline:
    """How one vantage measures a URL; ``measure(url)`` runs the stages under the caps."""

    trust: Trust
    limits: Limits = field(default_factory=Limits)
    resolvers: Sequence[tuple[str, int]] | None = None
    #: URL -> proxy URL or None (DIRECT), asked at every hop; None: never a proxy
    proxy_for: ProxyFor | None = None
    #: proxy URL -> a fresh answerer to its 407 (``ProxySettings.session_for``); None: no auth
    proxy_auth: http.ProxyAuth | None = None
    guard: Guard | None = None
    slots: Slots | None = None
    quic: QuicProbes | None = None

    async def measure(self, url: str, log: StepLog | None = None) -> StepLog:
        """Every stage for ``url`` within ``limits.deadline``; never raises for the network."""
        log = log if log is not None else StepLog()
        try:
            async with asyncio.timeout(self.limits.deadline) as log.cap:
                await self._stages(url, log)
        except TimeoutError:
            log.deadline_hit(url)
        except Refused:
            pass  # log.refused holds why
        return log

    # --- the stages -----------------------------------------------------------------------

    async def _stages(self, url: str, log: StepLog) -> None:
        scheme, host, port = split_url(url)
        proxy = self.proxy_for(url) if self.proxy_for is not None else None
        shared: SharedProbe | None = None
        async with self._queue(self.slots.reach if self.slots else None, log):
            addrs = await self._resolve(host, log)
            if proxy is None:
                if not addrs:
                    return
                log.stage = "tcp"
                shared = self._start_quic(scheme, host, addrs[0], port, log)
                reachable = await self._tcp(addrs, port, log, shared)
                if not reachable:
                    return
            else:
                reachable = addrs
        heavy = self.slots.heavy if self.slots else None
        per_host = self.slots.host(host) if self.slots else None
        async with self._queue(heavy, log), self._queue(per_host, log):
            await self._heavy(url, scheme, host, port, proxy, reachable, log)
        if shared is not None:
            # outside the slots: a silent UDP 443 must not hold a TLS/HTTP slot while it waits
            step = await shared.step_for(log.t0)
            if step is not None:
                log.quic.append(step)

    @staticmethod
    @contextlib.asynccontextmanager
    async def _queue(slot: asyncio.Semaphore | None, log: StepLog) -> AsyncIterator[None]:
        """Hold ``slot``; the time spent waiting for it is queueing, not measuring, so the
        URL's deadline moves back by as much (a long run must not time out queued targets)."""
        if slot is None:
            yield
            return
        loop = asyncio.get_running_loop()
        asked = loop.time()
        async with slot:
            when = log.cap.when() if log.cap is not None else None
            if log.cap is not None and when is not None:
                log.cap.reschedule(when + loop.time() - asked)
            yield

    async def _resolve(self, host: str, log: StepLog, label: str = "") -> list[str]:
        """The DNS stage for ``host`` (a literal needs none), then the guard on every answer."""
        if is_ip_literal(host):
            found = [host]
        else:
            found = await self._query(host, log)
        if self.guard is not None:
            for ip in found:
                why = self.guard.destination(ip)
                if why is not None:
                    log.refused = log.refused or f"{label}{host} resolves to {why}"
                    raise Refused(log.refused)
        return found if self.limits.max_addresses is None else found[: self.limits.max_addresses]

    async def _query(self, host: str, log: StepLog) -> list[str]:
        cap = self.limits.timeout
        first = await dns.measure_dns(
            host, resolvers=self.resolvers, timeout=cap, t0=log.t0, into=log.dns
        )
        found = dns.addresses(first)
        if not found and _timed_out(first) and self.limits.retry_timeouts and log.may_retry("dns"):
            again = await dns.measure_dns(
                host, resolvers=self.resolvers, timeout=cap, t0=log.t0, into=log.dns
            )
            found = dns.addresses(again)
        return found

    def _start_quic(
        self, scheme: str, host: str, ip: str, port: int, log: StepLog
    ) -> SharedProbe | None:
        if self.quic is None or scheme != "https":
            return None
        shared, _ = self.quic.start(host, ip, port, log.t0)
        return shared

    async def _tcp(
        self, addrs: list[str], port: int, log: StepLog, shared: SharedProbe | None
    ) -> list[str]:
        """Connect to every address at once; the QUIC probe hears the first address's RTT."""

        async def one(ip: str) -> TcpStep:
            step = await tcp.measure_tcp(ip, port, timeout=self.limits.timeout, t0=log.t0)
            log.tcp.append(step)
            if shared is not None and ip == addrs[0]:
                shared.tell_rtt(step.runtime_ms / 1000 if step.failure is None else None)
            return step

        steps = await self._attempts(log.tcp, [one(ip) for ip in addrs])
        if not any(s.failure is None for s in steps) and _timed_out(steps) and self._retry(log):
            again = [s.ip for s in steps if s.failure == GENERIC_TIMEOUT]
            steps = await self._attempts(log.tcp, [one(ip) for ip in again])
        if shared is not None:
            shared.tell_rtt(None)  # no-op once told; unblocks the probe if addrs[0] never ended
        return [s.ip for s in steps if s.failure is None]

    def _retry(self, log: StepLog) -> bool:
        return self.limits.retry_timeouts and log.may_retry(log.stage)

    @staticmethod
    async def _attempts(into: list[S], attempts: list[Coroutine[Any, Any, S]]) -> list[S]:
        """Run attempts at once (each appends itself to ``into`` when it ends); then put their
        steps back in the order asked, so records read the same whatever finished first."""
        kept = len(into)
        steps = list(await asyncio.gather(*attempts))
        del into[kept:]
        into.extend(steps)
        return steps

    async def _heavy(
        self,
        url: str,
        scheme: str,
        host: str,
        port: int,
        proxy: str | None,
        reachable: list[str],
        log: StepLog,
    ) -> None:
        """TLS (direct or in a CONNECT tunnel) then HTTP."""
        log.stage = "tls" if scheme == "https" else "http"
        if scheme == "https":
            if proxy is None:
                await self._tls_direct(reachable, port, host, log)
            elif await self._tls_via_proxy(proxy, host, port, log):
                return  # the proxy refused the CONNECT: its answer is the evidence
        log.stage = "http"
        await self._http(url, host, reachable, log)

    async def _tls_direct(self, reachable: list[str], port: int, host: str, log: StepLog) -> None:
        picked = pick_tls_addresses(reachable, log.dns)[: self.limits.max_tls]

        async def one(ip: str) -> TlsStep:
            step = await tls.measure_tls(
                ip, port, host, trust=self.trust, timeout=self.limits.timeout, t0=log.t0
            )
            log.tls.append(step)
            return step

        steps = await self._attempts(log.tls, [one(ip) for ip in picked])
        done = any(s.tls_version is not None for s in steps)
        if not done and _timed_out(steps) and self._retry(log):
            again = [s.ip for s in steps if s.failure == GENERIC_TIMEOUT and s.ip]
            await self._attempts(log.tls, [one(ip) for ip in again])

    async def _tls_via_proxy(self, proxy: str, host: str, port: int, log: StepLog) -> bool:
        """Handshake inside a CONNECT tunnel. True when the proxy refused the CONNECT."""
        cap = self.limits.timeout
        auth = self.proxy_auth(proxy) if self.proxy_auth is not None else None
        opened = await http.open_connect_tunnel(
            proxy, host, port, timeout=cap, t0=log.t0, max_body=self.limits.max_body, auth=auth
        )
        if isinstance(opened, http.ProxyRefusal):
            log.http.append(opened.step)
            return True
        reader, writer = opened
        try:
            log.tls.append(
                await tls.measure_tls_over(
                    reader,
                    writer,
                    host,
                    port=port,
                    proxy=proxy,
                    trust=self.trust,
                    timeout=cap,
                    t0=log.t0,
                )
            )
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)
        return False

    async def _http(self, url: str, host: str, reachable: list[str], log: StepLog) -> None:
        known = {host_key(host): reachable}

        async def addresses(name: str) -> list[str]:
            key = host_key(name)
            if key not in known:
                known[key] = await self._resolve(name, log, "redirect: ")
            return known[key]

        first = len(log.http)

        def route(hop_url: str) -> str | None:
            if self.guard is not None:
                why = self.guard.hop(hop_url)
                if why is not None:
                    hop = "" if len(log.http) == first else f"redirect to {hop_url[:200]}: "
                    log.refused = log.refused or f"{hop}{why}"
                    raise Refused(why)  # measure_http records the hop as failed and stops
            return self.proxy_for(hop_url) if self.proxy_for is not None else None

        async def chain(start: str, redirects: int) -> None:
            await http.measure_http(
                start,
                addresses=addresses,
                proxy_for=route,
                timeout=self.limits.timeout,
                t0=log.t0,
                max_body=self.limits.max_body,
                max_redirects=redirects,
                keep_body=self.limits.keep_body,
                into=log.http,
                proxy_auth=self.proxy_auth,
            )
            if log.refused is not None:
                raise Refused(log.refused)

        await chain(url, self.limits.max_redirects)
        last = log.http[-1] if len(log.http) > first else None
        if last is not None and last.failure == GENERIC_TIMEOUT and self._retry(log):
            # the hop that timed out, once more: the hops before it stay as measured
            hops = len(log.http) - first
            await chain(last.url, max(0, self.limits.max_redirects - (hops - 1)))


def pick_tls_addresses(reachable: Sequence[str], dns_steps: Sequence[DnsStep]) -> list[str]:
    """Addresses worth a handshake: one from each resolver's answer set first (so resolvers that
    disagree are both put to the test), then one per address family, at most MAX_TLS_ADDRESSES."""
    usable = set(reachable)
    picked: list[str] = []

    def take(ip: str) -> None:
        if ip in usable and ip not in picked and len(picked) < MAX_TLS_ADDRESSES:
            picked.append(ip)

    for step in dns_steps:
        for ip in (a.value for a in step.answers if a.type in ("A", "AAAA")):
            if ip in usable:
                take(ip)
                break
    for family in (4, 6):
        same = [ip for ip in reachable if ipaddress.ip_address(ip).version == family]
        if same and not any(ipaddress.ip_address(p).version == family for p in picked):
            take(same[0])
    if not picked and reachable:
        take(reachable[0])
    return picked


_RUN_LEVEL = ("ControlSource", "Probe", "ProbeConfig")


def __getattr__(name: str) -> Any:
    """``from netcheck.measure.pipeline import Probe, ProbeConfig`` keeps working: the run level
    moved to ``measure.probe``, which imports this module, so it is looked up on first use."""
    if name in _RUN_LEVEL:
        from netcheck.measure import probe

        return getattr(probe, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
