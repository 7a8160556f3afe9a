"""The comms report as printed pages: ``python -m netcheck.report.pages REPORT.html --pdf OUT.pdf
--png docs/comms-report --pages 3``.

In: a report's HTML file. Out: the PDF that Chromium's print-to-PDF makes of it (A4, the page's
own ``@page`` and ``@media print`` rules, backgrounds printed), the console errors the page
logged on the way (a self-contained report logs none), and, through ``pdftoppm`` (Debian
``poppler-utils``), PNG images of its first pages: ``<prefix>-1.png``, ``<prefix>-2.png``...
``scripts/make-samples`` uses it for the screenshots under ``docs/``; the Chromium test uses it
to check the printed pages.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright's Python package through
``executable_path`` (no browser is ever downloaded), headless, without sandbox (root in a
container), with a fresh user-data-dir, and off the network: any request other than the report
file itself is aborted, so an external resource cannot be fetched even by mistake.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass(frozen=True)
class Printed:
    pdf: Path
    pages: int
    console_errors: list[str]
    blocked_requests: list[str]


def print_pdf(html: Path, pdf: Path, *, browser: str = CHROMIUM, timeout_s: float = 60) -> Printed:
    """Print ``html`` to ``pdf`` with headless Chromium; see the module docstring."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    blocked: list[str] = []
    page_url = html.resolve().as_uri()

    def route(r: Any) -> None:
        if r.request.url == page_url:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    pdf.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="netcheck-chromium-") as profile,
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=browser,
            headless=True,
            args=list(ARGS),
            offline=True,
        )
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_url, wait_until="load", timeout=timeout_s * 1000)
            page.emulate_media(media="print")
            page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        finally:
            context.close()
    return Printed(pdf, pdf_pages(pdf), errors, blocked)


def pdf_pages(pdf: Path) -> int:
    """The number of pages, read by ``pdfinfo`` (poppler-utils)."""
    done = subprocess.run(
        [_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True, timeout=60
    )
    for line in done.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise ValueError(f"pdfinfo gave no page count for {pdf}")


def png_pages(
    pdf: Path, prefix: Path, *, first: int = 1, last: int = 3, dpi: int = 80
) -> list[Path]:
    """``pdftoppm`` pages ``first``..``last`` as ``<prefix>-<n>.png``; the paths written."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="netcheck-pages-") as tmp:
        subprocess.run(
            [
                _tool("pdftoppm"),
                "-png",
                "-r",
                str(dpi),
                "-f",
                str(first),
                "-l",
                str(last),
                str(pdf),
                str(Path(tmp) / "page"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        # pdftoppm pads the page number to the width of the last page's: page-1 or page-01
        made = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        out = []
        for path in made:
            target = prefix.parent / f"{prefix.name}-{int(path.stem.rsplit('-', 1)[1])}.png"
            shutil.move(path, target)
            out.append(target)
    return out


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (Debian package poppler-utils)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Print a report to PDF and PNG pages.")
    parser.add_argument("html", type=Path)
    parser.add_argument("--pdf", type=Path, default=None, help="keep the PDF here")
    parser.add_argument("--png", type=Path, default=None, help="prefix of the PNG pages")
    parser.add_argument("--pages", type=int, default=3, help="how many first pages as PNG")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netcheck-print-") as tmp:
        pdf = args.pdf or Path(tmp) / "report.pdf"
        printed = print_pdf(args.html, pdf)
        for error in printed.console_errors:
            print(f"console error: {error}")
        print(f"{pdf}: {printed.pages} pages" if args.pdf else f"{printed.pages} pages")
        if args.png is not None:
            for path in png_pages(pdf, args.png, last=min(args.pages, printed.pages)):
                print(path)
    if printed.console_errors or printed.blocked_requests:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
