"""The comms report rendered by Debian's headless Chromium, offline: a real screenshot with
content, and the rendered DOM names the blocked channel."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from netcheck.policy.loader import load_policy
from netcheck.report import comms
from netcheck.report.judge import judge
from netcheck.report.load import load
from netcheck.report.samples import CHROMIUM_FLAGS, chromium, screenshot
from tests.report.test_report_load import CHANNEL, POLICY, write_scenario


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    assert chromium() is not None, "needs Debian's chromium: scripts/test installs it"


def _png_colours(data: bytes, rows: int = 400) -> int:
    """Distinct pixel values in the first ``rows`` rows of an 8-bit RGB(A) PNG (no PIL needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, channels = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, _, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            assert colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    seen: set[bytes] = set()
    for y in range(rows):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        if len(line) < stride + 1:
            break
        f, cur = line[0], bytearray(line[1:])
        for x in range(stride):
            a = cur[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if f == 1:
                cur[x] = (cur[x] + a) & 255
            elif f == 2:
                cur[x] = (cur[x] + b) & 255
            elif f == 3:
                cur[x] = (cur[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[x] = (cur[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(bytes(cur[i : i + channels]) for i in range(0, stride, channels * 7))
        prev = cur
    return len(seen)


@pytest.fixture(scope="module")
def html_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("chromium")
    frame = judge(load([str(write_scenario(tmp / "results"))]), load_policy(POLICY))
    path = tmp / "comms.es.html"
    path.write_text(comms.render_html(comms.build(frame, load_policy(POLICY), "es")), "utf-8")
    return path


def test_screenshot_has_content(html_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "comms.png"
    screenshot(html_file, png)
    data = png.read_bytes()
    assert len(data) > 30_000  # a blank 1200x1600 page compresses to a few KB
    assert _png_colours(data) > 20  # text, the red and green cards, the table shading


def test_rendered_dom_names_the_blocked_channel(html_file: Path, tmp_path: Path) -> None:
    browser = chromium()
    assert browser is not None
    done = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            html_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    dom = done.stdout
    assert f"El canal oficial {CHANNEL} no se puede ver desde la red «sede central»" in dom
    assert "Pida a TI que revise la regla «canal-oficial»" in dom
    assert dom.count("<svg") >= 2
