"""Loading one page in a running Chromium and recording what a person would have met.

In: a Playwright ``Browser`` (async API) and a URL, with ``PageLimits``. Out: a ``Capture`` —
every request the page made (from the DevTools protocol's Network events: type, status, bytes on
the wire, timing, and Chromium's net error for a failed one), the final URL, title, load events
reached, console errors and a PNG screenshot (capped size).

Rules that make the record honest:
- one fresh browser context per page: no cookie or storage carries from one target to the next;
- the page never submits a form (an init script disarms ``submit``; nothing is ever clicked);
- a deadline for the whole page and a byte cap on everything it receives (past the cap the
  page is stopped and the record says so);
- a request (or a websocket that never completed its handshake) still pending at the deadline
  counts as failed, ``pending at the page deadline``: Chromium keeps a dropped connection
  waiting far longer than a person does;
- a websocket's failure text comes from the console line Chromium writes for it (the protocol's
  websocket events carry no net error).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from netcheck.classify.browser import PENDING
from netcheck.models import BrowserRequest

NETWORK_SCHEMES = ("http://", "https://", "ws://", "wss://")
#: what CDP calls a resource -> the record's ``type``
_TYPES = {
    "Document": "document",
    "Stylesheet": "stylesheet",
    "Image": "image",
    "Media": "media",
    "Font": "font",
    "Script": "script",
    "XHR": "xhr",
    "Fetch": "fetch",
    "EventSource": "xhr",
    "WebSocket": "websocket",
}
#: disarm form submission before any page script runs
NO_FORMS = """
(() => {
  const stop = (e) => { e.preventDefault(); e.stopImmediatePropagation(); };
  window.addEventListener('submit', stop, true);
  HTMLFormElement.prototype.submit = function () {};
  HTMLFormElement.prototype.requestSubmit = function () {};
})();
"""
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")


@dataclass(frozen=True)
class PageLimits:
    deadline: float = 20.0
    max_bytes: int = 32 * 1024 * 1024
    #: seconds with nothing in flight, after the load event, that end the wait early
    quiet: float = 1.0
    screenshot_max: int = 1024 * 1024
    viewport: tuple[int, int] = (1280, 800)


@dataclass
class _Entry:
    url: str
    type: str
    method: str
    started: float
    status: int | None = None
    bytes: int | None = None
    error: str | None = None
    ended: float | None = None
    websocket: bool = False


@dataclass
class Capture:
    loaded: bool = False
    final_url: str | None = None
    title: str | None = None
    events: list[str] = field(default_factory=list)
    requests: list[BrowserRequest] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes | None = None
    bytes: int = 0
    deadline_hit: bool = False
    byte_cap_hit: bool = False
    error: str | None = None
    runtime_ms: float = 0.0


class _Recorder:
    """CDP Network events -> entries, keyed by request id (a redirect closes one entry and
    opens the next under the same id)."""

    def __init__(self, limits: PageLimits, over_cap: asyncio.Event) -> None:
        self.limits = limits
        self.over_cap = over_cap
        self.entries: list[_Entry] = []
        self.live: dict[str, _Entry] = {}
        self.t0: float | None = None
        self.main_frame: str | None = None
        self.document: _Entry | None = None
        self.received = 0
        self.last_activity = time.monotonic()

    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    def will_be_sent(self, ev: dict[str, Any]) -> None:
        self._touch()
        rid, req = ev["requestId"], ev.get("request", {})
        now = float(ev.get("timestamp", 0.0))
        if self.t0 is None:
            self.t0 = now
        previous = self.live.pop(rid, None)
        if previous is not None and ev.get("redirectResponse"):
            previous.status = ev["redirectResponse"].get("status")
            previous.ended = now
        kind = _TYPES.get(ev.get("type", ""), "other")
        if kind == "document":
            if self.main_frame is None:
                self.main_frame = ev.get("frameId")
            elif ev.get("frameId") != self.main_frame:
                kind = "subdocument"
        url = str(req.get("url", ""))
        if not url.startswith(NETWORK_SCHEMES):
            return  # data:, blob:, the browser's own resources: nothing crossed the network
        entry = _Entry(url, kind, str(req.get("method", "GET")), now)
        if kind == "document":
            self.document = entry
        self.entries.append(entry)
        self.live[rid] = entry

    def response(self, ev: dict[str, Any]) -> None:
        self._touch()
        entry = self.live.get(ev["requestId"])
        if entry is not None:
            entry.status = ev.get("response", {}).get("status")

    def data(self, ev: dict[str, Any]) -> None:
        self._touch()
        self.received += int(ev.get("encodedDataLength") or ev.get("dataLength") or 0)
        if self.received > self.limits.max_bytes:
            self.over_cap.set()

    def finished(self, ev: dict[str, Any]) -> None:
        self._touch()
        entry = self.live.pop(ev["requestId"], None)
        if entry is not None:
            entry.bytes = int(ev.get("encodedDataLength", 0))
            entry.ended = float(ev.get("timestamp", entry.started))

    def failed(self, ev: dict[str, Any]) -> None:
        self._touch()
        entry = self.live.pop(ev["requestId"], None)
        if entry is not None:
            reason = ev.get("blockedReason") or ev.get("corsErrorStatus", {}).get("corsError")
            text = str(ev.get("errorText") or "net::ERR_FAILED")
            entry.error = f"{text} ({reason})" if reason else text
            entry.ended = float(ev.get("timestamp", entry.started))

    def ws_created(self, ev: dict[str, Any]) -> None:
        self._touch()
        now = self.entries[-1].started if self.entries else 0.0
        entry = _Entry(str(ev.get("url", "")), "websocket", "GET", now, websocket=True)
        self.entries.append(entry)
        self.live[ev["requestId"]] = entry

    def ws_open(self, ev: dict[str, Any]) -> None:
        self._touch()
        entry = self.live.pop(ev["requestId"], None)
        if entry is not None:
            entry.status = ev.get("response", {}).get("status")
            entry.ended = float(ev.get("timestamp", entry.started))

    def ws_error(self, ev: dict[str, Any]) -> None:
        self._touch()
        entry = self.live.pop(ev["requestId"], None)
        if entry is not None:
            entry.error = str(ev.get("errorMessage") or "websocket error")

    def ws_closed(self, ev: dict[str, Any]) -> None:
        self._touch()
        entry = self.live.pop(ev["requestId"], None)
        if entry is not None and entry.status is None and entry.error is None:
            entry.error = "closed before the handshake"
            entry.ended = float(ev.get("timestamp", entry.started))

    def in_flight(self) -> int:
        return len(self.live)

    def freeze(self, console: list[str]) -> list[BrowserRequest]:
        """Entries as records; what is still live is pending at the deadline."""
        for entry in self.live.values():
            entry.error = PENDING
        t0 = self.t0 or 0.0
        out = []
        for e in self.entries:
            error = e.error
            if e.websocket and error is not None and error != PENDING:
                error = _console_error_for(e.url, console) or error
            out.append(
                BrowserRequest(
                    url=e.url[:2000],
                    host=(urlsplit(e.url).hostname or "").lower(),
                    type=e.type,
                    method=e.method,
                    status=e.status,
                    bytes=e.bytes,
                    error=error,
                    t0_ms=round(max(0.0, e.started - t0) * 1000, 1),
                    runtime_ms=round((e.ended - e.started) * 1000, 1) if e.ended else None,
                )
            )
        return out


def _console_error_for(url: str, console: list[str]) -> str | None:
    for line in console:
        if url in line:
            found = _NET_ERROR.search(line)
            if found:
                return found.group(0)
    return None


async def capture_page(browser: Any, url: str, limits: PageLimits) -> Capture:
    """Load ``url`` in a fresh context of ``browser``; never raises for what the network did."""
    began = time.monotonic()
    out = Capture()
    over_cap = asyncio.Event()
    rec = _Recorder(limits, over_cap)
    width, height = limits.viewport
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        accept_downloads=False,
        service_workers="block",
        java_script_enabled=True,
    )
    try:
        await context.add_init_script(NO_FORMS)
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        _listen(cdp, rec)
        await cdp.send("Network.enable")

        def console(message: Any) -> None:
            if message.type == "error":
                out.console_errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda e: out.console_errors.append(str(e)))
        page.on("domcontentloaded", lambda _: out.events.append("domcontentloaded"))
        page.on("load", lambda _: out.events.append("load"))
        await _load(page, cdp, url, limits, rec, out, over_cap, began)
        out.requests = rec.freeze(out.console_errors)
        doc = rec.document
        out.loaded = doc is not None and doc.status is not None and doc.error is None
        out.final_url = page.url if page.url != "about:blank" else None
        out.bytes = rec.received
        with contextlib.suppress(Exception):  # a crashed or stuck page has no title to give
            out.title = (await asyncio.wait_for(page.title(), 3))[:300] or None
        out.screenshot = await _screenshot(page, limits)
    finally:
        with contextlib.suppress(Exception):  # closing a crashed context may fail: nothing lost
            await asyncio.wait_for(context.close(), 10)
    out.console_errors = [line[:500] for line in out.console_errors[:50]]
    out.runtime_ms = round((time.monotonic() - began) * 1000, 1)
    return out


def _listen(cdp: Any, rec: _Recorder) -> None:
    cdp.on("Network.requestWillBeSent", rec.will_be_sent)
    cdp.on("Network.responseReceived", rec.response)
    cdp.on("Network.dataReceived", rec.data)
    cdp.on("Network.loadingFinished", rec.finished)
    cdp.on("Network.loadingFailed", rec.failed)
    cdp.on("Network.webSocketCreated", rec.ws_created)
    cdp.on("Network.webSocketHandshakeResponseReceived", rec.ws_open)
    cdp.on("Network.webSocketFrameError", rec.ws_error)
    cdp.on("Network.webSocketClosed", rec.ws_closed)


async def _load(
    page: Any,
    cdp: Any,
    url: str,
    limits: PageLimits,
    rec: _Recorder,
    out: Capture,
    over_cap: asyncio.Event,
    began: float,
) -> None:
    """Navigate, then wait for the load event and a quiet network, within the deadline."""
    left = limits.deadline - (time.monotonic() - began)
    nav: asyncio.Future[Any] | None = None
    try:
        async with asyncio.timeout(max(0.1, left)):
            nav = asyncio.ensure_future(
                page.goto(url, wait_until="commit", timeout=limits.deadline * 1000)
            )
            capped = asyncio.ensure_future(over_cap.wait())
            await asyncio.wait({nav, capped}, return_when=asyncio.FIRST_COMPLETED)
            if not capped.done():
                capped.cancel()
            if nav.done() and nav.exception() is not None:
                out.error = None  # the document's own failure is in its request record
                return
            while not over_cap.is_set():
                quiet = time.monotonic() - rec.last_activity
                if "load" in out.events and rec.in_flight() == 0 and quiet >= limits.quiet:
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        out.deadline_hit = True
    finally:
        if over_cap.is_set():
            out.byte_cap_hit = True
        if out.deadline_hit or out.byte_cap_hit:
            with contextlib.suppress(Exception):  # stop what is still coming in
                await asyncio.wait_for(cdp.send("Page.stopLoading"), 2)
        if nav is not None:
            # whatever the navigation ends with after this (its error can land before the
            # cancel does, on a loaded machine) is read here, not reported by asyncio as "Task
            # exception was never retrieved" with a traceback on stderr
            nav.add_done_callback(_retrieved)
            if not nav.done():
                nav.cancel()


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _screenshot(page: Any, limits: PageLimits) -> bytes | None:
    """The viewport as PNG; a second, smaller one when the first is over the cap; else None."""
    sizes = [limits.viewport, (limits.viewport[0] // 2, limits.viewport[1] // 2)]
    for width, height in sizes:
        try:
            await page.set_viewport_size({"width": width, "height": height})
            png: bytes = await page.screenshot(type="png", timeout=5000, animations="disabled")
        except Exception:  # noqa: BLE001 - a page that cannot be drawn has no screenshot
            return None
        if len(png) <= limits.screenshot_max:
            return png
    return None
