"""The control's own measurement of one URL: the probe's pipeline, behind the control's guards.

In: a URL, a ``ControlConfig`` (trust, resolvers, caps, destination policy). Out: a
``Measured`` record: the control's ``Steps`` (DNS, TCP, TLS, HTTP, capped), or a refusal.

A thin adapter: the measuring is ``netcheck.measure.pipeline.Pipeline``, the same code the probe
runs, so both sides measure alike and the control keeps the probe's guarantees (every step
recorded even when the URL's deadline fires, a timed-out stage tried once more, caps on bytes
and time). What the control adds are its hooks and caps:
- ``DestinationPolicy`` as the pipeline's ``Guard``: the URL is checked before anything is
  resolved; every resolved address, of the URL's host and of every redirect hop's, is checked
  before a connection (the connection goes to exactly the addresses that were checked, so DNS
  rebinding cannot slip in between); every redirect hop's URL (scheme, credentials, literal
  address) is checked before it is fetched;
- no proxy, no QUIC; at most ``MAX_ADDRESSES`` addresses per name and ``MAX_TLS`` handshakes;
  ``max_bytes`` read per response, ``max_redirects`` hops.
A refused URL returns no steps at all: the control never reports anything about a destination
it may not reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netcheck.control.limits import DestinationPolicy
from netcheck.measure.pipeline import Limits, Pipeline
from netcheck.measure.trust import Trust
from netcheck.models import Steps

#: addresses of one name the control connects to (TCP), and handshakes with (TLS)
MAX_ADDRESSES = 4
MAX_TLS = 2
#: what the control keeps of a page's text for the probe's comparison
KEEP_BODY = 65_536


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
    #: cap on one URL's whole measurement; None: room for every stage, its retry and each hop
    deadline: float | None = None

    @property
    def url_deadline(self) -> float:
        if self.deadline is not None:
            return self.deadline
        return self.timeout * (5 + self.max_redirects)


@dataclass(frozen=True)
class Measured:
    url: str
    steps: Steps = field(default_factory=Steps)
    refused: str | None = None


@dataclass(frozen=True)
class _PolicyGuard:
    """The destination policy seen as the pipeline's guard."""

    policy: DestinationPolicy

    def destination(self, ip: str) -> str | None:
        return self.policy.forbidden(ip)

    def hop(self, url: str) -> str | None:
        return self.policy.refusal(url)


def control_pipeline(cfg: ControlConfig) -> Pipeline:
    """The pipeline with the control's guard and caps (no proxy, no QUIC, no run-level slots:
    the server bounds concurrent measurements itself)."""
    return Pipeline(
        trust=cfg.trust,
        limits=Limits(
            timeout=cfg.timeout,
            deadline=cfg.url_deadline,
            max_body=cfg.max_bytes,
            keep_body=min(cfg.max_bytes, KEEP_BODY),
            max_redirects=cfg.max_redirects,
            max_addresses=MAX_ADDRESSES,
            max_tls=MAX_TLS,
        ),
        resolvers=cfg.resolvers,
        guard=_PolicyGuard(cfg.policy),
    )


async def measure_url(url: str, cfg: ControlConfig) -> Measured:
    """Measure ``url`` as the probe would, within ``cfg.url_deadline``; never raises."""
    refusal = cfg.policy.refusal(url)
    if refusal is not None:
        return Measured(url, refused=refusal)
    log = await control_pipeline(cfg).measure(url)
    if log.refused is not None:
        return Measured(url, refused=log.refused)
    return Measured(url, log.freeze())
