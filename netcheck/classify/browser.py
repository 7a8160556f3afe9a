"""Browser evidence judged: did the page work for a person? (issue 16, ``run --browser``)

In: a record's own verdict (from the pipeline's steps) and its ``browser`` section — the
requests the page made in a real Chromium, and netcheck's own measurement (``steps``) of every
host whose requests failed. Out: the host measurements re-classified, the ``failed[]`` list (each
failure named with its host's technique and vendor, and whether the host is the service's own,
an ad/analytics extra, or another third party), and the record's verdict:

- the document itself failed: the pipeline's verdict stands (``blocked`` with its technique);
  a document the pipeline fetched but the browser could not is ``inconclusive``, with why;
- the document loaded, and requests of the service's own domains (scripts, API calls, media,
  websockets, images...) failed on a host netcheck's measurement finds blocked: ``degraded``,
  with that technique, and evidence naming them in words;
- only ads, analytics or other third parties failed: ``accessible``, with a note;
- an own request failed but netcheck reached its host: not the network's doing as far as
  measured — the verdict stays, with a note (never an accusation on the browser's word alone).

Pure: no browser, no sockets. ``netcheck classify`` re-runs it offline from the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from netcheck.classify.blockpage import Fingerprints
from netcheck.classify.evidence import Classification
from netcheck.models import (
    BrowserEvidence,
    BrowserFailure,
    BrowserHost,
    BrowserRequest,
    Expect,
    Steps,
    Target,
)
from netcheck.netaddr import url_host
from netcheck.targets.catalogue import service_for_host

#: hosts of ads, analytics and trackers (a name or any subdomain): what agency filters block on
#: purpose, and what a page works without
EXTRAS: tuple[str, ...] = (
    "doubleclick.net",
    "googlesyndication.com",
    "googleadservices.com",
    "googletagmanager.com",
    "googletagservices.com",
    "google-analytics.com",
    "adservice.google.com",
    "analytics.google.com",
    "scorecardresearch.com",
    "adnxs.com",
    "criteo.com",
    "criteo.net",
    "taboola.com",
    "outbrain.com",
    "hotjar.com",
    "quantserve.com",
    "mixpanel.com",
    "segment.io",
    "amplitude.com",
    "nr-data.net",
    "ads-twitter.com",
    "analytics.twitter.com",
    "ads.linkedin.com",
    "analytics.tiktok.com",
    "moatads.com",
    "adsrvr.org",
)
#: the browser's own words for "the page cancelled this itself" (net::ERR_ABORTED, -3): noise
NOISE = ("net::ERR_ABORTED",)
PENDING = "pending at the page deadline"
#: a failed host's function, as its measurement is labelled
DEPENDENCY = "dependency"

_WHAT = {
    "document": "page",
    "subdocument": "embedded frames",
    "script": "scripts",
    "stylesheet": "styles",
    "image": "images",
    "font": "fonts",
    "media": "videos",
    "xhr": "API calls",
    "fetch": "API calls",
    "websocket": "live connections (websockets)",
    "other": "other requests",
}
_HOW = {
    "dns-nxdomain": "do not resolve (the resolver answers NXDOMAIN)",
    "dns-nodata": "do not resolve (the resolver answers with no address)",
    "dns-servfail": "do not resolve (the resolver answers SERVFAIL)",
    "dns-refused": "do not resolve (the resolver refuses the query)",
    "dns-timeout": "get no DNS answer (the query is dropped)",
    "dns-sinkhole": "resolve to a sinkhole address",
    "dns-mismatch": "resolve to a forged address",
    "tcp-reset": "are reset by the firewall",
    "tcp-timeout": "are silently dropped by the firewall",
    "tls-reset": "are cut off at the TLS handshake by their server name (SNI filtering)",
    "tls-timeout": "stall at the TLS handshake",
    "tls-mismatch": "get a certificate that is not the site's",
    "proxy-denied": "are refused by the proxy",
    "http-blockpage": "get a block page instead",
    "http-redirect": "are redirected away",
    "http-status": "get an error status",
    "http-reset": "are cut off during the HTTP exchange",
    "http-timeout": "time out during the HTTP exchange",
    "throttled": "are throttled",
}


def is_extra(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in EXTRAS)


def party(host: str, service: str, page_host: str) -> str:
    """own (the service's or the page's own domains), extra (ads/analytics), or third."""
    if is_extra(host):
        return "extra"
    mine = service_for_host(host)
    if mine == service or mine == service_for_host(page_host):
        return "own"
    return "third"


def measured_url(request: BrowserRequest) -> str:
    """What netcheck measures for a failed request: the URL itself, or for a websocket the
    https/http root of its host (a GET without Upgrade is not what the page asked for)."""
    try:
        parts = urlsplit(request.url)
    except ValueError:  # a URL that does not parse is measured as given (and fails there)
        return request.url
    if parts.scheme in ("ws", "wss"):
        scheme = "https" if parts.scheme == "wss" else "http"
        return urlunsplit((scheme, parts.netloc, "/", "", ""))
    return request.url


def authority(url: str) -> str:
    """``host:port`` of a URL (default port by scheme): one measurement per endpoint."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{url_host(url)}:0"
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme, 0)
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return f"{url_host(url)}:{port}"


