"""``run --bandwidth``: per service, goodput from its media host against a control endpoint.

In: the classified ``Result`` records of a run, one large-object URL per service (``--bandwidth-url
SERVICE=URL`` or the catalogue's ``bandwidth`` hints) and the control URL. Out:
``measure_services`` -> ``{service: ThrottleEvidence}`` (measurement, one service after the other:
transfers in parallel would split the bottleneck), and the pure ``apply_throttling`` that writes a
throttling verdict and its figures into a record, which ``netcheck classify`` re-applies offline
from ``result.bandwidth`` (``reapply_throttling``).

Only services that have at least one target in ``APPLIES_TO`` measured ``accessible`` are
measured: a blocked service has no goodput to compare, and the verdict is only written on those
targets (a throttled service still loads, it loads slowly).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from netcheck.models import BandwidthEvidence, Result
from netcheck.speed import SpeedResult, measure_download
from netcheck.throttle import (
    ThrottleEvidence,
    detect_throttling,
    needs_settled_run,
    replay_figure,
)

#: target functions whose experience a throttle degrades (media, pages, channels, live ingest)
APPLIES_TO = frozenset({"media", "view", "official_channel", "live_ingest"})

Detect = Callable[[str, str], Awaitable[ThrottleEvidence]]
Settle = Callable[[str], Awaitable[SpeedResult]]
Note = Callable[[str], None]


def services_to_measure(results: Sequence[Result]) -> list[str]:
    """Services with an accessible target of a function a throttle would degrade, in order."""
    seen: list[str] = []
    for r in results:
        if (
            r.verdict == "accessible"
            and r.target.function in APPLIES_TO
            and r.target.service not in seen
        ):
            seen.append(r.target.service)
    return seen


async def measure_services(
    results: list[Result],
    urls: Mapping[str, str | None],
    control_url: str,
    *,
    detect: Detect | None = None,
    settle: Settle | None = None,
    note: Note | None = None,
    verify: bool | str = True,
) -> dict[str, ThrottleEvidence]:
    """Detect throttling for each measurable service that has a URL; ``note`` hears the skips.
    When the service's replay was too short to be its figure (a fast service on a long path),
    one settled ``speed`` run (``settle``) gives it. ``verify`` is the TLS verification for the
    transfers (a CA file path, as in ``--ca-bundle``)."""

    def default(service: str, control: str) -> Awaitable[ThrottleEvidence]:
        return detect_throttling(service, control, verify=verify)

    run = detect or default
    settled = settle or (lambda url: measure_download(url, verify=verify))
    out: dict[str, ThrottleEvidence] = {}
    for service in services_to_measure(results):
        url = urls.get(service)
        if not url:
            if note is not None:
                note(
                    f"bandwidth: no large-object URL for {service} "
                    f"(give --bandwidth-url {service}=URL); skipped"
                )
            continue
        evidence = await run(url, control_url)
        if needs_settled_run(evidence):
            evidence = evidence.model_copy(update={"goodput": await settled(url)})
        out[service] = evidence
    return out


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


def _sentence(bw: BandwidthEvidence) -> str:
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
        update={"verdict": "degraded", "technique": "throttled", "evidence": _sentence(bw)}
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
