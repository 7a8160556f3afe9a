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

from netcheck.bandwidth.speed import measure_download
from netcheck.bandwidth.throttle import detect_throttling
from netcheck.classify.throttling import (
    APPLIES_TO,
    ThrottleEvidence,
    apply_all,
    apply_throttling,
    needs_settled_run,
    reapply_throttling,
    to_record,
)
from netcheck.models import Result, SpeedResult

__all__ = [
    "APPLIES_TO",
    "apply_all",
    "apply_throttling",
    "measure_services",
    "reapply_throttling",
    "services_to_measure",
    "to_record",
]

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
