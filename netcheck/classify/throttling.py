"""Throttling, decided: two goodput runs in, a verdict with its figures out. Pure.

In: ``SpeedResult`` runs of a service's large object and of a control endpoint (measured by
``netcheck.bandwidth``), or the ``BandwidthEvidence`` a record already carries. Out: a
``ThrottleDecision`` per comparison, the ``ThrottleEvidence`` for a service, and the record with
the ``degraded`` / ``throttled`` verdict its figures call for. ``netcheck classify`` re-applies
it offline from ``result.bandwidth``; ``netcheck.bandwidth.throttle`` explains the method.

A service is called throttled only when three things agree (a ratio alone would flag any slow
CDN node, a test alone would flag any tiny but significant difference): the ratio service /
control is at most ``RATIO_MAX``; the two-sample KS test on the runs' slot rates has
p < ``KS_ALPHA``; the area between the slot-rate CDFs is at least ``AREA_MIN``. A positive must
be confirmed by a repeat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from netcheck.models import BandwidthEvidence, Frozen, Result, SpeedResult

# --- Wehe-style statistics ---------------------------------------------------------------------


def ks_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov p-value (scipy): small means the rate distributions differ."""
    if len(a) < 2 or len(b) < 2:
        return 1.0
    from scipy.stats import ks_2samp  # scipy is slow to import; only the comparison needs it

    return float(ks_2samp(list(a), list(b)).pvalue)


def area_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Area between the two empirical CDFs of rate samples, over the larger of the two means.

    0 = same distribution, near 1 = one path far below the other (Wehe's area test: unlike KS,
    it grows with how *much* the rates differ, not just how surely). Not over the largest
    sample: a replay of a few ms on a Gbit/s path puts a burst of reads into one slot at 4-8x
    its mean, and that one slot would shrink the area of a plain 5 Mbit/s throttle below 0.2.
    The area is at least the difference of the means, so this reads >= 1 - ratio."""
    if not a or not b:
        return 0.0
    scale = max(sum(a) / len(a), sum(b) / len(b))
    if scale <= 0:
        return 0.0
    xs = sorted(set(a) | set(b))
    sa, sb = sorted(a), sorted(b)
    area = 0.0
    ia = ib = 0
    for left, right in zip(xs, xs[1:], strict=False):
        while ia < len(sa) and sa[ia] <= left:
            ia += 1
        while ib < len(sb) and sb[ib] <= left:
            ib += 1
        area += abs(ia / len(sa) - ib / len(sb)) * (right - left)
    return area / scale


# --- one service against the control --------------------------------------------------------


RATIO_MAX = 0.7
KS_ALPHA = 0.01
AREA_MIN = 0.2


#: a replay that lasted this many RTTs is past slow start enough to stand as the service's figure
FIGURE_RTTS = 20
_SERVICE_RUNS = (0, 3)


class ThrottleDecision(Frozen):
    """One service/control comparison. ``throttled`` None = could not compare."""

    throttled: bool | None
    ratio: float | None
    ks_p: float | None
    area: float | None
    service_mbps: float | None
    control_mbps: float | None


class ThrottleEvidence(Frozen):
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


# --- the verdict on a record ------------------------------------------------------------------


#: target functions whose experience a throttle degrades (media, pages, channels, live ingest)
APPLIES_TO = frozenset({"media", "view", "official_channel", "live_ingest"})


def to_record(evidence: ThrottleEvidence) -> BandwidthEvidence:
    """The figures a record keeps: the first comparison's, confirmed or not by the repeat."""
    d = evidence.decisions[0]
    extra = evidence.goodput
    return BandwidthEvidence(
        service_url=evidence.service_url,
        control_url=evidence.control_url,
        service_mbps=d.service_mbps,
        control_mbps=d.control_mbps,
        ratio=d.ratio,
        ks_p=d.ks_p,
        area=d.area,
        confirmed=evidence.confirmed,
        bytes=evidence.service_bytes + (extra.bytes if extra else 0),
        verdict=evidence.verdict,
        goodput_mbps=extra.goodput_mbps if extra else replay_figure(evidence.runs[0]),
    )


def _record_sentence(bw: BandwidthEvidence) -> str:
    service = "-" if bw.service_mbps is None else f"{bw.service_mbps:.2f}"
    control = "-" if bw.control_mbps is None else f"{bw.control_mbps:.2f}"
    ratio = "-" if bw.ratio is None else f"{bw.ratio:.3f}"
    ks = "-" if bw.ks_p is None else f"{bw.ks_p:.2g}"
    area = "-" if bw.area is None else f"{bw.area:.2f}"
    return (
        f"Throttled: {bw.service_url} gave {service} Mbit/s against {control} Mbit/s from the "
        f"control {bw.control_url} (ratio {ratio}; KS p={ks}, area {area}"
        + (", confirmed by a repeat)." if bw.confirmed else ").")
    )


def _throttled(bw: BandwidthEvidence) -> bool:
    return bw.verdict == "degraded" and bw.confirmed


def reapply_throttling(result: Result) -> Result:
    """``result`` with the throttling verdict its own ``bandwidth`` figures call for (pure):
    what ``netcheck classify`` does after re-classifying the steps."""
    bw = result.bandwidth
    if (
        bw is None
        or not _throttled(bw)
        or result.verdict != "accessible"
        or result.target.function not in APPLIES_TO
    ):
        return result
    return result.model_copy(
        update={"verdict": "degraded", "technique": "throttled", "evidence": _record_sentence(bw)}
    )


def apply_throttling(result: Result, evidence: ThrottleEvidence | BandwidthEvidence) -> Result:
    """Store the figures on ``result`` (any target of the service) and, when throttling was
    confirmed and the target is an accessible one of a function in ``APPLIES_TO``, make it
    ``degraded`` / ``throttled`` with a sentence giving both figures."""
    bw = evidence if isinstance(evidence, BandwidthEvidence) else to_record(evidence)
    return reapply_throttling(result.model_copy(update={"bandwidth": bw}))


def apply_all(results: list[Result], per_service: Mapping[str, ThrottleEvidence]) -> list[Result]:
    """``apply_throttling`` on every record of a measured service."""
    return [
        apply_throttling(r, per_service[r.target.service]) if r.target.service in per_service else r
        for r in results
    ]
