"""The probe's side of the control: ask the control vantage to measure a URL, get its evidence.

In: the control's base URL (``--control``), its token (``--control-token-file``), a deadline and
a cap on the answer's size. Out: a ``ControlEvidence`` per URL, never an exception: when the
control cannot be asked (down, 401/403, 429 past the deadline, oversized or invalid answer),
``error`` says why and the classifier carries on with the probe's evidence alone.

The client ignores proxy environment variables (``trust_env=False``): the point of a control is
a path that does not go through the network under test's filters. A 429 is honoured once
(``Retry-After``, within the deadline), so a long run paced by the control's limit still gets
its evidence.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from netcheck.errors import InputError
from netcheck.models import ControlEvidence, Steps

MAX_RESPONSE = 8 * 1024 * 1024


def read_token(path: str, field: str = "--control-token-file") -> str:
    """The token in ``path`` (first line, stripped); InputError when unreadable or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the token: {exc}", file=path, field=field) from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise InputError("the token file is empty", file=path, field=field)
    if any(c.isspace() or not c.isprintable() for c in token):
        raise InputError("the token must be one printable word", file=path, field=field)
    return token


@dataclass(frozen=True)
class ControlClient:
    url: str
    token: str
    timeout: float = 60.0
    max_response: int = MAX_RESPONSE
    ca_bundle: str | None = None

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/v1/measure"

    async def evidence_for(self, url: str) -> ControlEvidence:
        return (await self.evidence([url]))[url]

    async def evidence(self, urls: list[str]) -> dict[str, ControlEvidence]:
        """The control's evidence for each of ``urls`` (one request), keyed by URL."""
        deadline = time.monotonic() + self.timeout
        try:
            async with asyncio.timeout(self.timeout):
                doc = await self._ask(urls, deadline)
        except TimeoutError:
            return self._errors(urls, f"no answer from the control in {self.timeout:g} s")
        except _Failed as exc:
            return self._errors(urls, str(exc))
        except httpx.HTTPError as exc:
            return self._errors(urls, f"cannot reach the control: {type(exc).__name__} {exc}")
        return self._parse(urls, doc)

    async def _ask(self, urls: list[str], deadline: float) -> Any:
        verify: Any = self.ca_bundle if self.ca_bundle else True
        async with httpx.AsyncClient(trust_env=False, verify=verify, timeout=None) as client:
            for attempt in range(2):
                async with client.stream(
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
                retry = response.headers.get("retry-after", "")
                if response.status_code == 429 and attempt == 0 and retry.isdigit():
                    wait = int(retry)
                    if time.monotonic() + wait < deadline:
                        await asyncio.sleep(wait)
                        continue
                if response.status_code != 200:
                    raise _Failed(f"control answered {response.status_code}: {_error(bytes(data))}")
                try:
                    return httpx.Response(200, content=bytes(data)).json()
                except ValueError:
                    raise _Failed("control answer is not JSON") from None
        raise _Failed("control kept rate-limiting")

    def _parse(self, urls: list[str], doc: Any) -> dict[str, ControlEvidence]:
        results = doc.get("results") if isinstance(doc, dict) else None
        if not isinstance(results, list):
            return self._errors(urls, "control answer has no results")
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
                out[item["url"]] = ControlEvidence(
                    url=item["url"], control=self.url, error="control sent invalid evidence"
                )
        for url in urls:
            out.setdefault(
                url, ControlEvidence(url=url, control=self.url, error="control skipped the URL")
            )
        return out

    def _errors(self, urls: list[str], why: str) -> dict[str, ControlEvidence]:
        return {u: ControlEvidence(url=u, control=self.url, error=why) for u in urls}


class _Failed(Exception):
    pass


def _error(data: bytes) -> str:
    try:
        doc = httpx.Response(200, content=bytes(data)).json()
    except ValueError:
        return "no details"
    return str(doc.get("error", "no details"))[:200] if isinstance(doc, dict) else "no details"
