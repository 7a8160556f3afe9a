"""The evidence record: what one probe measured for one target, and what it concluded.

In: nothing (these are the shapes). Out: frozen pydantic models that measurement code fills,
classification reads, and ``netcheck/schema/result.schema.json`` is generated from
(``python -m netcheck.schema``; a test fails when the committed schema is stale). The record's
``target`` is ``netcheck.target.Target``, a stdlib dataclass pydantic validates like a model.

Timings are milliseconds. ``t0_ms`` is the step's start relative to the target's measurement start,
so a reader can lay the steps on one time line. ``failure`` is None on success, else one string
from ``failures.ALL_FAILURES``. Every attempted step is recorded, failed or not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

# the target is a plain dataclass (no pydantic: see netcheck.target); named here too, as before
from netcheck.target import FUNCTIONS as FUNCTIONS
from netcheck.target import Expect as Expect
from netcheck.target import Target as Target

SCHEMA_VERSION = "1.0"
#: the record versions this netcheck reads; a newer one may mean fields it cannot judge
SCHEMA_VERSIONS = ("1.0",)
#: what records write as time: ISO 8601 with date, time and a UTC offset (``Z`` or ``+00:00``)
UTC_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]00:?00)$"
_UTC_TIMESTAMP = re.compile(UTC_TIMESTAMP)

Verdict = Literal["accessible", "blocked", "degraded", "unreachable", "inconclusive"]
Technique = Literal[
    "dns-nxdomain",
    "dns-nodata",
    "dns-servfail",
    "dns-refused",
    "dns-timeout",
    "dns-sinkhole",
    "dns-mismatch",
    "tcp-reset",
    "tcp-timeout",
    "tls-reset",
    "tls-timeout",
    "tls-mismatch",
    "proxy-denied",
    "http-blockpage",
    "http-redirect",
    "http-status",
    "http-reset",
    "http-timeout",
    "throttled",
]
TECHNIQUES: tuple[str, ...] = Technique.__args__  # type: ignore[attr-defined]
VERDICTS: tuple[str, ...] = Verdict.__args__  # type: ignore[attr-defined]


class Frozen(BaseModel):
    """The base of every record: immutable; unknown fields, NaN and infinity are errors (no
    JSON reader reads them back)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def utc_now() -> str:
    """Now, as records write time: UTC, milliseconds, a trailing ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")


def duration_seconds(text: str) -> float:
    """``90s``, ``30m``, ``24h``, ``7d`` -> seconds; ``ValueError`` otherwise. The one reading
    of a duration for flags (``--expires``, ``--every``) and config files (notify's schedule)."""
    found = _DURATION.fullmatch(str(text or ""))
    if not found:
        raise ValueError(f"not a duration like 30s, 10m, 24h or 7d: {text!r}")
    return float(found[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]]


def utc_timestamp_problem(value: str) -> str | None:
    """Why ``value`` is not a UTC ISO 8601 time as records write it, or None."""
    if len(value) > 40 or not _UTC_TIMESTAMP.fullmatch(value):
        return f"not an ISO 8601 UTC time like 2026-11-28T09:00:00Z: {value[:40]!r}"
    try:
        datetime.fromisoformat(value[:19])
    except ValueError as exc:
        return f"not a real date and time: {value!r} ({exc})"
    return None


# --- the steps ----------------------------------------------------------------------------------


class DnsAnswer(Frozen):
    type: str  # "A", "AAAA", "CNAME"
    value: str
    ttl: int | None = None


class DnsStep(Frozen):
    hostname: str
    engine: Literal["system", "dnspython"]
    resolver: str | None = Field(None, description="ip:port asked; None for the system resolver")
    query_type: str = Field(description="A, AAAA, or ANY for getaddrinfo")
    rcode: str | None = Field(None, description="NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...")
    answers: list[DnsAnswer] = Field(default_factory=list)
    failure: str | None = None
    replies: int = Field(1, description="DNS messages received for the query (injection: >1)")
    t0_ms: float = 0.0
    runtime_ms: float = 0.0


class TcpStep(Frozen):
    ip: str
    port: int
    failure: str | None = None
    quic_versions: list[str] | None = Field(
        None, description="steps.quic only: versions a QUIC Version Negotiation offered"
    )
    t0_ms: float = 0.0
    runtime_ms: float = 0.0


class CertFacts(Frozen):
    subject: str
    issuer: str
    sans: list[str] = Field(default_factory=list)
    sha256: str
    not_before: str | None = None
    not_after: str | None = None


class TlsStep(Frozen):
    ip: str | None = Field(None, description="None when tunnelled through a proxy")
    port: int
    server_name: str
    proxy: str | None = Field(None, description="proxy URL when the handshake ran in a CONNECT")
    tls_version: str | None = None
    alpn: str | None = None
    chain: list[CertFacts] = Field(default_factory=list, description="leaf first")
    trusted_public: bool | None = Field(None, description="verifies against --ca-bundle")
    trusted_local: bool | None = Field(None, description="verifies against --local-ca only")
    hostname_matches: bool | None = None
    cert_names_missing: list[str] | None = Field(
        None,
        description="names of the target's expect.cert_names the leaf does not list "
        "(recorded, never a block on its own); None when not checked",
    )
    failure: str | None = None
    t0_ms: float = 0.0
    runtime_ms: float = 0.0


class HttpStep(Frozen):
    """One request/response exchange: one redirect hop, or a proxy's answer to CONNECT."""

    url: str
    method: str = "GET"
    ip: str | None = Field(None, description="address connected to; None through a proxy")
    proxy: str | None = None
    from_proxy: bool = Field(
        False, description="the response was the proxy's own (CONNECT refused, or a 407)"
    )
    proxy_auth: str | None = Field(
        None, description="scheme the probe answered the proxy's 407 with (never credentials)"
    )
    proxy_skipped: list[str] = Field(
        default_factory=list,
        description="PAC entries passed over before this one, and why (browser fallback)",
    )
    status: int | None = None
    headers: list[tuple[str, str]] = Field(default_factory=list)
    location: str | None = None
    body_length: int | None = Field(None, description="bytes read, after decoding, up to the cap")
    body_truncated: bool = False
    body_sha256: str | None = None
    body: str | None = Field(None, description="decoded text excerpt kept for classification")
    title: str | None = None
    failure: str | None = None
    t0_ms: float = 0.0
    runtime_ms: float = 0.0


class Steps(Frozen):
    dns: list[DnsStep] = Field(default_factory=list)
    tcp: list[TcpStep] = Field(default_factory=list)
    tls: list[TlsStep] = Field(default_factory=list)
    http: list[HttpStep] = Field(default_factory=list)
    quic: list[TcpStep] = Field(default_factory=list, description="UDP 443 reachability, if probed")
    retried: list[str] = Field(
        default_factory=list,
        description="stages (dns, tcp, tls, http) whose timed-out steps were tried once more; "
        "the second attempt's steps follow the first's in that stage's list",
    )
    loop_lag_ms: float | None = Field(
        None,
        description="worst stall of the probe's own event loop during the last step that "
        "timed out (else during the whole measurement): a timeout under a large stall may be "
        "the probe's machine, not the network",
    )


class ControlEvidence(Frozen):
    """What a control vantage outside the network measured for the same URL (issue 7).

    ``steps`` are the control's own DNS/TCP/TLS/HTTP steps, measured with the same stage code.
    ``error`` says why there is no usable evidence (control unreachable, auth, rate limit...);
    ``refused`` says the control's destination policy would not measure the URL (or a redirect
    hop of it). Either one set means: classify as if there were no control.
    """

    url: str
    control: str = Field(description="the control service asked")
    measured_at: str | None = None
    steps: Steps = Field(default_factory=Steps)
    refused: str | None = None
    error: str | None = None


class ProbeInfo(Frozen):
    id: str
    software_version: str
    started_at: str = Field(description="UTC, ISO 8601")
    network: str | None = None
    resolvers: list[str] = Field(default_factory=list)
    proxy: str | None = None
    allow_nets: list[str] = Field(default_factory=list)


class BandwidthEvidence(Frozen):
    """A service's goodput against a control endpoint's (issue 5, ``run --bandwidth``): the
    figures ``netcheck classify`` re-applies offline. ``verdict`` is the throttling test's own
    (accessible, degraded, inconclusive); ``bytes`` is what the service path moved.
    ``service_mbps``/``control_mbps``/``ratio`` are the short replays the test compared; a
    replay on a long path is mostly slow start, so the service's figure is ``goodput_mbps``."""

    service_url: str
    control_url: str
    service_mbps: float | None
    control_mbps: float | None
    ratio: float | None
    ks_p: float | None
    area: float | None
    confirmed: bool
    bytes: int
    verdict: Verdict
    goodput_mbps: float | None = Field(
        None,
        description="the service's download goodput (policy and reports read this): its "
        "replay's when that lasted 20 RTTs or more, else a settled `speed` run's",
    )


class _Figures(Protocol):
    @property
    def goodput_mbps(self) -> float | None: ...
    @property
    def service_mbps(self) -> float | None: ...


def service_figure(bw: _Figures) -> float | None:
    """A service's goodput as policy and reports read it (a ``BandwidthEvidence``, or the
    reports' msgspec slice of one): ``goodput_mbps``; records from before that field existed
    carry only the replay's ``service_mbps``."""
    return bw.goodput_mbps if bw.goodput_mbps is not None else bw.service_mbps


# --- browser mode (issue 16) ---------------------------------------------------------------------

#: what Chromium says a request was for, in the field's words (CDP resource types, folded)
RequestType = Literal[
    "document",
    "subdocument",
    "script",
    "stylesheet",
    "image",
    "font",
    "media",
    "xhr",
    "fetch",
    "websocket",
    "other",
]


class BrowserRequest(Frozen):
    """One request the page made, as the browser saw it. ``error`` is Chromium's net error
    (``net::ERR_...``), or ``pending at the page deadline`` for one still waiting then."""

    url: str
    host: str
    type: RequestType
    method: str = "GET"
    status: int | None = None
    bytes: int | None = Field(None, description="bytes received on the wire (encoded)")
    error: str | None = None
    t0_ms: float = Field(0.0, description="since the page load began")
    runtime_ms: float | None = None


class BrowserFailure(Frozen):
    """A request the page needed and did not get, named by netcheck's own measurement of its
    host (``BrowserHost``): ``technique`` and ``vendor`` are that measurement's (recomputed
    offline from it), never read from the browser's error text alone."""

    url: str
    host: str
    type: RequestType
    error: str
    technique: Technique | None = None
    vendor: str | None = None
    party: Literal["own", "extra", "third"] = Field(
        "third",
        description="own: the service's (or the page's) own domains; extra: an ad, analytics "
        "or tracker host; third: anyone else",
    )


class BrowserHost(Frozen):
    """netcheck's step-by-step measurement (DNS, TCP, TLS, HTTP) of a host whose requests
    failed in the browser, measured through the same pipeline, proxy and trust as the probe."""

    host: str
    url: str = Field(description="the URL measured: the host's first failed request")
    steps: Steps
    verdict: Verdict
    technique: Technique | None = None
    vendor: str | None = None
    evidence: str = ""


class BrowserEvidence(Frozen):
    """What a person would have met loading the page in a real Chromium (``run --browser``,
    ``netcheck browse``)."""

    browser: str = Field(description="the browser's product and version")
    sandboxed: bool = Field(description="False when run as root (Chromium needs --no-sandbox)")
    loaded: bool = Field(description="the document itself arrived (whatever its status)")
    final_url: str | None = None
    title: str | None = None
    events: list[str] = Field(
        default_factory=list, description="load events reached: domcontentloaded, load"
    )
    requests: list[BrowserRequest] = Field(default_factory=list)
    failed: list[BrowserFailure] = Field(default_factory=list)
    hosts: list[BrowserHost] = Field(default_factory=list)
    console_errors: list[str] = Field(default_factory=list)
    screenshot: str | None = Field(
        None, description="PNG path, relative to the JSON Lines file's directory"
    )
    bytes: int = Field(0, description="bytes the page received, all requests together")
    deadline_hit: bool = False
    byte_cap_hit: bool = False
    error: str | None = Field(None, description="why the page could not be loaded at all")
    runtime_ms: float = 0.0


def _version_required(schema: dict[str, Any]) -> None:
    """A stored record names its version (``output.parse_line`` refuses one that does not);
    the default is for records being made."""
    schema["required"] = ["schema_version", *schema.get("required", [])]


class Result(Frozen):
    model_config = ConfigDict(json_schema_extra=_version_required)

    schema_version: str = SCHEMA_VERSION
    id: str = Field(description="unique id of this record")
    probe: ProbeInfo
    target: Target
    measured_at: str
    verdict: Verdict
    technique: Technique | None = None
    vendor: str | None = None
    intercepted: bool = False
    evidence: str
    steps: Steps
    runtime_ms: float = 0.0
    control: ControlEvidence | None = Field(
        None, description="the control vantage's evidence for the same URL, when one was asked"
    )
    bandwidth: BandwidthEvidence | None = Field(
        None, description="service vs control goodput, when run --bandwidth measured it"
    )
    browser: BrowserEvidence | None = Field(
        None, description="the page in a real browser, when run --browser loaded it"
    )

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        # a record from a newer netcheck may carry facts this one would misjudge: refuse it
        if value not in SCHEMA_VERSIONS:
            raise ValueError(
                f"unknown schema_version {value[:20]!r}; this netcheck reads "
                + ", ".join(SCHEMA_VERSIONS)
            )
        return value

    @field_validator("measured_at")
    @classmethod
    def _utc_time(cls, value: str) -> str:
        problem = utc_timestamp_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


# --- bandwidth -----------------------------------------------------------------------------------


Direction = Literal["download", "upload"]
Status = Literal["stable", "inconclusive", "failed"]
StopReason = Literal["stable", "time_cap", "byte_cap", "eof", "failed"]


class SpeedResult(Frozen):
    """One measured transfer. ``stable`` False with bytes moved = inconclusive, not wrong."""

    url: str
    direction: Direction
    goodput_mbps: float | None
    bytes: int
    seconds: float
    rtt_ms: float | None
    stable: bool
    status: Status
    reason: StopReason
    failure: str | None = None
    http_status: int | None = None
    window_ms: float
    windows_mbps: list[float] = Field(default_factory=list)
    slots_mbps: list[float] = Field(
        default_factory=list,
        description="50 ms rates over the settled part; a replay run: its K equal slots",
    )
