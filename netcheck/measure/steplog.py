"""The steps of one URL as the pipeline measures them, and what the record says about them.

In: steps appended by ``measure.pipeline`` the moment each ends. Out: ``Steps`` (``freeze``),
with ``retried`` (the stage tried once more) and the event loop's stall. ``deadline_hit`` adds
the timed-out step for the stage that was running when the URL's overall cap fired, so the
record shows every step measured plus the one the cap cut, and the classifier names the stage.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from netcheck.failures import GENERIC_TIMEOUT
from netcheck.models import DnsStep, HttpStep, Steps, TcpStep, TlsStep
from netcheck.netaddr import split_url


@dataclass
class StepLog:
    """Steps as they are measured (appended when each ends); frozen into ``Steps`` at the end."""

    t0: float = field(default_factory=time.monotonic)
    dns: list[DnsStep] = field(default_factory=list)
    tcp: list[TcpStep] = field(default_factory=list)
    tls: list[TlsStep] = field(default_factory=list)
    http: list[HttpStep] = field(default_factory=list)
    quic: list[TcpStep] = field(default_factory=list)
    stage: str = "dns"
    retried: list[str] = field(default_factory=list)
    refused: str | None = None
    #: the URL's overall deadline, pushed back by the time spent queueing for run-level slots
    cap: asyncio.Timeout | None = None

    def deadline_hit(self, url: str) -> None:
        """The URL's overall cap fired: record a timed-out step in the stage that was running,
        so the classifier names the right stage and the record says the cap was hit."""
        _, host, port = split_url(url)
        spent = (time.monotonic() - self.t0) * 1000
        if self.stage == "dns":
            self.dns.append(
                DnsStep(
                    hostname=host,
                    engine="dnspython",
                    query_type="A",
                    failure=GENERIC_TIMEOUT,
                    replies=0,
                    runtime_ms=spent,
                )
            )
        elif self.stage == "tcp":
            self.tcp.append(TcpStep(ip="", port=port, failure=GENERIC_TIMEOUT, runtime_ms=spent))
        elif self.stage == "tls":
            self.tls.append(
                TlsStep(port=port, server_name=host, failure=GENERIC_TIMEOUT, runtime_ms=spent)
            )
        else:
            self.http.append(
                HttpStep(url=self._hop_url(url), failure=GENERIC_TIMEOUT, runtime_ms=spent)
            )

    def _hop_url(self, url: str) -> str:
        """The URL being fetched when the cap fired: the hop a redirect led to, or the hop
        being tried once more."""
        if not self.http:
            return url
        last = self.http[-1]
        if last.failure is not None:
            return last.url
        if not last.location:
            return url
        try:
            # joined as measure.http joins it: httpx follows some Locations urllib refuses
            # (``http://[bad`` -> ``http://%5bbad``), and a hostile one must not raise here
            return str(httpx.URL(last.url).join(last.location))
        except (httpx.InvalidURL, ValueError):
            return last.url

    def may_retry(self, stage: str) -> bool:
        """True once per URL: the first stage that timed out gets its second attempt."""
        if self.retried:
            return False
        self.retried.append(stage)
        return True

    def freeze(self, loop_lag_ms: float | None = None) -> Steps:
        return Steps(
            dns=self.dns,
            tcp=self.tcp,
            tls=self.tls,
            http=self.http,
            quic=self.quic,
            retried=self.retried,
            loop_lag_ms=loop_lag_ms,
        )
