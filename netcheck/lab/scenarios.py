"""The lab's scenarios: declarative data shared by the lab CLI, the lab tests and the benchmark.

In: ``scenarios.yaml`` beside this module. Out: frozen ``Scenario`` models — what each component
of the gateway does (DNS policy, firewall, SNI filter, proxy, shaping), which services the probe
measures, and the outcomes the probe must report (``expect``; every other measured target must be
accessible). ``check`` compares a run's records with those outcomes and returns the mismatches.

A target is named by ``url``, ``host`` or ``service`` (+ ``function``), or by none of them
(every target); an expectation's ``vendor``, ``intercepted``, ``evidence`` (a phrase the
evidence must hold) and ``cert_names_missing`` (names the TLS step must record as missing from
the certificate) are checked only when given. Scenarios with ``control: true`` run
the probe with the lab's control vantage (``netcheck control serve`` in ``nclab-internet``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from netcheck.errors import InputError
from netcheck.models import Frozen, Technique, Verdict
from netcheck.netaddr import host_key, url_host

SCENARIO_FILE = "scenarios.yaml"


class DnsPolicy(Frozen):
    """Names (each with its subdomains) and what the gateway resolver does to them."""

    nxdomain: list[str] = Field(default_factory=list)
    sinkhole: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    refuse: list[str] = Field(default_factory=list)
    servfail: list[str] = Field(default_factory=list)


class Firewall(Frozen):
    reset: list[str] = Field(default_factory=list, description="TCP to these hosts gets a RST")
    blackhole: list[str] = Field(default_factory=list, description="packets to these are dropped")
    udp443: bool = Field(False, description="drop every forwarded UDP 443 datagram (QUIC)")


class ProxyPolicy(Frozen):
    mode: Literal["none", "explicit", "bump"] = "none"
    deny_connect: list[str] = Field(default_factory=list, description="CONNECT refused (403)")
    deny_http: list[str] = Field(
        default_factory=list, description="requests for these domains get squid's deny page"
    )
    deny_url: list[str] = Field(default_factory=list, description="url_regex patterns denied")
    deny_page: Literal["acceso-restringido"] | None = Field(
        None, description="a plain-worded page (squid.LAB_PAGES) instead of squid's own deny page"
    )
    auth: list[Literal["basic", "digest", "negotiate"]] = Field(
        default_factory=list,
        description="schemes squid demands before any other rule (407 without a user)",
    )

    @model_validator(mode="after")
    def _auth_is_explicit(self) -> ProxyPolicy:
        if self.auth and self.mode != "explicit":
            raise ValueError("the lab's squid authenticates in explicit mode only")
        return self


class Shape(Frozen):
    service: str
    rate: str = "5mbit"


class DnsInjection(Frozen):
    """An on-path injector on the gateway answers A queries for ``name`` with ``answer``."""

    name: str
    answer: str = Field(description="the forged address (IPv4)")
    #: the gateway resolver reaches ``name`` through a relay that delays each answer this long,
    #: so the forgery wins the race and the real answer still arrives (as on a long path)
    resolver_delay: float = Field(0.15, ge=0.0, le=1.0)


class Expectation(Frozen):
    """Outcomes for the records it selects (by url, host, service, function; none of them:
    every record)."""

    url: str | None = None
    host: str | None = None
    service: str | None = None
    function: str | None = None
    verdict: Verdict
    technique: Technique | None = None
    vendor: str | None = None
    intercepted: bool | None = None
    evidence: str | None = Field(None, description="text the record's evidence must contain")
    cert_names_missing: list[str] | None = Field(
        None,
        description="names every TLS handshake with the target's host records as missing "
        "from its certificate (TLS targets only)",
    )

    @property
    def name(self) -> str:
        if self.url or self.host:
            return str(self.url or self.host)
        if self.service is None:
            return "every target"
        return f"{self.service}/{self.function or '*'}"

    def selects(self, record: dict[str, object]) -> bool:
        target = record.get("target")
        if not isinstance(target, dict):
            return False
        if self.url is not None and target.get("url") != self.url:
            return False
        if self.host is not None and url_host(str(target.get("url", ""))) != host_key(self.host):
            return False
        if self.service is not None and target.get("service") != self.service:
            return False
        return self.function is None or target.get("function") == self.function


class Scenario(Frozen):
    name: str
    description: str
    services: list[str] | None = Field(None, description="measured services; None = catalogue")
    dns: DnsPolicy = Field(default_factory=DnsPolicy)
    firewall: Firewall = Field(default_factory=Firewall)
    sni_reject: list[str] = Field(default_factory=list)
    proxy: ProxyPolicy = Field(default_factory=ProxyPolicy)
    shape: Shape | None = None
    dns_inject: DnsInjection | None = None
    origin_down: list[str] = Field(
        default_factory=list,
        description="sites (domains) whose origin refuses every connection, control included",
    )
    geo: list[str] = Field(
        default_factory=list,
        description="hosts the control's resolver answers with another, equally valid address",
    )
    narrow_certs: list[str] = Field(
        default_factory=list,
        description="hosts whose certificate (from the lab's public CA) lists their own name "
        "only, not the catalogue's other names (e.g. no *.facebook.com)",
    )
    credentials: Literal["none", "password", "wrong-password", "ticket"] = Field(
        "none",
        description="what the probe answers the proxy's 407 with: the staff password in the "
        "proxy URL, a wrong one, or a Kerberos ticket (kinit; --proxy-auth negotiate)",
    )
    control: bool = Field(False, description="the probe asks the lab's control vantage")
    browser: bool = Field(
        False, description="run --browser: page targets also load in Chromium (issue 16)"
    )
    intercepted: bool = Field(
        False, description="what every measured TLS target reports (plain http:// never is)"
    )
    expect: list[Expectation] = Field(default_factory=list)

    @property
    def proxied(self) -> bool:
        return self.proxy.mode != "none"


@dataclass(frozen=True)
class Outcome:
    """One record judged against its scenario."""

    url: str
    expected: str
    reported: str
    ok: bool


def _label(verdict: object, technique: object, vendor: object, intercepted: object) -> str:
    parts = [str(verdict)]
    if technique:
        parts.append(str(technique))
    if vendor:
        parts.append(f"vendor={vendor}")
    if intercepted:
        parts.append("intercepted")
    return " ".join(parts)


def _tls_steps(record: dict[str, object], host: str) -> list[dict[str, object]]:
    steps = record.get("steps")
    tls = steps.get("tls") if isinstance(steps, dict) else None
    return [
        t
        for t in (tls if isinstance(tls, list) else [])
        if isinstance(t, dict) and host_key(str(t.get("server_name", ""))) == host
    ]


def _mismatches(rule: Expectation, record: dict[str, object], url: str) -> list[str]:
    """What the record gets wrong beyond verdict, technique, vendor and interception."""
    wrong: list[str] = []
    evidence = str(record.get("evidence") or "")
    if rule.evidence is not None and rule.evidence not in evidence:
        wrong.append(f"evidence without {rule.evidence!r}: {evidence[:300]!r}")
    if rule.cert_names_missing is not None and not url.startswith("http://"):
        steps = _tls_steps(record, url_host(url))
        if not steps:
            wrong.append(f"no TLS handshake with {url_host(url)}")
        for step in steps:
            noted = step.get("cert_names_missing")
            noted = noted if isinstance(noted, list) else []
            if not set(rule.cert_names_missing) <= set(noted):
                wrong.append(f"cert_names_missing={noted}")
    return wrong


def judge(scenario: Scenario, record: dict[str, object]) -> Outcome:
    target = record.get("target")
    url = str(target.get("url")) if isinstance(target, dict) else "?"
    rule = next((e for e in scenario.expect if e.selects(record)), None)
    if rule is None:
        rule = Expectation(verdict="accessible", intercepted=scenario.intercepted)
    reported = _label(
        record.get("verdict"),
        record.get("technique"),
        record.get("vendor"),
        record.get("intercepted"),
    )
    ok = record.get("verdict") == rule.verdict
    if rule.verdict != "accessible":
        ok = ok and record.get("technique") == rule.technique
    if rule.vendor is not None:
        ok = ok and record.get("vendor") == rule.vendor
    intercepted = rule.intercepted if rule.intercepted is not None else scenario.intercepted
    if url.startswith("http://"):
        intercepted = False  # there is no TLS to intercept
    ok = ok and bool(record.get("intercepted")) == intercepted
    expected = _label(rule.verdict, rule.technique, rule.vendor, intercepted)
    if rule.evidence is not None:
        expected += f" evidence~{rule.evidence!r}"
    if rule.cert_names_missing is not None:
        expected += f" cert_names_missing>={rule.cert_names_missing}"
    wrong = _mismatches(rule, record, url)
    if wrong:
        reported += " (" + "; ".join(wrong) + ")"
    return Outcome(url=url, expected=expected, reported=reported, ok=ok and not wrong)


def check(scenario: Scenario, records: Iterable[dict[str, object]]) -> list[Outcome]:
    """Judge every record; also fail an expectation that selected no record at all."""
    records = list(records)
    outcomes = [judge(scenario, r) for r in records]
    for rule in scenario.expect:
        if not any(rule.selects(r) for r in records):
            expected = _label(rule.verdict, rule.technique, rule.vendor, rule.intercepted)
            outcomes.append(
                Outcome(url=rule.name, expected=expected, reported="(not measured)", ok=False)
            )
    return outcomes


def load(text: str | None = None) -> dict[str, Scenario]:
    """All scenarios by name, in file order."""
    if text is None:
        text = resources.files("netcheck.lab").joinpath(SCENARIO_FILE).read_text("utf-8")
    data = yaml.safe_load(text)
    scenarios: dict[str, Scenario] = {}
    for name, body in (data.get("scenarios") or {}).items():
        try:
            scenarios[name] = Scenario.model_validate({"name": name, **body})
        except ValidationError as exc:
            raise InputError(str(exc), file=SCENARIO_FILE, field=name) from None
    return scenarios


def select(names: str) -> list[Scenario]:
    """``all`` or a comma-separated list of scenario names."""
    known = load()
    if names == "all":
        return list(known.values())
    chosen: list[Scenario] = []
    for name in names.split(","):
        if name.strip() not in known:
            raise InputError(
                f"unknown scenario {name.strip()!r} (known: {', '.join(known)})",
                field="--scenario",
            )
        chosen.append(known[name.strip()])
    return chosen
