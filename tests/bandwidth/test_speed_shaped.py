"""netcheck speed and throttling on real shaped links (root: namespaces, tbf, nginx).

Bounds here are generous (the precise figures belong to bench/bandwidth.py): they catch a broken
estimator or measurer, not a 1% drift on a busy CI machine."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator

import pytest

from tests.support.shaped import ShapedLink, require_root

CEILING = 1448 / 1514  # tbf counts whole frames (FIELD_NOTES §4)

_THROTTLE = """\
import asyncio, sys
from netcheck.bandwidth.throttle import detect_throttling
print(asyncio.run(detect_throttling(sys.argv[1], sys.argv[2])).model_dump_json())
"""

_CLI = """\
import sys, typer
from netcheck.cli import guard
from netcheck.cli.speed_cmd import speed
app = typer.Typer()
app.command()(guard(speed))
app()
"""


@pytest.fixture(scope="module")
def link() -> Iterator[ShapedLink]:
    require_root()  # CI runs as root: fail loudly rather than skip
    with ShapedLink() as built:
        yield built


@pytest.mark.root
def test_download_on_20_mbit_tbf_is_near_the_ceiling_and_cheap(link: ShapedLink) -> None:
    link.shape(20)
    r = link.measure(link.url)
    assert r.failure is None
    assert r.http_status == 200
    assert r.stable
    assert r.status == "stable"
    assert r.goodput_mbps == pytest.approx(20 * CEILING, rel=0.15)
    assert r.bytes < 0.5 * 20e6 / 8 * 10  # less than half of a 10 s test
    assert r.rtt_ms is not None
    assert r.rtt_ms < 50
    assert r.window_ms == 250.0


@pytest.mark.root
def test_upload_on_20_mbit_is_measured(link: ShapedLink) -> None:
    link.shape_upload(20)
    r = link.measure(link.upload_url, "upload")
    assert r.failure is None
    assert r.http_status == 204
    assert r.direction == "upload"
    assert r.bytes > 0
    assert r.goodput_mbps == pytest.approx(20 * CEILING, rel=0.15)


@pytest.mark.root
def test_byte_cap_makes_it_inconclusive(link: ShapedLink) -> None:
    link.shape(20)
    r = link.measure(link.url, max_bytes=300_000)
    assert not r.stable
    assert r.status == "inconclusive"
    assert r.reason == "byte_cap"
    assert 300_000 <= r.bytes < 300_000 + 70_000  # at most one read past the cap


@pytest.mark.root
def test_missing_object_is_a_failure_not_a_figure(link: ShapedLink) -> None:
    r = link.measure(f"http://{link.srv_ip}/missing.bin")
    assert r.http_status == 404
    assert r.failure == "http_unexpected_status_code"
    assert not r.stable


@pytest.mark.root
def test_nothing_listening_is_connection_refused(link: ShapedLink) -> None:
    r = link.measure(f"http://{link.srv_ip}:9/big.bin")
    assert r.failure == "connection_refused"
    assert r.status == "failed"
    assert r.bytes == 0


@pytest.mark.root
def test_throttled_service_is_detected_and_control_is_not(link: ShapedLink) -> None:
    link.shape_per_address(5, 95)
    ev = json.loads(link.python_in_client(_THROTTLE, link.url, link.control_url))
    assert ev["verdict"] == "degraded"
    assert ev["technique"] == "throttled"
    assert ev["confirmed"]
    assert all(d["ratio"] < 0.2 for d in ev["decisions"])
    # four 400 kB replays (service, control, and the repeat): 1.6 MB, both paths together
    assert ev["service_bytes"] + ev["control_bytes"] <= 4 * 400_000 + 4 * 70_000
    assert len(ev["runs"]) == 4
    assert all(len(r["slots_mbps"]) == 16 for r in ev["runs"])
    same = json.loads(link.python_in_client(_THROTTLE, link.control_url, link.control_url))
    assert same["verdict"] == "accessible"
    assert same["technique"] is None


@pytest.mark.root
def test_cli_json_output(link: ShapedLink) -> None:
    link.shape(20)
    link.shape_upload(20)
    out = link.python_in_client(
        _CLI, "--url", link.url, "--upload-url", link.upload_url, "--max-seconds", "4", "--json"
    )
    payload = json.loads(out)
    down, up = payload["results"]
    for r in (down, up):
        assert {"goodput_mbps", "bytes", "seconds", "rtt_ms", "stable"} <= set(r)
    assert down["direction"] == "download"
    assert up["direction"] == "upload"
    assert payload["live_ingest"]["youtube"]["1080p30"] is True  # ~19 Mbit/s up > 10


def test_cli_without_url_is_an_input_error() -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", _CLI, "--json"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert "--url" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.root
def test_download_on_delayed_20_mbit_link() -> None:
    # RTT 50 ms from bench/delay.py (no netem here): slow start must be left out of the figure
    with ShapedLink(delay_ms=50) as delayed:
        delayed.shape(20)
        r = delayed.measure(delayed.url)
    assert r.failure is None
    assert r.rtt_ms is not None
    assert 45 <= r.rtt_ms <= 80
    assert r.stable
    assert r.goodput_mbps == pytest.approx(20 * CEILING, rel=0.15)
    assert r.bytes < 0.5 * 20e6 / 8 * 10


@pytest.mark.root
def test_download_on_a_150_ms_link_widens_the_windows() -> None:
    require_root()
    with ShapedLink(delay_ms=150) as slow:
        slow.shape(5)
        r = slow.measure(slow.url)
    assert r.failure is None
    assert r.stable
    assert r.rtt_ms is not None
    assert 145 < r.rtt_ms < 200
    assert r.window_ms == pytest.approx(2 * r.rtt_ms, abs=1.0)  # max(250 ms, 2 x RTT)
    assert r.goodput_mbps == pytest.approx(5 * CEILING, rel=0.15)
    assert r.bytes < 0.5 * 5e6 / 8 * 10


@pytest.mark.root
def test_upload_on_a_50_ms_link_counts_acknowledged_bytes() -> None:
    require_root()
    with ShapedLink(delay_ms=50, delay_for="upload") as slow:
        slow.shape_upload(20)
        before = slow.upload_wire_bytes()
        r = slow.measure(slow.upload_url, "upload")
        at_return = slow.upload_wire_bytes() - before
        time.sleep(1.0)
        after = slow.upload_wire_bytes() - before
        slow.shape_upload(1)
        one = slow.measure(slow.upload_url, "upload")
    assert r.failure is None
    assert r.http_status == 204
    assert r.stable
    assert r.rtt_ms is not None
    assert 45 < r.rtt_ms < 100
    # bytes handed to the kernel would run ahead of the link by the send buffer; acked bytes
    # track it
    assert r.goodput_mbps == pytest.approx(20 * CEILING, rel=0.15)
    # what it cost is what it says: the body's tail crosses and is counted before the return,
    # and nothing drains after it (nginx answers before reading the body: closing at once left
    # up to 90 kB crossing after the return and ~10% of the bytes on the link uncounted)
    assert after - at_return < 10_000  # the FIN and its ACKs, a few frames
    assert r.bytes >= 0.97 * after * 1448 / 1514
    # at 1 Mbit/s an ACK (2 segments) comes every 23 ms: counting only polls that saw new ACKs
    # keeps 250 ms windows from reading 10 or 11 ACKs (+-4.6%, never settling)
    assert one.stable
    assert one.goodput_mbps == pytest.approx(1 * CEILING, rel=0.15)
