"""The probe: measure every target step by step (DNS, TCP, TLS, HTTP), then classify.

In: targets and a ``ProbeConfig``. Out: one ``Result`` per target, handed to a callback the
moment it is finished (so the JSON Lines file grows as the run goes and a crash loses nothing).

Concurrency has two tiers. Probing reachability (DNS queries, TCP connects) costs a packet, so up
to ``4 × concurrency`` targets do it at once: sixty black-holed targets then cost about one
timeout, not sixty. TLS and HTTP move real bytes, so at most ``concurrency`` targets are in that
phase, and at most ``per_host`` per host name. Every step has its own deadline and the whole
target has a cap, so no peer can hang the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netcheck import __version__
from netcheck.classify import classify
from netcheck.classify.evidence import expect_of
from netcheck.classify.fingerprints import Fingerprints
from netcheck.failures import GENERIC_TIMEOUT
from netcheck.measure import dns, http, quic, tcp, tls
from netcheck.measure.proxy import PacEvaluator, ProxySettings, proxy_for_url
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
from netcheck.netaddr import is_ip_literal, split_url

#: most addresses of one target that get a TLS handshake (TCP goes to every answer)
MAX_TLS_ADDRESSES = 4


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


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 3)


class Probe:
    """One run: shared limits, the probe's identity, and the per-target pipeline."""

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
        self._reach = asyncio.Semaphore(max(1, config.concurrency * 4))
        self._heavy = asyncio.Semaphore(max(1, config.concurrency))
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        return self._hosts.setdefault(host, asyncio.Semaphore(max(1, self.config.per_host)))

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

        async with asyncio.TaskGroup() as group:
            for target in targets:
                group.create_task(one(target))
        return results

    async def measure(self, target: Target) -> Result:
        measured_at = utc_now()
        t0 = time.monotonic()
        steps = _StepLog()
        asking = self.config.control
        control_task = asyncio.create_task(asking.evidence_for(target.url)) if asking else None
        try:
            try:
                async with asyncio.timeout(self.config.target_deadline):
                    await self._pipeline(target, steps, t0)
            except TimeoutError:
                steps.deadline_hit(target.url, t0)
            # the client has its own deadline: this wait is bounded
            control = await control_task if control_task is not None else None
        finally:
            if control_task is not None:
                control_task.cancel()  # no-op once done; stops it if we are cancelled
        noted = tls.note_cert_names(steps.freeze(), expect_of(target).cert_names)
        return self._finish(target, noted, measured_at, t0, control)

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
            fingerprints=self.config.fingerprints,
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
            runtime_ms=_ms(t0),
            control=control,
        )

    async def _pipeline(self, target: Target, steps: _StepLog, t0: float) -> None:
        cfg = self.config
        scheme, host, port = split_url(target.url)
        proxy = proxy_for_url(cfg.proxy, cfg.pac, target.url)

        async with self._reach:
            addrs = await self._resolve(host, steps, t0)
            if proxy is None:
                if not addrs:
                    return
                steps.stage = "tcp"
                tcp_steps = await asyncio.gather(
                    *(tcp.measure_tcp(ip, port, timeout=cfg.timeout, t0=t0) for ip in addrs)
                )
                steps.tcp.extend(tcp_steps)
                reachable = [s.ip for s in tcp_steps if s.failure is None]
                if not reachable:
                    return
            else:
                reachable = addrs

        async with self._heavy, self._host_slot(host):
            # QUIC (UDP) to the first reachable address runs alongside TLS and HTTP, so a
            # dropped UDP 443 costs no extra time; it is recorded, never a block by itself
            quic_task = (
                asyncio.create_task(
                    quic.measure_quic(reachable[0], port, timeout=cfg.timeout, t0=t0)
                )
                if proxy is None and scheme == "https"
                else None
            )
            try:
                await self._heavy_phase(target, scheme, host, port, proxy, reachable, steps, t0)
                if quic_task is not None:
                    steps.quic.append(await quic_task)
            finally:
                if quic_task is not None:
                    quic_task.cancel()  # no-op once done; stops it on the target's deadline

    async def _heavy_phase(
        self,
        target: Target,
        scheme: str,
        host: str,
        port: int,
        proxy: str | None,
        reachable: list[str],
        steps: _StepLog,
        t0: float,
    ) -> None:
        """TLS (direct or in a CONNECT tunnel) then HTTP, inside the heavy slots."""
        cfg = self.config
        steps.stage = "tls" if scheme == "https" else "http"
        if proxy is None:
            if scheme == "https":
                steps.tls.extend(await self._tls_direct(reachable, port, host, steps, t0))
        elif scheme == "https":
            refused = await self._tls_via_proxy(proxy, host, port, steps, t0)
            if refused:
                return
        steps.stage = "http"
        known = {host: reachable}

        async def addresses(name: str) -> list[str]:
            if name not in known:
                known[name] = await self._resolve(name, steps, t0)
            return known[name]

        steps.http.extend(
            await http.measure_http(
                target.url,
                addresses=addresses,
                proxy_for=lambda u: proxy_for_url(cfg.proxy, cfg.pac, u),
                timeout=cfg.timeout,
                t0=t0,
                max_body=cfg.max_body,
            )
        )

    async def _resolve(self, host: str, steps: _StepLog, t0: float) -> list[str]:
        if is_ip_literal(host):
            return [host]
        found = await dns.measure_dns(
            host, resolvers=self.config.resolvers, timeout=self.config.timeout, t0=t0
        )
        steps.dns.extend(found)
        return dns.addresses(found)

    async def _tls_direct(
        self, reachable: Sequence[str], port: int, host: str, steps: _StepLog, t0: float
    ) -> list[TlsStep]:
        picked = pick_tls_addresses(reachable, steps.dns)
        return list(
            await asyncio.gather(
                *(
                    tls.measure_tls(
                        ip, port, host, trust=self.config.trust, timeout=self.config.timeout, t0=t0
                    )
                    for ip in picked
                )
            )
        )

    async def _tls_via_proxy(
        self, proxy: str, host: str, port: int, steps: _StepLog, t0: float
    ) -> bool:
        """Handshake inside a CONNECT tunnel. True when the proxy refused the CONNECT."""
        cfg = self.config
        opened = await http.open_connect_tunnel(
            proxy, host, port, timeout=cfg.timeout, t0=t0, max_body=cfg.max_body
        )
        if isinstance(opened, http.ProxyRefusal):
            steps.http.append(opened.step)
            return True
        reader, writer = opened
        try:
            steps.tls.append(
                await tls.measure_tls_over(
                    reader,
                    writer,
                    host,
                    port=port,
                    proxy=proxy,
                    trust=cfg.trust,
                    timeout=cfg.timeout,
                    t0=t0,
                )
            )
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)
        return False


