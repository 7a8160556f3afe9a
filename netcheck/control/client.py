"""The probe's side of the control: ask the control vantage to measure URLs, get its evidence.

In: the control's base URL (``--control``), its token (``--control-token-file``), deadlines and
a cap on the answer's size. Out: a ``ControlEvidence`` per URL, never an exception: when the
control cannot be asked (down, 401/403, rate-limited past the URL's patience, oversized or
invalid answer), ``error`` says why and the classifier carries on with the probe's evidence.

At catalogue scale (issue 13 §5) the probe asks once per batch, not once per target, and paces
itself instead of being turned away:
- ``evidence_for(url)`` calls arriving within ``window`` seconds are coalesced into requests of
  at most the control's ``Netcheck-Max-Urls`` URLs, ``parallel`` requests at a time;
- ``Allowance`` is a copy of the control's token bucket, read from ``/v1/health``'s
  ``RateLimit-Policy`` / ``RateLimit-Remaining`` headers and kept in step with every answer's:
  a batch is sent when the allowance covers it, so a run of any size spends the allowance as it
  refills;
- a 429 anyway (another probe behind the same address, an older control that advertises
  nothing) holds every batch of this client until ``Retry-After`` has passed plus a jitter that
  grows with each retry, so retries never come all at the same moment;
- a URL waits at most ``patience`` seconds for its turn; each exchange at most ``timeout``;
- a control that cannot be reached, or refuses the token, is asked no more during the run: the
  URLs still waiting get the reason at once.

The client ignores proxy environment variables (``trust_env=False``): the point of a control is
a path that does not go through the network under test's filters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from netcheck.control.limits import Allowance, backoff, retry_after
from netcheck.errors import InputError
from netcheck.models import ControlEvidence, Steps

log = logging.getLogger("netcheck.control")

MAX_RESPONSE = 8 * 1024 * 1024
#: seconds to connect to the control: a control that is down costs this once, not per batch
CONNECT_TIMEOUT = 10.0


#: a token file holds one word; this only stops a file that is not one (a device, a log)
MAX_TOKEN_FILE = 4096
#: shorter tokens are refused: the control measures for whoever holds one
MIN_TOKEN = 16


def read_token(path: str, field: str = "--control-token-file") -> str:
    """The token in ``path`` (first line, stripped); InputError when unreadable, empty, short,
    or not one printable word. Never more than ``MAX_TOKEN_FILE`` bytes are read, and a FIFO
    or device is refused before it is opened (it would never end, or never start)."""
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        raise InputError("not a regular file", file=path, field=field)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TOKEN_FILE + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read the token: {exc.strerror or exc}", file=path, field=field
        ) from None
    if len(raw) > MAX_TOKEN_FILE:
        raise InputError(
            f"not a token file: larger than {MAX_TOKEN_FILE} bytes", file=path, field=field
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            "the token file is not UTF-8 text", file=path, line=1, field=field
        ) from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    line = text[: text.find(token)].count("\n") + 1 if token else 1
    if not token:
        raise InputError("the token file is empty", file=path, field=field)
    if any(c.isspace() or not c.isprintable() for c in token):
        raise InputError("the token must be one printable word", file=path, line=line, field=field)
    if len(token) < MIN_TOKEN:
        raise InputError(
            f"the token is shorter than {MIN_TOKEN} characters (make one with "
            "`openssl rand -base64 32`)",
            file=path,
            line=line,
            field=field,
        )
    return token


@dataclass(eq=False)
class _Ask:
    url: str
    future: asyncio.Future[ControlEvidence]
    deadline: float


class ControlClient:
    """``await ControlClient(url, token).evidence_for("https://...")`` -> ``ControlEvidence``."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 60.0,
        max_response: int = MAX_RESPONSE,
        ca_bundle: str | None = None,
        *,
        window: float = 0.05,
        patience: float = 900.0,
        parallel: int = 4,
    ) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self.max_response = max_response
        self.ca_bundle = ca_bundle
        self.window = window
        self.patience = patience
        self.parallel = max(1, parallel)
        self.allowance: Allowance | None = None
        self.requests = 0
        #: why the control cannot be asked at all this run (unreachable, token refused): the
        #: URLs still waiting get that answer at once instead of one timeout per batch
        self.down: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Ask] = []
        self._arrived = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/v1/measure"

    async def evidence_for(self, url: str) -> ControlEvidence:
        """The control's evidence for ``url``, asked in a batch with the calls around it."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new run (asyncio.run): nothing of the last one is alive
            self._loop, self._pending, self._flusher = loop, [], None
            self._arrived = asyncio.Event()
        ask = _Ask(url, loop.create_future(), loop.time() + self.patience)
        self._pending.append(ask)
        self._arrived.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        try:
            async with asyncio.timeout(self.patience + self.timeout + self.window + 5):
                return await ask.future
        except TimeoutError:  # the flusher always answers; this only bounds a bug
            return self._error(url, f"no answer from the control in {self.patience:g} s")

    async def evidence(self, urls: list[str]) -> dict[str, ControlEvidence]:
        """The control's evidence for each of ``urls``, keyed by URL."""
        found = await asyncio.gather(*(self.evidence_for(u) for u in urls))
        return dict(zip(urls, found, strict=True))

    # --- batching and pacing -------------------------------------------------------------------

    async def _flush(self) -> None:
        try:
            await self._flush_all()
        except Exception as exc:  # a bug must not leave the probe waiting on its targets
            log.exception("control client")
            self._fail(self._pending, f"control client failed: {type(exc).__name__}")
            self._pending.clear()
        finally:
            if self._flusher is asyncio.current_task():
                self._flusher = None

    async def _flush_all(self) -> None:
        sending: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self.parallel)
        verify: Any = self.ca_bundle if self.ca_bundle else True
        timeout = httpx.Timeout(None, connect=min(self.timeout, CONNECT_TIMEOUT))
        self.down = None
        async with httpx.AsyncClient(trust_env=False, verify=verify, timeout=timeout) as http:
            allowance = self.allowance or await self._discover(http)
            while self._pending or sending:
                if not self._pending:  # wait for a batch to end or another URL to arrive
                    self._arrived.clear()
                    arrived = asyncio.create_task(self._arrived.wait())
                    await asyncio.wait({arrived, *sending}, return_when=asyncio.FIRST_COMPLETED)
                    arrived.cancel()
                    continue
                await slots.acquire()
                batch = await self._next_batch(allowance)
                if not batch:
                    slots.release()
                    continue
                task = asyncio.create_task(self._guarded_send(http, batch, allowance))
                sending.add(task)
                task.add_done_callback(sending.discard)
                task.add_done_callback(lambda _: slots.release())
            self._flusher = None  # before the client closes: a later call starts a new flusher

    async def _next_batch(self, allowance: Allowance) -> list[_Ask]:
        """Up to ``max_urls`` waiting URLs, once the allowance covers them."""
        loop = asyncio.get_running_loop()
        if len(self._pending) < allowance.max_urls:
            await asyncio.sleep(self.window)  # let the calls around this one join it
        batch = [a for a in self._pending[: allowance.max_urls] if not a.future.done()]
        del self._pending[: allowance.max_urls]
        if not batch:
            return []
        if self.down is not None:
            self._fail(batch, self.down)
            return []
        cost = len({a.url for a in batch})
        wait = allowance.wait_for(cost, loop.time())
        if loop.time() + wait > min(a.deadline for a in batch):
            rate = f"{allowance.rate:g} URL/s" if allowance.rate else "its rate limit"
            why = f"the control's rate limit ({rate}) left no turn within {self.patience:g} s"
            self._resolve(batch, {a.url: self._error(a.url, why) for a in batch})
            return []
        allowance.spend(cost, loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        return batch

    async def _discover(self, http: httpx.AsyncClient) -> Allowance:
        """The control's advertised allowance (``/v1/health``); defaults when it says nothing."""
        try:
            async with asyncio.timeout(min(self.timeout, 10.0)):
                answer = await http.get(self.url.rstrip("/") + "/v1/health")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.down = f"cannot reach the control: {type(exc).__name__} {exc}"
            return Allowance()
        except (TimeoutError, httpx.HTTPError):
            return Allowance()  # the batches will say why the control cannot be asked
        self.allowance = Allowance.from_headers(answer.headers)
        return self.allowance

    async def _guarded_send(
        self, http: httpx.AsyncClient, batch: list[_Ask], allowance: Allowance
    ) -> None:
        try:
            await self._send(http, batch, allowance)
        except Exception as exc:  # a bug costs this batch its evidence, never a hang
            log.exception("control client")
            self._fail(batch, f"control client failed: {type(exc).__name__}")

    async def _send(self, http: httpx.AsyncClient, batch: list[_Ask], allowance: Allowance) -> None:
        loop = asyncio.get_running_loop()
        urls = list(dict.fromkeys(a.url for a in batch))  # a URL asked twice is measured once
        retry = 0
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    status, headers, data = await self._post(http, urls)
            except TimeoutError:
                return self._fail(batch, f"no answer from the control in {self.timeout:g} s")
            except _Failed as exc:
                return self._fail(batch, str(exc))
            except httpx.HTTPError as exc:
                why = f"cannot reach the control: {type(exc).__name__} {exc}"
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    self.down = why
                return self._fail(batch, why)
            allowance.update(headers)
            if status == 429:
                retry += 1
                now = loop.time()
                wait = max(
                    retry_after(headers.get("retry-after")), allowance.wait_for(len(urls), now)
                )
                wait = backoff(wait, retry)
                if now + wait > min(a.deadline for a in batch):
                    return self._fail(batch, f"control kept rate-limiting (429, {retry} tries)")
                allowance.hold(now + wait)  # every batch of this client waits, not just this one
                await asyncio.sleep(wait)
                allowance.spend(len(urls), loop.time())
                continue
            if status == 413 and len(batch) > 1:  # a control with a smaller max-urls
                half = max(1, min(allowance.max_urls, len(batch) // 2))
                parts = [batch[i : i + half] for i in range(0, len(batch), half)]
                await asyncio.gather(*(self._send(http, p, allowance) for p in parts))
                return None
            if status != 200:
                why = f"control answered {status}: {_error(data)}"
                if status in (401, 403):  # the token will not become right during the run
                    self.down = why
                return self._fail(batch, why)
            return self._resolve(batch, self._parse(urls, data))

    async def _post(
        self, http: httpx.AsyncClient, urls: list[str]
    ) -> tuple[int, httpx.Headers, bytes]:
        self.requests += 1
        async with http.stream(
            "POST",
            self.endpoint,
            json={"urls": urls},
            headers={"Authorization": f"Bearer {self.token}"},
        ) as response:
            data = bytearray()
            async for chunk in response.aiter_raw():
                data += chunk
                if len(data) > self.max_response:
                    raise _Failed(f"control answer over {self.max_response} bytes")
        return response.status_code, response.headers, bytes(data)

    # --- answers -------------------------------------------------------------------------------

    def _parse(self, urls: list[str], data: bytes) -> dict[str, ControlEvidence]:
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            return {u: self._error(u, "control answer is not JSON") for u in urls}
        results = doc.get("results") if isinstance(doc, dict) else None
        if not isinstance(results, list):
            return {u: self._error(u, "control answer has no results") for u in urls}
        out: dict[str, ControlEvidence] = {}
        for item in results:
            if not isinstance(item, dict) or item.get("url") not in urls:
                continue
            try:
                out[item["url"]] = ControlEvidence(
                    url=item["url"],
                    control=self.url,
                    measured_at=doc.get("measured_at"),
                    steps=Steps.model_validate(item.get("steps") or {}),
                    refused=item.get("refused"),
                )
            except ValidationError:
                out[item["url"]] = self._error(item["url"], "control sent invalid evidence")
        for url in urls:
            out.setdefault(url, self._error(url, "control skipped the URL"))
        return out

    def _error(self, url: str, why: str) -> ControlEvidence:
        return ControlEvidence(url=url, control=self.url, error=why)

    def _fail(self, batch: list[_Ask], why: str) -> None:
        self._resolve(batch, {a.url: self._error(a.url, why) for a in batch})

    @staticmethod
    def _resolve(batch: list[_Ask], found: Mapping[str, ControlEvidence]) -> None:
        for ask in batch:
            if not ask.future.done():  # its caller may have given up (cancelled)
                ask.future.set_result(found[ask.url])


class _Failed(Exception):
    pass


def _error(data: bytes) -> str:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return "no details"
    return str(doc.get("error", "no details"))[:200] if isinstance(doc, dict) else "no details"
