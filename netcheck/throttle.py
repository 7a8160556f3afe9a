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
from typing import Literal

from pydantic import BaseModel, ConfigDict

from netcheck.bandwidth import area_test, ks_test
from netcheck.speed import SpeedResult, measure_download

RATIO_MAX = 0.7
KS_ALPHA = 0.01
AREA_MIN = 0.2

RUN_BYTES = 400_000
RUN_SECONDS = 1.2
RUN_SLOTS = 16
#: a replay that lasted this many RTTs is past slow start enough to stand as the service's figure
FIGURE_RTTS = 20
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
    #: a settled ``speed`` run of the service, made when its replay was too short to be a figure
    goodput: SpeedResult | None = None


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


def replay_figure(run: SpeedResult) -> float | None:
    """``run``'s goodput if it lasted ``FIGURE_RTTS`` RTTs or more (slow start a small part of
    it), else None: a short replay on a long path only bounds the rate from below."""
    if run.goodput_mbps is None or run.rtt_ms is None:
        return None
    return run.goodput_mbps if run.seconds * 1000 >= FIGURE_RTTS * run.rtt_ms else None


def needs_settled_run(evidence: ThrottleEvidence) -> bool:
    """Does the service need a settled ``speed`` run for its figure (its replay was short)?"""
    first = evidence.runs[0]
    return first.goodput_mbps is not None and replay_figure(first) is None


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
