"""Per-service throttling: a service's goodput against a control endpoint's, Wehe-style.

In: a service URL (a large object on the service's media/CDN hosts) and a control URL (a large
object on a path like the service's, e.g. the agency's own endpoint). Out: ``ThrottleEvidence``
(verdict, technique, the figures and a sentence stating them) from ``detect_throttling``; the
decision itself is the pure ``decide`` over two ``SpeedResult``s, so saved results re-decide
offline.

A service is called throttled only when three things agree (a ratio alone would flag any slow
CDN node, a test alone would flag any tiny but significant difference):
- the ratio service / control goodput is at most ``ratio_max`` (0.7);
- the two-sample KS test on the 50 ms slot rates of the settled part has p < ``ks_alpha``;
- the area between the two slot-rate CDFs, over the largest rate, is at least ``area_min``.
A positive is then repeated (control first this time, so order does not favour either side) and
the verdict is ``degraded`` / ``throttled`` only if the repeat is positive too.

Cost: each service run is capped at ``SERVICE_SECONDS`` (1.2 s: four 250 ms windows past the
1 s minimum leave the estimate settled or nearly so, and ``decide`` works on the 50 ms slots, not
on a settled figure), so a 5 Mbit/s throttle costs ~0.7 MB per run, under 2 MB with its repeat;
the control path moves ~1-2 s of its rate per run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from netcheck.bandwidth import area_test, ks_test
from netcheck.speed import SpeedResult, measure_download

RATIO_MAX = 0.7
KS_ALPHA = 0.01
AREA_MIN = 0.2

SERVICE_SECONDS = 1.2
_SERVICE_RUNS = (0, 3)

Measure = Callable[[str], Awaitable[SpeedResult]]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ThrottleDecision(_Frozen):
    """One service/control comparison. ``throttled`` None = could not compare."""

    throttled: bool | None
    ratio: float | None
    ks_p: float | None
    area: float | None
    service_mbps: float | None
    control_mbps: float | None


class ThrottleEvidence(_Frozen):
    service_url: str
    control_url: str
    verdict: Literal["accessible", "degraded", "inconclusive"]
    technique: Literal["throttled"] | None
    confirmed: bool
    decisions: list[ThrottleDecision]
    runs: list[SpeedResult]
    service_bytes: int
    control_bytes: int
    evidence: str


def decide(
    service: SpeedResult,
    control: SpeedResult,
    *,
    ratio_max: float = RATIO_MAX,
    ks_alpha: float = KS_ALPHA,
    area_min: float = AREA_MIN,
) -> ThrottleDecision:
    """Is ``service`` slower than ``control`` by the ratio *and* by both statistical tests?"""
    s, c = service.goodput_mbps, control.goodput_mbps
    if s is None or c is None or c <= 0 or service.bytes == 0 or control.bytes == 0:
        return ThrottleDecision(
            throttled=None, ratio=None, ks_p=None, area=None, service_mbps=s, control_mbps=c
        )
    ratio = s / c
    ks_p = ks_test(service.slots_mbps, control.slots_mbps)
    area = area_test(service.slots_mbps, control.slots_mbps)
    throttled = ratio <= ratio_max and ks_p < ks_alpha and area >= area_min
    return ThrottleDecision(
        throttled=throttled,
        ratio=round(ratio, 4),
        ks_p=ks_p,
        area=round(area, 4),
        service_mbps=s,
        control_mbps=c,
    )


def _sentence(d: ThrottleDecision) -> str:
    if d.throttled is None:
        return "could not compare (a transfer failed or moved nothing)"
    return (
        f"service {d.service_mbps:.2f} Mbit/s vs control {d.control_mbps:.2f} Mbit/s "
        f"(ratio {d.ratio:.3f}); KS p={d.ks_p:.2g}, area {d.area:.2f}"
    )


def summarise(
    service_url: str, control_url: str, runs: list[SpeedResult], decisions: list[ThrottleDecision]
) -> ThrottleEvidence:
    """The verdict from one or two decisions (pure). ``runs`` is in measuring order:
    service, control, then on a repeat control, service."""
    first = decisions[0]
    confirmed = len(decisions) > 1 and all(d.throttled for d in decisions)
    if first.throttled is None or (len(decisions) > 1 and decisions[1].throttled is None):
        verdict: Literal["accessible", "degraded", "inconclusive"] = "inconclusive"
    elif confirmed:
        verdict = "degraded"
    elif first.throttled:
        verdict = "inconclusive"  # positive once, not on the repeat: say so, do not accuse
    else:
        verdict = "accessible"
    parts = [_sentence(first)]
    if len(decisions) > 1:
        parts.append("repeat: " + _sentence(decisions[1]))
    return ThrottleEvidence(
        service_url=service_url,
        control_url=control_url,
        verdict=verdict,
        technique="throttled" if verdict == "degraded" else None,
        confirmed=confirmed,
        decisions=decisions,
        runs=runs,
        service_bytes=sum(r.bytes for i, r in enumerate(runs) if i in _SERVICE_RUNS),
        control_bytes=sum(r.bytes for i, r in enumerate(runs) if i not in _SERVICE_RUNS),
        evidence="; ".join(parts),
    )


async def detect_throttling(
    service_url: str,
    control_url: str,
    *,
    measure: Measure | None = None,
    measure_service: Measure | None = None,
    ratio_max: float = RATIO_MAX,
    ks_alpha: float = KS_ALPHA,
    area_min: float = AREA_MIN,
) -> ThrottleEvidence:
    """Measure service then control (one after the other: they may share the bottleneck),
    decide, and repeat in the other order on a positive. ``measure`` (control runs) defaults to
    ``measure_download`` with its default caps; ``measure_service`` defaults to ``measure`` when
    that is given, else to ``measure_download`` capped at ``SERVICE_SECONDS``."""
    run = measure or (lambda url: measure_download(url))
    run_service = (
        measure_service
        or measure
        or (lambda url: measure_download(url, max_seconds=SERVICE_SECONDS))
    )
    knobs = {"ratio_max": ratio_max, "ks_alpha": ks_alpha, "area_min": area_min}
    service = await run_service(service_url)
    control = await run(control_url)
    runs = [service, control]
    decisions = [decide(service, control, **knobs)]
    if decisions[0].throttled:
        control2 = await run(control_url)
        service2 = await run_service(service_url)
        runs += [control2, service2]
        decisions.append(decide(service2, control2, **knobs))
    return summarise(service_url, control_url, runs, decisions)