def dependency_target(url: str, service: str) -> Target:
    """The target a failed host is measured (and re-classified) as."""
    host = url_host(url)
    owner = service_for_host(host) if host else service
    # any valid certificate for the host will do, and a script or a video has no page words
    return Target(url=url, service=owner, function=DEPENDENCY, expect=Expect(cert_names=[host]))


def real_failures(requests: Sequence[BrowserRequest]) -> list[BrowserRequest]:
    """Failed requests a person missed: not the page's own cancellations, and not a request
    that failed once and then succeeded (Chromium retries a reset media request once)."""
    done = {r.url for r in requests if r.error is None}
    return [r for r in requests if r.error and r.error not in NOISE and r.url not in done]


def rejudge_hosts(
    hosts: Sequence[BrowserHost],
    service: str,
    *,
    allow_nets: Sequence[str] = (),
    fingerprints: Fingerprints | None = None,
) -> list[BrowserHost]:
    """Each failed host's measurement classified again from its own steps."""
    from netcheck.classify import classify

    out = []
    for h in hosts:
        c = classify(
            dependency_target(h.url, service),
            h.steps,
            allow_nets=allow_nets,
            fingerprints=fingerprints,
        )
        out.append(
            h.model_copy(
                update={
                    "verdict": c.verdict,
                    "technique": c.technique,
                    "vendor": c.vendor,
                    "evidence": c.evidence,
                }
            )
        )
    return out


def host_record(host: str, url: str, steps: Steps, c: Classification) -> BrowserHost:
    return BrowserHost(
        host=host,
        url=url,
        steps=steps,
        verdict=c.verdict,
        technique=c.technique,
        vendor=c.vendor,
        evidence=c.evidence,
    )


def failures(
    requests: Sequence[BrowserRequest],
    hosts: Sequence[BrowserHost],
    target: Target,
) -> list[BrowserFailure]:
    """``failed[]``: every real failure, with its host's technique and vendor."""
    page_host = url_host(target.url)
    by_endpoint = {authority(h.url): h for h in hosts}
    out = []
    for r in real_failures(requests):
        measured = by_endpoint.get(authority(r.url))
        blocked = measured is not None and measured.verdict == "blocked"
        out.append(
            BrowserFailure(
                url=r.url,
                host=r.host,
                type=r.type,
                error=str(r.error),
                technique=measured.technique if blocked and measured else None,
                vendor=measured.vendor if blocked and measured else None,
                party=party(r.host, target.service, page_host),
            )
        )
    return out


