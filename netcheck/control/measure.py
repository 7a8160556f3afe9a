"""The control's own measurement of one URL: the probe's stage code, behind the control's guards.

In: a URL, a ``ControlConfig`` (trust, resolvers, caps, destination policy). Out: a
``Measured`` record: the control's ``Steps`` (DNS, TCP, TLS, HTTP, capped), or a refusal.

The stages are the probe's own (``netcheck.measure.dns``, ``tcp``, ``tls``, ``http``), so both sides
measure alike. The guards sit at the two places where a destination enters the HTTP stage:
``proxy_for`` is asked for every hop's URL before anything is sent (scheme, credentials and
literal addresses are checked there), and ``addresses`` resolves every new host name (resolved
addresses are checked there, so DNS rebinding cannot slip in between check and connect: the
connection goes to exactly the addresses that were checked). A refused URL returns no steps
at all: the control never reports anything about a destination it may not reach.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from netcheck.control.limits import DestinationPolicy
from netcheck.measure import dns, http, tcp, tls
from netcheck.measure.pipeline import pick_tls_addresses
from netcheck.measure.trust import Trust
from netcheck.models import DnsStep, Steps
from netcheck.netaddr import host_key, parse_ip, split_url

#: addresses of one name the control connects to (TCP), and handshakes with (TLS)
MAX_ADDRESSES = 4
MAX_TLS = 2


@dataclass(frozen=True)
class ControlConfig:
    token: str
    trust: Trust
    policy: DestinationPolicy = field(default_factory=DestinationPolicy)
    resolvers: Sequence[tuple[str, int]] | None = None
    timeout: float = 5.0
    max_urls: int = 10
    max_bytes: int = 262_144
    max_redirects: int = 5
    rate: float = 1.0
    burst: float = 20.0
    concurrency: int = 8
    max_connections: int = 64
    max_request: int = 65_536

    @property
    def url_deadline(self) -> float:
        return self.timeout * (4 + self.max_redirects)


@dataclass(frozen=True)
class Measured:
    url: str
    steps: Steps = field(default_factory=Steps)
    refused: str | None = None


class _Refused(Exception):
    """A hop's destination is not allowed; raised inside ``proxy_for`` to end the chain."""


async def measure_url(url: str, cfg: ControlConfig) -> Measured:
    """Measure ``url`` as the probe would, within ``cfg.url_deadline``; never raises."""
    refusal = cfg.policy.refusal(url)
    if refusal is not None:
        return Measured(url, refused=refusal)
    t0 = time.monotonic()
    dns_steps: list[DnsStep] = []
    refused: list[str] = []
    try:
        async with asyncio.timeout(cfg.url_deadline):
            found = await _measure(url, cfg, t0, dns_steps, refused)
    except TimeoutError:
        found = None
    if refused:
        return Measured(url, refused=refused[0])
    if found is None:  # the whole-URL cap fired: report what there is
        return Measured(url, Steps(dns=dns_steps))
    return Measured(url, found.model_copy(update={"dns": dns_steps}))


async def _resolve(
    host: str,
    cfg: ControlConfig,
    t0: float,
    dns_steps: list[DnsStep],
    refused: list[str],
    label: str = "",
) -> list[str]:
    if parse_ip(host) is not None:
        found = [host]
    else:
        steps = await dns.measure_dns(host, resolvers=cfg.resolvers, timeout=cfg.timeout, t0=t0)
        dns_steps.extend(steps)
        found = dns.addresses(steps)
    allowed = []
    for ip in found:
        why = cfg.policy.forbidden(ip)
        if why is None:
            allowed.append(ip)
        elif not refused:
            refused.append(f"{label}{host} resolves to {why}")
    return allowed[:MAX_ADDRESSES]


async def _measure(
    url: str,
    cfg: ControlConfig,
    t0: float,
    dns_steps: list[DnsStep],
    refused: list[str],
) -> Steps:
    scheme, host, port = split_url(url)
    addrs = await _resolve(host, cfg, t0, dns_steps, refused)
    if refused or not addrs:
        return Steps()
    tcp_steps = list(
        await asyncio.gather(
            *(tcp.measure_tcp(ip, port, timeout=cfg.timeout, t0=t0) for ip in addrs)
        )
    )
    reachable = [s.ip for s in tcp_steps if s.failure is None]
    if not reachable:
        return Steps(tcp=tcp_steps)
    tls_steps = []
    if scheme == "https":
        picked = pick_tls_addresses(reachable, dns_steps)[:MAX_TLS]
        tls_steps = list(
            await asyncio.gather(
                *(
                    tls.measure_tls(ip, port, host, trust=cfg.trust, timeout=cfg.timeout, t0=t0)
                    for ip in picked
                )
            )
        )
    known = {host_key(host): reachable}

    async def addresses(name: str) -> list[str]:
        key = host_key(name)
        if key not in known:
            known[key] = await _resolve(name, cfg, t0, dns_steps, refused, "redirect: ")
        return known[key]

    def guard(hop_url: str) -> str | None:
        why = cfg.policy.refusal(hop_url)
        if why is not None:
            refused.append(f"redirect to {hop_url[:200]}: {why}")
            raise _Refused(why)
        return None  # the control never uses a proxy

    http_steps = await http.measure_http(
        url,
        addresses=addresses,
        proxy_for=guard,
        timeout=cfg.timeout,
        t0=t0,
        max_body=cfg.max_bytes,
        max_redirects=cfg.max_redirects,
        keep_body=min(cfg.max_bytes, 65_536),
    )
    return Steps(tcp=tcp_steps, tls=tls_steps, http=http_steps)
