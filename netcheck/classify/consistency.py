"""Probe evidence against control evidence: is the DNS consistent, is the page the same?

In: the probe's ``Steps`` and the control's ``Steps`` for one URL (plus the host name). Out:
``DnsConsistency`` and ``PageComparison``, small frozen records with a reason in words. Pure.

DNS consistency follows OONI Web Connectivity, adapted to an offline tool:
- both sides found no address for the name (NXDOMAIN everywhere) -> consistent;
- the answers share an address -> consistent;
- the answers share a network -> consistent. OONI compares ASNs; netcheck has no ASN database
  offline, so the same /24 (IPv4) or /48 (IPv6) stands in for "same operator". This is coarser
  than an ASN in one way (a CDN spans many /24s) and finer in another (two tenants of one /24);
  the certificate rule below catches the CDN case;
- an address the probe got presents a certificate that is publicly trusted and valid for the
  name, per the probe's own TLS step -> consistent (a CDN edge near the probe is still the site).
Otherwise the answers are inconsistent.

Page comparison (OONI's rules): same status, and then any of: body length proportion
``min(a, b) / max(a, b) > 0.7``, a shared title word of 5+ letters, the same uncommon header
names.

``filter_explains`` goes further, for pages a filter could have forged (plain HTTP, intercepted
TLS): it also compares the pages' structure — the sequence of their tags and the run of their
words, as shingle sets — so that a page built from another template, saying other words, under
another title and smaller than the control's, is told from the same page in another language or
with other ads (which keeps its template), the case where OONI's length-and-title rules answer
"different" for a CDN or a geo variant.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from netcheck.classify.lexicon import MAX_SCAN, fold
from netcheck.models import DnsStep, HttpStep, Steps, TlsStep
from netcheck.netaddr import host_key, parse_ip

BODY_PROPORTION = 0.7
#: headers every server sends, so sharing them says nothing about being the same site
COMMON_HEADERS = frozenset(
    {
        "accept-ranges",
        "age",
        "cache-control",
        "connection",
        "content-encoding",
        "content-language",
        "content-length",
        "content-security-policy",
        "content-type",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "location",
        "pragma",
        "server",
        "set-cookie",
        "strict-transport-security",
        "transfer-encoding",
        "vary",
        "via",
        "x-content-type-options",
        "x-frame-options",
        "x-xss-protection",
    }
)
_WORD = re.compile(r"[^\W\d_]{5,}", re.UNICODE)
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9]{0,15})")
#: below this shingle similarity two pages are built differently. On tests/data/blockpages a
#: page and its translation on one template score 0.86-1.0; block pages against the corpus's
#: (deliberately tiny) service pages average 0.13, with 15% of pairs at 0.3 or more because
#: tiny pages share html/head/body: a real service page, thousands of tags long, scores lower
STRUCTURE_DIFFERENT = 0.3
SHINGLE = 3


@dataclass(frozen=True)
class DnsConsistency:
    consistent: bool
    reason: str
    probe_addresses: frozenset[str]
    control_addresses: frozenset[str]


@dataclass(frozen=True)
class PageComparison:
    same: bool
    status_match: bool
    body_proportion: float | None
    title_match: bool
    headers_match: bool
    reason: str


def addresses(steps: Iterable[DnsStep], host: str) -> frozenset[str]:
    return frozenset(
        a.value
        for d in steps
        if host_key(d.hostname) == host_key(host)
        for a in d.answers
        if a.type in ("A", "AAAA") and parse_ip(a.value) is not None
    )


def network_of(ip: str) -> str | None:
    """The /24 or /48 an address belongs to: the offline stand-in for its ASN."""
    addr = parse_ip(ip)
    if addr is None:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def valid_for(t: TlsStep, host: str) -> bool:
    """A handshake that showed a publicly trusted certificate valid for ``host``."""
    return (
        t.failure is None
        and t.trusted_public is True
        and t.hostname_matches is True
        and host_key(t.server_name) == host_key(host)
    )


def dns_consistency(probe: Steps, control: Steps, host: str) -> DnsConsistency:
    mine, theirs = addresses(probe.dns, host), addresses(control.dns, host)
    if not mine and not theirs:
        return DnsConsistency(True, "neither side found an address for the name", mine, theirs)
    if not mine or not theirs:
        side = "the probe" if not mine else "the control"
        return DnsConsistency(False, f"only {side} found no address", mine, theirs)
    shared = sorted(mine & theirs)
    if shared:
        return DnsConsistency(True, f"both got {shared[0]}", mine, theirs)
    nets = {network_of(ip) for ip in mine} & {network_of(ip) for ip in theirs}
    nets.discard(None)
    if nets:
        return DnsConsistency(
            True,
            f"both answers are in {sorted(n for n in nets if n)[0]} (ASN stand-in)",
            mine,
            theirs,
        )
    valid = sorted({t.ip for t in probe.tls if t.ip in mine and valid_for(t, host)})
    if valid:
        return DnsConsistency(
            True,
            f"the probe's answer {valid[0]} presents a trusted certificate for {host}",
            mine,
            theirs,
        )
    return DnsConsistency(
        False,
        f"the probe got {', '.join(sorted(mine))}, the control {', '.join(sorted(theirs))}: "
        "no address, network or valid certificate in common",
        mine,
        theirs,
    )


def title_words(title: str | None) -> frozenset[str]:
    return frozenset(w.casefold() for w in _WORD.findall(title or ""))


def uncommon_headers(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    return frozenset(k.casefold() for k, _ in headers) - COMMON_HEADERS


def final_page(steps: Steps) -> HttpStep | None:
    return steps.http[-1] if steps.http else None


def compare_pages(probe: HttpStep, control: HttpStep) -> PageComparison:
    status_match = probe.status == control.status
    proportion: float | None = None
    if probe.body_length is not None and control.body_length is not None:
        big = max(probe.body_length, control.body_length)
        proportion = 1.0 if big == 0 else min(probe.body_length, control.body_length) / big
    titles = title_words(probe.title) & title_words(control.title)
    mine, theirs = uncommon_headers(probe.headers), uncommon_headers(control.headers)
    headers_match = bool(mine or theirs) and mine == theirs
    similar = (proportion is not None and proportion > BODY_PROPORTION) or bool(titles)
    same = status_match and (similar or headers_match)
    if not status_match:
        reason = f"status {probe.status} here, {control.status} at the control"
    elif same:
        shown = f"{proportion:.2f}" if proportion is not None else "n/a"
        reason = f"same status {probe.status}, body length proportion {shown}"
        reason += f", shared title words {', '.join(sorted(titles))}" if titles else ""
    else:
        shown = f"{proportion:.2f}" if proportion is not None else "n/a"
        reason = f"same status but body length proportion {shown}, no shared title word"
    return PageComparison(same, status_match, proportion, bool(titles), headers_match, reason)


def _shingles(items: list[str]) -> frozenset[tuple[str, ...]]:
    if len(items) < SHINGLE:
        return frozenset({tuple(items)}) if items else frozenset()
    return frozenset(tuple(items[i : i + SHINGLE]) for i in range(len(items) - SHINGLE + 1))


def _jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def structure_similarity(a: str | None, b: str | None) -> float | None:
    """How alike two bodies are built: the larger of the Jaccard similarities of their tag
    sequences and of their word runs (3-shingles). None when a body was not kept."""
    if not a or not b:
        return None
    tags = _jaccard(*(_shingles(_TAG_NAME.findall(x[:MAX_SCAN].lower())) for x in (a, b)))
    words = _jaccard(*(_shingles(fold(x).split()[:4000]) for x in (a, b)))
    return max(tags, words)


def filter_explains(probe: HttpStep, control: HttpStep) -> str | None:
    """Why the probe's page can only be a filter's, given the control's; None when the two
    could be one site's pages (same template, shared title word, similar size) or when either
    side did not get a page. The caller decides whether the probe's page could be forged."""
    if probe.status is None or control.status is None or control.status >= 400:
        return None
    if probe.status >= 300 or not probe.body or not control.body:
        return None
    shared = title_words(probe.title) & title_words(control.title)
    similarity = structure_similarity(probe.body, control.body)
    mine, theirs = probe.body_length or len(probe.body), control.body_length or len(control.body)
    if shared or similarity is None or similarity >= STRUCTURE_DIFFERENT or mine >= theirs:
        return None
    return (
        f"the control gets {control.title or 'a page'!r} ({theirs} bytes), here "
        f"{probe.title or 'an untitled page'!r} ({mine} bytes): no shared title word, "
        f"structure similarity {similarity:.2f}"
    )


def failed_stage(steps: Steps, host: str) -> str | None:
    """Where a side stopped short of the page: dns, tcp, tls or http; None when it loaded it.

    For https a completed handshake with a certificate that side trusts is part of "loaded": a
    site whose certificate fails everywhere is broken everywhere, not blocked here.
    """
    if not steps.tcp and not steps.http and (not steps.dns or not addresses(steps.dns, host)):
        return "dns"
    if steps.tcp and all(t.failure is not None for t in steps.tcp):
        return "tcp"
    if steps.tls and all(t.failure is not None for t in steps.tls):
        return "tls"
    page = final_page(steps)
    if page is None or page.failure is not None or page.status is None:
        return "http"
    return None
