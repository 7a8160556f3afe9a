"""Per-service throttling: a service's goodput against a control endpoint's, Wehe-style.

In: a service URL (a large object on the service's media/CDN hosts) and a control URL (a large
object on a path like the service's, e.g. the agency's own endpoint). Out: ``ThrottleEvidence``
(verdict, technique, the figures and a sentence stating them) from ``detect_throttling``; the
decision itself is the pure ``decide`` over two ``SpeedResult``s, so saved results re-decide
offline.

A service is called throttled only when three things agree (a ratio alone would flag any slow
CDN node, a test alone would flag any tiny but significant difference):
- the ratio service / control goodput is at most ``ratio_max`` (0.7);
- the two-sample KS test on the runs' slot rates has p < ``ks_alpha``;
- the area between the two slot-rate CDFs, over the faster path's mean rate, is at least
  ``area_min`` (0.2). That area is at least 1 - ratio, so at the default ``ratio_max`` it never
  vetoes on its own; it is kept as evidence of how far apart the distributions are, and as a
  gate for callers that loosen ``ratio_max`` past 0.8.
A positive is then repeated (control first this time, so order does not favour either side) and
the verdict is ``degraded`` / ``throttled`` only if the repeat is positive too.

Cost, Wehe-style: every run (service or control) is the same short replay, capped at
``RUN_BYTES`` (400 kB) and ``RUN_SECONDS`` (1.2 s), cut into ``RUN_SLOTS`` (16) equal slots for
the tests (``bandwidth`` replay mode). A 5 Mbit/s throttle against a 95 Mbit/s control costs
4 x 400 kB = 1.6 MB with its repeat, control path included, where letting the control settle
would move 20-70 MB. What that gives up: a 400 kB run on a long path is mostly TCP slow start,
so the control's figure is a lower bound of its rate there; that errs towards "accessible"
(a mild throttle on a long path goes unseen), never towards an accusation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from netcheck.bandwidth.speed import measure_download
from netcheck.classify.throttling import (
    AREA_MIN,
    KS_ALPHA,
    RATIO_MAX,
    ThrottleEvidence,
    decide,
    summarise,
)
from netcheck.models import SpeedResult

RUN_BYTES = 400_000
RUN_SECONDS = 1.2
RUN_SLOTS = 16

Measure = Callable[[str], Awaitable[SpeedResult]]


def replay(url: str, *, verify: bool | str = True) -> Awaitable[SpeedResult]:
    """One capped replay run of ``url`` (the default ``measure`` of ``detect_throttling``)."""
    return measure_download(
        url, max_bytes=RUN_BYTES, max_seconds=RUN_SECONDS, verify=verify, even_slots=RUN_SLOTS
    )


async def detect_throttling(
    service_url: str,
    control_url: str,
    *,
    measure: Measure | None = None,
    verify: bool | str = True,
    ratio_max: float = RATIO_MAX,
    ks_alpha: float = KS_ALPHA,
    area_min: float = AREA_MIN,
) -> ThrottleEvidence:
    """Measure service then control (one after the other: they may share the bottleneck),
    decide, and repeat in the other order on a positive. ``measure`` defaults to ``replay``
    (same caps on both paths); ``verify`` is its TLS verification (a CA file path or bool)."""
    run = measure or (lambda url: replay(url, verify=verify))
    knobs = {"ratio_max": ratio_max, "ks_alpha": ks_alpha, "area_min": area_min}
    service = await run(service_url)
    control = await run(control_url)
    runs = [service, control]
    decisions = [decide(service, control, **knobs)]
    if decisions[0].throttled:
        control2 = await run(control_url)
        service2 = await run(service_url)
        runs += [control2, service2]
        decisions.append(decide(service2, control2, **knobs))
    return summarise(service_url, control_url, runs, decisions)