def _hosts_words(items: Sequence[BrowserFailure]) -> str:
    names = list(dict.fromkeys(f.host for f in items))
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _what(items: Sequence[BrowserFailure]) -> str:
    kinds = list(dict.fromkeys(_WHAT.get(f.type, "requests") for f in items))
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


def describe(items: Sequence[BrowserFailure]) -> str:
    """'its videos (rr3---sn-x.googlevideo.com) are reset by the firewall', one clause per
    technique."""
    clauses = []
    by_technique: dict[str | None, list[BrowserFailure]] = {}
    for item in items:
        by_technique.setdefault(item.technique, []).append(item)
    for technique, group in by_technique.items():
        how = _HOW.get(technique or "", "fail")
        vendor = next((g.vendor for g in group if g.vendor), None)
        if vendor and technique in ("proxy-denied", "http-blockpage"):
            how += f" ({vendor})"
        errors = sorted({g.error for g in group})
        if technique is None:
            how += f" ({', '.join(errors[:2])})"
        clauses.append(f"{_what(group)} ({_hosts_words(group)}) {how}")
    return "; ".join(clauses)


def judge(found: Classification, target: Target, browser: BrowserEvidence) -> Classification:
    """The record's verdict once the browser's evidence is in (see the module docstring)."""
    if browser.error is not None:
        return _noted(found, f"the browser could not load the page: {browser.error}")
    failed = browser.failed
    if not browser.loaded:
        doc = next((f for f in failed if f.type == "document"), None)
        why = doc.error if doc else ("the page deadline passed" if browser.deadline_hit else "")
        if found.verdict in ("accessible", "degraded"):
            return Classification(
                "inconclusive",
                None,
                None,
                found.intercepted,
                f"{found.evidence.rstrip('.')}; but the browser could not open the page "
                f"({why or 'no document'}), while netcheck fetched it: not evidence of a block.",
            )
        return _noted(found, f"the browser could not open it either ({why or 'no document'})")
    if found.verdict != "accessible":
        return _noted(found, "the browser opened the page")
    own = [f for f in failed if f.party == "own" and f.type != "document"]
    blocked_own = [f for f in own if f.technique is not None]
    unexplained = [f for f in own if f.technique is None]
    others = [f for f in failed if f.party != "own"]
    if blocked_own:
        first = blocked_own[0]
        text = f"The page opens, but its {describe(blocked_own)}"
        if unexplained:
            text += f"; its {describe(unexplained)}, though netcheck reached the host"
        if others:
            text += f"; other hosts failed too ({_hosts_words(others)})"
        return Classification(
            "degraded", first.technique, first.vendor, found.intercepted, text + "."
        )
    notes = []
    if unexplained:
        notes.append(
            f"in the browser its {describe(unexplained)}, though netcheck reached the host: "
            "not the network's doing as far as measured"
        )
    extras = [f for f in others if f.party == "extra"]
    thirds = [f for f in others if f.party == "third"]
    if extras:
        notes.append(f"the page works; only ads or analytics failed: {describe(extras)}")
    if thirds:
        notes.append(f"third-party {describe(thirds)}")
    if not notes:
        notes.append(f"the browser opened the page and all {len(browser.requests)} requests")
    return _noted(found, "; ".join(notes))


def _noted(found: Classification, note: str) -> Classification:
    return Classification(
        found.verdict,
        found.technique,
        found.vendor,
        found.intercepted,
        f"{found.evidence.rstrip('.')}; {note}.",
    )


def apply(
    found: Classification,
    target: Target,
    browser: BrowserEvidence,
    *,
    allow_nets: Sequence[str] = (),
    fingerprints: Fingerprints | None = None,
) -> tuple[Classification, BrowserEvidence]:
    """Re-classify the failed hosts, rebuild ``failed[]``, then judge the page."""
    hosts = rejudge_hosts(
        browser.hosts, target.service, allow_nets=allow_nets, fingerprints=fingerprints
    )
    redone = browser.model_copy(
        update={"hosts": hosts, "failed": failures(browser.requests, hosts, target)}
    )
    return judge(found, target, redone), redone
