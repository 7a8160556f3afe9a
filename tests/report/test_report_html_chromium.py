"""The comms report in Debian's headless Chromium, offline: printed to PDF (print-to-PDF through
Playwright with the system browser) on the lab's real results, with no console error and no
request leaving the page; the pages are the ones expected (the summary alone on page 1, the
services and the appendix each from a new page); page 1 as a PNG has content; and the rendered
DOM of the synthetic fleet's report names the blocked channel."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from netcheck.report import comms
from netcheck.report.i18n import messages
from netcheck.report.make import load_table
from netcheck.report.pages import pdf_pages, png_pages, print_pdf
from netcheck.report.samples import CHROMIUM_FLAGS, chromium
from tests.report.test_report_load import POLICY, write_scenario
from tests.support.paths import ROOT


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
def lab_report() -> comms.CommsReport:
    """The Spanish comms report of the lab sample: what the printed pages are checked against."""
    files = sorted(str(p) for p in (ROOT / "sample_results" / "lab").glob("*.jsonl"))
    frame, policy = load_table(files, str(ROOT / "policies" / "lab.yaml"))
    return comms.build(frame, policy, "es")


@pytest.fixture(scope="module")
def printed(
    tmp_path_factory: pytest.TempPathFactory, lab_report: comms.CommsReport
) -> tuple[Path, list[str], list[str]]:
    if shutil.which("pdftoppm") is None:
        pytest.fail("needs poppler-utils (pdftoppm, pdftotext): scripts/debian-packages.txt")
    tmp = tmp_path_factory.mktemp("print")
    html = tmp / "comms.es.html"
    html.write_text(comms.render_html(lab_report), "utf-8")
    done = print_pdf(html, tmp / "comms.es.pdf")
    return done.pdf, done.console_errors, done.blocked_requests


def _page_text(pdf: Path, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_prints_without_console_errors_or_requests(
    printed: tuple[Path, list[str], list[str]],
) -> None:
    _, errors, requests = printed
    assert errors == []
    assert requests == []  # self-contained: the page asked for nothing beyond itself


def test_the_printed_pages_are_the_ones_expected(
    printed: tuple[Path, list[str], list[str]], lab_report: comms.CommsReport
) -> None:
    pdf, _, _ = printed
    m = messages("es")
    pages = pdf_pages(pdf)
    texts = [_page_text(pdf, n) for n in range(1, pages + 1)]
    # -layout breaks long lines (a host name after one of its hyphens): compare words
    flat = [" ".join(re.sub(r"-\s*\n\s*", "-", t).split()) for t in texts]
    # the summary comes first: page 1 opens with it and with what needs action first
    assert m.text("comms_title") in texts[0]
    assert m.text("summary_heading") in texts[0]
    assert lab_report.channels
    top = lab_report.channels[0]
    assert top.title in flat[0]
    assert top.lines[0].sentence in flat[0]
    # the services start a page of their own, right after the summary's pages
    services = next(i for i, t in enumerate(texts) if m.text("services_heading") in t)
    assert services >= 1
    assert texts[services].lstrip().startswith(m.text("services_heading"))
    # the summary's pages hold every channel and every line, each line whole on one page
    for card in lab_report.channels:
        assert any(card.title in t for t in flat[:services]), card.title
        for line in card.lines:
            assert any(line.sentence in t for t in flat[:services]), line.sentence
    # the charts follow the services; the appendix starts a page of its own
    charts = next(i for i, t in enumerate(texts) if m.text("charts_heading") in t)
    appendix = next(i for i, t in enumerate(texts) if m.text("appendix_heading") in t)
    assert services < charts < appendix
    assert texts[appendix].lstrip().startswith(m.text("appendix_heading"))
    drawn = " ".join(flat[charts:appendix])
    for card in lab_report.channels:  # one chart per official channel
        assert f"{card.title}: en cuántas redes funciona" in drawn, card.title
    assert "Mbit/s" in "".join(texts[charts:appendix])
    appendix_text = "".join(texts[appendix:])
    for detail in lab_report.details:
        assert detail.probe in appendix_text
    assert 6 <= pages <= 40, pages  # a readable report, not a 200-row wall
    assert not any("1 sondas" in t for t in texts)


def test_page_one_as_png_has_content(
    printed: tuple[Path, list[str], list[str]], tmp_path: Path
) -> None:
    pdf, _, _ = printed
    [png] = png_pages(pdf, tmp_path / "page", first=1, last=1)
    data = png.read_bytes()
    assert len(data) > 30_000  # a blank A4 page at 80 dpi compresses to a few KB
    assert _png_colours(data) > 20  # text, the red, orange and green lines


def test_rendered_dom_names_the_blocked_channel(tmp_path: Path) -> None:
    frame, policy = load_table([str(write_scenario(tmp_path / "results"))], POLICY)
    html_file = tmp_path / "comms.es.html"
    html_file.write_text(comms.render_html(comms.build(frame, policy, "es")), "utf-8")
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
    assert "No funciona en la red «sede central»" in dom
    assert "Bloqueado desde el 27/11/2026 09:00 UTC." in dom
    assert dom.count("<svg") >= 1