@dataclass
class _StepLog:
    """Mutable collector while a target is measured; frozen into ``Steps`` at the end."""

    dns: list[DnsStep] = field(default_factory=list)
    tcp: list[TcpStep] = field(default_factory=list)
    tls: list[TlsStep] = field(default_factory=list)
    http: list[HttpStep] = field(default_factory=list)
    quic: list[TcpStep] = field(default_factory=list)

    stage: str = "dns"

    def deadline_hit(self, url: str, t0: float) -> None:
        # The target's overall cap fired: record a timed-out step in the stage that was running,
        # so the classifier names the right stage and the record says the cap was hit.
        scheme, host, port = split_url(url)
        spent = _ms(t0)
        if self.stage == "dns":
            self.dns.append(
                DnsStep(
                    hostname=host,
                    engine="dnspython",
                    query_type="A",
                    failure=GENERIC_TIMEOUT,
                    replies=0,
                    runtime_ms=spent,
                )
            )
        elif self.stage == "tcp":
            self.tcp.append(TcpStep(ip="", port=port, failure=GENERIC_TIMEOUT, runtime_ms=spent))
        elif self.stage == "tls":
            self.tls.append(
                TlsStep(port=port, server_name=host, failure=GENERIC_TIMEOUT, runtime_ms=spent)
            )
        else:
            self.http.append(HttpStep(url=url, failure=GENERIC_TIMEOUT, runtime_ms=spent))

    def freeze(self) -> Steps:
        return Steps(dns=self.dns, tcp=self.tcp, tls=self.tls, http=self.http, quic=self.quic)


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


def _describe_proxy(settings: ProxySettings) -> str | None:
    if settings.mode == "explicit":
        return settings.url
    if settings.mode == "auto":
        return f"auto (PAC {settings.pac})"
    if settings.mode == "env" and settings.url:
        return settings.url
    return None
