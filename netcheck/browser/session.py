"""Browser mode for a run: each page target in a real Chromium, its failed hosts measured.

In: the probe's ``ProbeConfig`` (proxy, trust, resolvers, fingerprints: the same the pipeline
used), a ``BrowserPlan`` (executable, page limits, where screenshots go) and the run's records.
Out: the page targets' records with a ``browser`` section and their verdict judged again
(``netcheck.classify.browser``); the other records unchanged.

For every host whose requests failed in the browser, netcheck measures that host itself through
its own pipeline (DNS, TCP, TLS, HTTP; the control vantage is not asked), once per run, so each
failure is named with the usual technique and vendor, not from Chromium's error text.
Playwright is imported here only: the rest of netcheck never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from netcheck.browser.capture import Capture, PageLimits, capture_page
from netcheck.browser.launch import browser_version, prepared
from netcheck.classify import classify_result
from netcheck.classify.browser import (
    authority,
    dependency_target,
    host_record,
    measured_url,
    real_failures,
)
from netcheck.classify.evidence import Classification
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.models import BrowserEvidence, BrowserHost, BrowserRequest, Result, Target
from netcheck.netaddr import url_scheme

#: the functions whose targets are pages a person opens (media, API, ingest hosts are not)
PAGE_FUNCTIONS = frozenset({"view", "official_channel", "login", "admin"})
#: pages loaded at once: Chromium is heavy on two cores
PAGES_AT_ONCE = 2


@dataclass(frozen=True)
class BrowserPlan:
    """``--browser``: which browser, each page's limits, and where screenshots are written
    (``shots``; the record names them relative to ``base``, the JSON Lines file's folder)."""

    executable: str
    limits: PageLimits = PageLimits()
    shots: Path | None = None
    base: Path | None = None


def is_page(target: Target) -> bool:
    return target.function in PAGE_FUNCTIONS and url_scheme(target.url) in ("http", "https")


class BrowserSession:
    """One Chromium for a whole run (a fresh context per page) and a host-measurement cache."""

    def __init__(self, config: ProbeConfig, plan: BrowserPlan) -> None:
        self.config = config
        self.plan = plan
        # failed hosts are measured as the probe measures, without asking the control
        self.probe = Probe(dataclasses.replace(config, control=None))
        self._hosts: dict[str, asyncio.Task[BrowserHost]] = {}
        self._stack = contextlib.AsyncExitStack()
        self._browser: Any = None
        self.version = ""
        self.notes: list[str] = []
        self.sandboxed = False

    async def __aenter__(self) -> BrowserSession:
        from playwright.async_api import async_playwright

        launch = self._stack.enter_context(
            prepared(self.plan.executable, self.config.proxy, self.config.trust)
        )
        self.sandboxed, self.notes = launch.sandboxed, launch.notes
        self.version = await asyncio.to_thread(browser_version, launch.executable)
        try:
            pw = await self._stack.enter_async_context(async_playwright())
            self._browser = await pw.chromium.launch(**launch.playwright_kwargs())
        except BaseException:
            await self._stack.aclose()
            raise
        self._stack.push_async_callback(self._browser.close)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._hosts.values():
            task.cancel()
        await self._stack.aclose()

    async def page(self, result: Result) -> Result:
        """The record with its ``browser`` section, judged again."""
        target = result.target
        try:
            cap = await capture_page(self._browser, target.url, self.plan.limits)
        except Exception as exc:  # noqa: BLE001 - a browser crash is recorded, not raised
            cap = Capture(error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        failed = real_failures(cap.requests)
        hosts = await asyncio.gather(*(self._host(r, target) for r in _first_per_host(failed)))
        evidence = BrowserEvidence(
            browser=self.version,
            sandboxed=self.sandboxed,
            loaded=cap.loaded,
            final_url=cap.final_url,
            title=cap.title,
            events=cap.events,
            requests=cap.requests,
            hosts=list(hosts),
            console_errors=cap.console_errors,
            screenshot=self._keep_screenshot(result.id, cap.screenshot),
            bytes=cap.bytes,
            deadline_hit=cap.deadline_hit,
            byte_cap_hit=cap.byte_cap_hit,
            error=cap.error,
            runtime_ms=cap.runtime_ms,
        )
        with_browser = result.model_copy(update={"browser": evidence})
        return classify_result(with_browser, fingerprints=self.probe.fingerprints)

    def _host(self, request: BrowserRequest, page: Target) -> asyncio.Task[BrowserHost]:
        key = authority(request.url)
        if key not in self._hosts:
            self._hosts[key] = asyncio.ensure_future(self._measure(request, page))
        return self._hosts[key]

    async def _measure(self, request: BrowserRequest, page: Target) -> BrowserHost:
        url = measured_url(request)
        measured = await self.probe.measure(dependency_target(url, page.service))
        c = Classification(
            measured.verdict,
            measured.technique,
            measured.vendor,
            measured.intercepted,
            measured.evidence,
        )
        return host_record(request.host, url, measured.steps, c)

    def _keep_screenshot(self, record_id: str, png: bytes | None) -> str | None:
        if png is None or self.plan.shots is None:
            return None
        self.plan.shots.mkdir(parents=True, exist_ok=True)
        path = self.plan.shots / f"{record_id}.png"
        path.write_bytes(png)
        base = self.plan.base or self.plan.shots.parent
        try:
            return str(path.relative_to(base))
        except ValueError:
            return str(path)


def _first_per_host(failed: Sequence[BrowserRequest]) -> list[BrowserRequest]:
    """One request per endpoint (host and port): the first that failed there."""
    seen: dict[str, BrowserRequest] = {}
    for request in failed:
        if request.host:
            seen.setdefault(authority(request.url), request)
    return list(seen.values())


async def browse_results(
    config: ProbeConfig,
    plan: BrowserPlan,
    results: Sequence[Result],
    note: Callable[[str], None] | None = None,
) -> list[Result]:
    """Every page target's record with its browser evidence (same order as given)."""
    out = list(results)
    pages = [i for i, r in enumerate(out) if is_page(r.target)]
    if not pages:
        return out
    slots = asyncio.Semaphore(PAGES_AT_ONCE)
    async with BrowserSession(config, plan) as session:
        if note is not None:
            for line in session.notes:
                note(f"browser: {line}")

        async def one(index: int) -> None:
            async with slots:
                out[index] = await session.page(out[index])
                if note is not None:
                    r = out[index]
                    note(f"browser: {r.target.url}: {r.verdict}")

        async with asyncio.TaskGroup() as group:
            for index in pages:
                group.create_task(one(index))
    return out
