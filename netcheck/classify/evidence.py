"""What every stage of the classifier shares: the verdict record, the context of one target,
and the checks against the target's own expectations (certificate names, page words).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from netcheck import failures as f
from netcheck.certnames import name_matches
from netcheck.classify.blockpage import (
    Fingerprints,
    extract_title,
)
from netcheck.classify.lexicon import title_says_blocked
from netcheck.models import (
    Expect,
    HttpStep,
    Steps,
    Target,
    TlsStep,
)
from netcheck.netaddr import IPNetwork, url_host
from netcheck.targets.catalogue import builtin_targets, service_expect, service_for_host

CERT_FAILURES = {f.SSL_INVALID_HOSTNAME, f.SSL_UNKNOWN_AUTHORITY, f.SSL_INVALID_CERTIFICATE}
RESET_FAILURES = {f.CONNECTION_RESET, f.EOF_ERROR, f.CONNECTION_ABORTED}
REJECT_FAILURES = {f.CONNECTION_REFUSED, f.CONNECTION_RESET, f.HOST_UNREACHABLE}
TLS_SCHEMES = {"https", "wss", "rtmps"}


@dataclass(frozen=True)
class Classification:
    verdict: str
    technique: str | None
    vendor: str | None
    intercepted: bool
    evidence: str


@dataclass(frozen=True)
class Ctx:
    target: Target
    steps: Steps
    host: str
    nets: tuple[IPNetwork, ...]
    fps: Fingerprints
    intercepted: bool
    proxy: str | None


def block_verdict(technique: str, evidence: str, vendor: str | None = None) -> Classification:
    return Classification("blocked", technique, vendor, False, evidence)


def other_verdict(verdict: str, evidence: str) -> Classification:
    return Classification(verdict, None, None, False, evidence)


def is_intercepted(t: TlsStep) -> bool:
    return t.trusted_local is True and t.trusted_public is not True


# --- expectations --------------------------------------------------------------------------------


def expect_of(target: Target) -> Expect:
    """The target's own expectations, else those of the catalogue service its host belongs to.

    An entry that names any expectation keeps exactly its own; one that names none (an agency's
    channel on youtube.com, a URL from a test list) is checked like the service's own pages.
    """
    own = target.expect
    if own.title_contains or own.body_contains or own.cert_names:
        return own
    return service_expect(url_host(target.url)) or own


@functools.cache
def _account_hosts() -> dict[str, frozenset[str]]:
    """Per catalogue service, the hosts of its own pages outside its domains (YouTube signs in
    on accounts.google.com)."""
    hosts: dict[str, set[str]] = {}
    for t in builtin_targets():
        hosts.setdefault(t.service, set()).add(url_host(t.url))
    return {service: frozenset(names) for service, names in hosts.items()}


def own_hosts(target: Target) -> Callable[[str], bool]:
    """ "Is this host one of the site's own?" for the target: a host of its catalogue service
    (domains and the catalogue's own pages), else a host of the same registrable domain. A
    login or consent page there is the site's, not a filter's."""
    mine = service_for_host(url_host(target.url))
    extra = _account_hosts().get(target.service, frozenset())

    def own(host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in extra or service_for_host(host) == mine

    return own


def cert_ok(ctx: Ctx, t: TlsStep) -> bool:
    """Publicly trusted and valid for the host. Names of ``expect.cert_names`` the certificate
    does not list are not held against it (``uncovered_cert_names``): only the origin gets a
    publicly trusted certificate for its name, so a change there is the service's, not a filter."""
    return t.failure is None and t.trusted_public is not False and t.hostname_matches is not False


def uncovered_cert_names(ctx: Ctx, t: TlsStep) -> list[str]:
    """Names the target expects (``expect.cert_names``) that ``t``'s leaf does not cover."""
    names = expect_of(ctx.target).cert_names
    if not t.chain or not names:
        return []
    sans = t.chain[0].sans
    return [n for n in names if not any(name_matches(s, n) for s in sans)]


#: addresses and host names in a title: a block page echoes "www.youtube.com", a real page
#: names its brand as a word
_ADDRESS = re.compile(r"\S*[./]\S*")


def page_meets_expect(ctx: Ctx, h: HttpStep) -> bool | None:
    """None when the catalogue gives nothing to check (or the excerpt is too short to tell).

    Brand words count in the title only as words of their own (not inside an address the page
    echoes), and never in a title that itself says the page is blocked ("YouTube bloqueado")."""
    exp = expect_of(ctx.target)
    raw_title = h.title or extract_title(h.body) or ""
    title = _ADDRESS.sub(" ", raw_title).casefold()
    body = (h.body or "").casefold()
    verdicts: list[bool] = []
    if exp.title_contains:
        named = any(x.casefold() in title for x in exp.title_contains)
        verdicts.append(named and not title_says_blocked(raw_title))
    if exp.body_contains:
        found = any(x.casefold() in body for x in exp.body_contains)
        if found or not h.body_truncated:
            verdicts.append(found)
    return all(verdicts) if verdicts else None


#: how services title their own pages: "Perfil / X", "Login • Instagram", "Page | Facebook"
_TITLE_PARTS = re.compile(r"\s+[/•|·:\-–—]\s+")


def brand_titled(ctx: Ctx, h: HttpStep) -> bool:
    """The page is titled the way the service titles its own pages: the title, or one part of
    it cut at " / ", " • ", " | ", " - ", is the service's name or brand word ("X", "Esta cuenta
    no existe / X", "Compte suspendu / X"). A filter names the service as the thing refused, in
    a sentence or an address, not as the page's own name; a title that says "blocked" is never
    the service's."""
    raw_title = (h.title or extract_title(h.body) or "").strip()
    parts = [p.strip().casefold() for p in _TITLE_PARTS.split(raw_title)]
    if not parts[0] or title_says_blocked(raw_title):
        return False
    exp = expect_of(ctx.target)
    brands = {w.casefold() for w in exp.title_contains} | _catalogue_brands()
    service = service_for_host(url_host(ctx.target.url))
    if service:
        brands.add(service.casefold())
    return any(p in brands for p in parts)


@functools.lru_cache(maxsize=1)
def _catalogue_brands() -> frozenset[str]:
    """Every catalogue service's name and title words: a page titled "Facebook" where YouTube
    was expected is a real service's page gone astray (a redirect, a shared front), never a
    filter's, which names the service it refuses in a sentence, not as its own name."""
    words: set[str] = set(_NATIVE_NAMES)
    for t in builtin_targets():
        words.add(t.service.casefold())
        words.update(w.casefold() for w in t.expect.title_contains)
    return frozenset(w for w in words if len(w) > 1 or w == "x")


#: the services' names as they title their pages in other scripts ("فيسبوك", "페이스북")
_NATIVE_NAMES = (
    "فيسبوك", "فيس بوك", "يوتيوب", "انستغرام", "إنستغرام", "تويتر", "فیسبوک", "یوتیوب",
    "اینستاگرام", "фейсбук", "ютуб", "инстаграм", "твиттер", "페이스북", "유튜브", "인스타그램",
    "트위터", "フェイスブック", "ユーチューブ", "インスタグラム", "ツイッター", "脸书", "臉書",
    "推特", "ফেসবুক", "ইউটিউব", "फेसबुक", "फ़ेसबुक", "यूट्यूब", "इंस्टाग्राम", "เฟซบุ๊ก",
    "ยูทูบ", "อินสตาแกรม", "פייסבוק", "יוטיוב", "אינסטגרם",
)  # fmt: skip


def addresses_fail(ctx: Ctx, addrs: frozenset[str]) -> bool:
    tls = [t for t in ctx.steps.tls if t.ip in addrs]
    http = [h for h in ctx.steps.http if h.ip in addrs and h.status is not None]
    if any(cert_ok(ctx, t) or is_intercepted(t) for t in tls):
        return False
    bad_tls = any(
        t.failure in CERT_FAILURES or (t.failure is None and not cert_ok(ctx, t)) for t in tls
    )
    return bad_tls or any(page_meets_expect(ctx, h) is False for h in http)


def addresses_pass(ctx: Ctx, addrs: frozenset[str]) -> bool:
    if any(cert_ok(ctx, t) for t in ctx.steps.tls if t.ip in addrs):
        return True
    http = [h for h in ctx.steps.http if h.ip in addrs and h.status is not None]
    return any(h.status is not None and h.status < 400 and page_meets_expect(ctx, h) for h in http)
