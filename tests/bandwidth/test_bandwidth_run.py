"""run --bandwidth, pure parts: which services are measured, how a confirmed throttle lands on
a service's records, and that ``netcheck classify`` re-applies it offline from the record."""

from __future__ import annotations

import json
import random

from netcheck.bandwidth.run import measure_services
from netcheck.classify import classify_result
from netcheck.classify.throttling import (
    ThrottleEvidence,
    apply_all,
    apply_throttling,
    decide,
    summarise,
)
from netcheck.models import ProbeInfo, Result, SpeedResult, Steps, Target
from tests.support.paths import TESTS


def record(url: str, service: str, function: str, verdict: str = "accessible") -> Result:
    return Result(
        id=f"r-{url}",
        probe=ProbeInfo(id="p", software_version="0", started_at="2026-11-28T00:00:00Z"),
        target=Target(url=url, service=service, function=function),
        measured_at="2026-11-28T00:00:01Z",
        verdict=verdict,  # type: ignore[arg-type]
        evidence="test",
        steps=Steps(),
    )


def run(url: str, mbps: float, seed: int, rtt_ms: float = 1.0) -> SpeedResult:
    rng = random.Random(seed)
    return SpeedResult(
        url=url, direction="download", goodput_mbps=mbps, bytes=700_000, seconds=1.2,
        rtt_ms=rtt_ms, stable=True, status="stable", reason="stable", window_ms=250.0,
        slots_mbps=[rng.gauss(mbps, mbps * 0.02) for _ in range(20)],
    )  # fmt: skip


def evidence(service_mbps: float) -> ThrottleEvidence:
    s, c = run("https://i.ytimg.com/big", service_mbps, 1), run("http://bulk/big", 90.0, 2)
    d1 = decide(s, c)
    if not d1.throttled:
        return summarise(s.url, c.url, [s, c], [d1])
    s2, c2 = run(s.url, service_mbps, 3), run(c.url, 90.0, 4)
    return summarise(s.url, c.url, [s, c, c2, s2], [d1, decide(s2, c2)])


def test_confirmed_throttle_degrades_applicable_accessible_targets_only() -> None:
    ev = evidence(4.8)
    assert ev.verdict == "degraded"
    assert ev.confirmed
    view = apply_throttling(record("https://www.youtube.com/", "youtube", "view"), ev)
    assert view.verdict == "degraded"
    assert view.technique == "throttled"
    assert "4.8" in view.evidence
    assert "90." in view.evidence
    assert "ratio 0.05" in view.evidence
    assert view.bandwidth is not None
    assert view.bandwidth.bytes == ev.service_bytes
    admin = apply_throttling(record("https://studio.youtube.com/", "youtube", "admin"), ev)
    assert admin.verdict == "accessible"
    assert admin.bandwidth is not None  # figures kept
    blocked = apply_throttling(record("https://i.ytimg.com/", "youtube", "media", "blocked"), ev)
    assert blocked.verdict == "blocked"


def test_unthrottled_service_keeps_its_verdict() -> None:
    ev = evidence(88.0)
    assert ev.verdict == "accessible"
    r = apply_throttling(record("https://www.youtube.com/", "youtube", "view"), ev)
    assert r.verdict == "accessible"
    assert r.technique is None
    assert r.bandwidth is not None


def test_classify_reapplies_throttling_offline() -> None:
    ev = evidence(4.8)
    [fb, yt] = apply_all(
        [
            record("https://www.facebook.com/", "facebook", "view"),
            record("https://www.youtube.com/", "youtube", "view"),
        ],
        {"youtube": ev},
    )
    assert fb.bandwidth is None
    assert yt.verdict == "degraded"
    # re-classified offline from steps that show an accessible page: the throttle comes back
    golden = json.loads((TESTS / "golden" / "accessible_https.json").read_text())
    saved = yt.model_copy(
        update={
            "target": Target.from_json(golden["target"]),
            "steps": Steps.model_validate(golden["steps"]),
            "probe": yt.probe.model_copy(update={"allow_nets": golden["allow_nets"]}),
            "verdict": "accessible",
            "technique": None,
        }
    )
    again = classify_result(Result.model_validate_json(saved.model_dump_json()))
    assert (again.verdict, again.technique) == ("degraded", "throttled")
    assert again.bandwidth == yt.bandwidth
    assert "Throttled:" in again.evidence
    plain = classify_result(saved.model_copy(update={"bandwidth": None}))
    assert (plain.verdict, plain.technique) == ("accessible", None)


async def test_measure_services_skips_services_without_url() -> None:
    calls: list[tuple[str, str]] = []
    notes: list[str] = []

    async def detect(service: str, control: str) -> ThrottleEvidence:
        calls.append((service, control))
        return evidence(4.8)

    results = [
        record("https://www.youtube.com/", "youtube", "view"),
        record("https://i.ytimg.com/", "youtube", "media"),
        record("https://www.facebook.com/", "facebook", "view"),
        record("https://x.com/", "x", "view", "blocked"),
    ]
    out = await measure_services(
        results, {"youtube": "https://i.ytimg.com/big"}, "http://bulk/big",
        detect=detect, note=notes.append,
    )  # fmt: skip
    assert list(out) == ["youtube"]
    assert calls == [("https://i.ytimg.com/big", "http://bulk/big")]
    assert len(notes) == 1
    assert "facebook" in notes[0]  # x is blocked: not measured, no note


async def test_a_short_replay_gets_a_settled_run_for_the_service_figure() -> None:
    settled: list[str] = []

    async def settle(url: str) -> SpeedResult:
        settled.append(url)
        return run(url, 41.0, 9)

    async def detect_on(rtt_ms: float) -> ThrottleEvidence:
        s, c = run("https://i.ytimg.com/big", 12.0, 1, rtt_ms), run("http://bulk/big", 13.0, 2)
        return summarise(s.url, c.url, [s, c], [decide(s, c)])

    results = [record("https://www.youtube.com/", "youtube", "view")]
    urls = {"youtube": "https://i.ytimg.com/big"}
    # 1.2 s at 100 ms RTT is 12 RTTs, mostly slow start: the replay only bounds the rate
    long_path = await measure_services(
        results, urls, "http://bulk/big", detect=lambda s, c: detect_on(100.0), settle=settle
    )
    assert settled == ["https://i.ytimg.com/big"]
    bw = apply_all(results, long_path)[0].bandwidth
    assert bw is not None
    assert bw.service_mbps == 12.0
    assert bw.goodput_mbps == 41.0
    assert bw.bytes == 700_000 + 700_000  # the replay and the settled run, both on the service
    # 1.2 s at 1 ms RTT: the replay stands as the figure, no extra transfer
    short_path = await measure_services(
        results, urls, "http://bulk/big", detect=lambda s, c: detect_on(1.0), settle=settle
    )
    assert settled == ["https://i.ytimg.com/big"]
    bw = apply_all(results, short_path)[0].bandwidth
    assert bw is not None
    assert bw.goodput_mbps == 12.0
    assert bw.bytes == 700_000
