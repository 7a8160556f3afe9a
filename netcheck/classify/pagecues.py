"""Structural block-page cues: what a page does, whatever language it speaks.

In: one response (status, headers, a body excerpt) and the URL that was asked for, plus the
``--allow-net`` ranges. Out: a ``Structure`` — the signs found, in plain words for the evidence
sentence, and their weight on the lexicon's scale (``lexicon.CueScore``) — and, when the page
only sends the browser elsewhere, where to. Pure.

Filters' pages share a shape more than a wording:
- they send the browser to the filter itself: a meta refresh, an iframe filling the page or a
  script assigning ``location`` to a private address, a host or path named for blocking
  ("block", "deny", "warn", "filter"...), or a port filters serve their pages on (FortiGate
  8008-8015, Kerio 4080/4081, Sophos 8090...);
- they are small and echo the address that was asked for, or name the category it fell in;
- they offer a form to request an exception ("request access", "solicitar desbloqueo");
- the filter adds its own headers (``X-Squid-Error``, ``X-Blocked-*``, ``X-*-Filter``...).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from netcheck.classify.lexicon import MAX_SCAN, fold
from netcheck.netaddr import IPNetwork, is_ip_literal, is_sinkhole_address, url_host

#: visible text under which a page is "small": a block page says one thing
SMALL_TEXT = 700
#: visible text and links under which a page is "brief": a notice, maybe inside an intranet's
#: template (a menu, a footer); a service's real page says and links far more
BRIEF_TEXT = 2000
BRIEF_LINKS = 40
#: visible text under which a page says nothing at all (empty, a lone "ok"): no notice either
SILENT_TEXT = 8
_ASSET = re.compile(
    r"<(?:script|img|link|iframe|video|source)\b[^>]{0,400}\b(?:src|href)\s*=\s*[\"']?"
    r"(?:https?:)?//([^/\"'\s>:]+)",
    re.IGNORECASE,
)
_ASSET_URL = re.compile(
    r"<(?:script|img|link|video|source|embed)\b[^>]{0,400}\b(?:src|href)\s*=\s*[\"']?"
    r"((?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
HEAD_SCAN = 16 * 1024
_REFRESH = re.compile(
    r"<meta[^>]{0,200}http-equiv\s*=\s*[\"']?refresh[^>]{0,200}content\s*=\s*[\"']?"
    r"\s*\d*\s*;?\s*url\s*=\s*['\"]?([^\"'>\s]+)",
    re.IGNORECASE,
)
_IFRAME = re.compile(r"<i?frame\b[^>]{0,400}\bsrc\s*=\s*[\"']?([^\"'>\s]+)", re.IGNORECASE)
_SCRIPT_GO = re.compile(
    r"(?:location(?:\.href)?\s*=|location\.(?:replace|assign)\s*\(|window\.open\s*\()"
    r"\s*[\"']([^\"']+)[\"']",
    re.IGNORECASE,
)
_GOES = re.compile(r"\blocation\b\s*(\.\s*(href|replace|assign)\b)?\s*[=(]", re.IGNORECASE)
_URL_LITERAL = re.compile(r"[\"'](https?://[^\"'\s]+)")
_LINK = re.compile(r"<a\b[^>]{0,400}\bhref\s*=", re.IGNORECASE)
_BLOCKY_URL = re.compile(
    r"block|deny|denied|warn|filter|restrict|forbid|censor|urlblock|notify|usercheck|"
    r"bloque|bloqueo|sperr|interdit",
    re.IGNORECASE,
)
#: squid's own errors for a site it could not reach (X-Squid-Error): failures, not refusals; any
#: other code is a denial (ERR_ACCESS_DENIED, or the name of an agency's own deny_info page)
SQUID_FAILURES = frozenset(
    {
        "ERR_CONNECT_FAIL", "ERR_DNS_FAIL", "ERR_READ_TIMEOUT", "ERR_LIFETIME_EXP",
        "ERR_READ_ERROR", "ERR_WRITE_ERROR", "ERR_ZERO_SIZE_OBJECT", "ERR_INVALID_RESP",
        "ERR_CANNOT_FORWARD", "ERR_GATEWAY_FAILURE", "ERR_SECURE_CONNECT_FAIL",
        "ERR_SOCKET_FAILURE", "ERR_ICAP_FAILURE", "ERR_NO_RELAY", "ERR_SHUTTING_DOWN",
        "ERR_ONLY_IF_CACHED_MISS", "ERR_TOO_BIG", "ERR_UNSUP_HTTPVERSION", "ERR_UNSUP_REQ",
        "ERR_INVALID_REQ", "ERR_INVALID_URL", "ERR_URN_RESOLVE", "ERR_FTP_FAILURE",
        "ERR_FTP_NOT_FOUND", "ERR_FTP_UNAVAILABLE", "ERR_PRECONDITION_FAILED",
    }
)  # fmt: skip


def squid_failure(value: str) -> str | None:
    """The failure an ``X-Squid-Error`` value names, or None when it is a denial."""
    code = (value.split() or [""])[0].upper()
    return code if code in SQUID_FAILURES else None


_SIGN_IN_URL = re.compile(
    r"captive|hotspot|splash|wi-?fi|wlan|guest|log-?in|log-?on|sign-?in|/auth|sso\.|/sso",
    re.IGNORECASE,
)
FILTER_PORTS = frozenset({*range(8008, 8016), 4080, 4081, 8090, 15871, 6080, 6081, 6082, 19080})
_FILTER_HEADER = re.compile(
    r"^x-(squid-error|blocked|block-reason|blocked-by|filter|web-filter|content-filter|"
    r"deny-reason|censor|restricted|url-category|category)",
    re.IGNORECASE,
)
_CATEGORY = re.compile(
    r"(?<!\w)(url category|category|categoria|categorie|kategorie|kategori|kategoria|"
    r"classification|категория|категорія|カテゴリ[ー]?|카테고리|类别|分类|分類|類別|"
    r"فئة|دسته بندی|หมวดหมู่|danh muc)\s*[:：]"
    r"|categorized as|categorised as|classified as|classed as|falls under|"
    r"belongs to the category|belongs to a category|"
    r"pertenece a la categoria|appartient a la categorie|gehort zur kategorie|"
    r"pertence a categoria|appartiene alla categoria|behoort tot de categorie|"
    r"nalezy do kategorii|относится к категории|termasuk (dalam )?kategori|kategorisinde",
)
_FORM = re.compile(r"<form\b(.{0,3000}?)</form", re.IGNORECASE | re.DOTALL)
_FORM_ASK = re.compile(
    r"name\s*=\s*[\"']?(url|uri|reason|justification|motivo|raison|begruendung|grund|"
    r"override|category)\b|request (access|review|a review|unblock)|unblock|desbloque|"
    r"excepcion|exception|override|freischalt|debloqu|sblocc|desbloqueio",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Structure:
    score: int
    signs: tuple[str, ...]
    redirect: str | None  # where the page alone sends the browser, when that is the filter
    small: bool = False  # says little and links nowhere: the shape of a block page
    echo: bool = False  # a small page that repeats the requested address
    leaves: str | None = None  # another site a small page alone sends the browser to
    brief: bool = False  # a page of a few sentences and a handful of links (a notice, a template)
    own_assets: bool = False  # it loads from, or sends the browser on to, the service's own hosts
    silent: bool = False  # no visible text at all


#: a host -> "is it one of the service's own hosts?" (a login or consent redirect is the site's)
OwnHosts = Callable[[str], bool]


def _visible(body: str) -> str:
    return fold(body)


def named_filter_destination(
    url: str, requested: str, nets: Sequence[IPNetwork], own: OwnHosts | None = None
) -> str | None:
    """``url`` when it leads, away from the requested site, to a private address, a filter's
    port or a host or path named for blocking: where a filter sends a refused request, and
    never a sign-in or consent page (those are the service's own hosts). Handing the requested
    address to another site is not enough here: captive portals and sign-on pages do it too."""
    return _filter_destination(url, requested, nets, own, handed=False)


def sign_in_destination(url: str, requested: str, own: OwnHosts | None = None) -> bool:
    """``url`` leads away from the requested site to a sign-in (a captive portal's login, a
    single sign-on) that is handed the requested address to come back to."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    host, asked = (parts.hostname or "").lower(), url_host(requested)
    if not host or not asked or host == asked or (own is not None and own(host)):
        return False
    return _signs_in(host, parts.path, parts.query, asked)


def _signs_in(host: str, path: str, query: str, asked: str) -> bool:
    """A sign-in address (a portal's or a single sign-on's login) handed ``asked`` to come
    back to."""
    return bool(_SIGN_IN_URL.search(host + path)) and asked in unquote(query).lower()


def _filter_destination(
    url: str,
    requested: str,
    nets: Sequence[IPNetwork],
    own: OwnHosts | None = None,
    *,
    handed: bool = True,
) -> str | None:
    """``url`` (absolute or not) when it leads to a filter rather than to the requested site:
    a private address, a filter's port, a host or path named for blocking, or another site
    that is handed the requested address (a notice page told what was refused). The service's
    own hosts (its login or consent pages, which are handed the address to come back to) are
    the site's."""
    url = url.strip().strip("'\"")
    if not url.lower().startswith(("http://", "https://", "//")):
        return None  # a relative link stays on the site that was asked for
    try:  # hostile pages write anything here: a malformed address is no destination
        parts = urlsplit(url if not url.startswith("//") else "http:" + url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    asked = url_host(requested)
    if not host or host == asked or (own is not None and own(host)):
        return None
    private = is_ip_literal(host) and is_sinkhole_address(host, nets)
    if private or (port in FILTER_PORTS) or _BLOCKY_URL.search(host + parts.path):
        return url
    if handed and asked and asked in unquote(parts.query).lower():
        # handed to a sign-in (a captive portal's login, a single sign-on) it is no refusal
        return None if _signs_in(host, parts.path, parts.query, asked) else url
    return None


def _redirect(
    body: str, requested: str, nets: Sequence[IPNetwork], own: OwnHosts | None
) -> str | None:
    patterns = [_REFRESH, _IFRAME, _SCRIPT_GO]
    if _GOES.search(body):
        patterns.append(_URL_LITERAL)  # a script that builds the address, then goes there
    for pattern in patterns:
        for m in pattern.finditer(body):
            dest = _filter_destination(html.unescape(m.group(1)), requested, nets, own)
            if dest is not None:
                return dest
    return None


def _echoes(text: str, body: str, requested: str) -> bool:
    """The page repeats the requested host in its text or a parameter of its own links (not a
    plain link to the site: a "follow us" link is no echo)."""
    host = url_host(requested)
    if not host:
        return False
    if host in text:
        return True
    handed = re.compile(
        r"[?&;][^=&\"'\s>]{0,40}=\s*(?:https?:)?(?://)?" + re.escape(host), re.IGNORECASE
    )
    return bool(handed.search(unquote(body)))


def page_structure(
    *,
    body: str | None,
    headers: Sequence[tuple[str, str]],
    requested: str,
    nets: Sequence[IPNetwork] = (),
    lexicon_score: int = 0,
    own: OwnHosts | None = None,
) -> Structure:
    """Score the shape of one page; ``lexicon_score`` lets a small page add to its words."""
    raw = (body or "")[:MAX_SCAN]
    text = _visible(raw)
    # a site's own page links to the rest of the site; a block page has nowhere to send you
    small = len(text) < SMALL_TEXT and len(_LINK.findall(raw)) <= 2
    signs: list[str] = []
    score = 0
    redirect = _redirect(raw, requested, nets, own) if small else None
    if redirect is not None:
        signs.append(f"it sends the browser to {redirect}")
        score += 3
    served = _served_from(raw, requested, nets, own) if small and redirect is None else None
    if served is not None:
        signs.append(f"it loads its pictures or scripts from {served}")
        score += 2
    # squid names every error of its own in X-Squid-Error: only a denial is a filter's
    names = sorted(
        {
            k
            for k, v in headers
            if _FILTER_HEADER.match(k) and (k.lower() != "x-squid-error" or not squid_failure(v))
        }
    )
    if names:
        signs.append(f"a filter's header ({names[0]})")
        score += 2
    if _CATEGORY.search(text):
        signs.append("it names a category")
        score += 2
    # forms and headings are looked for near the top: a hostile page of "<form<form..." costs
    # a bounded scan, and a block page's form is never 16 kB down
    head = raw[:HEAD_SCAN]
    forms = [m.group(0) for m in _FORM.finditer(head)]
    if any(_FORM_ASK.search(f) for f in forms):
        signs.append("it offers a form to request access")
        score += 2
    elif any(_hands_on(f, requested, own) for f in forms):
        signs.append("it asks to acknowledge before going on to the requested address")
        score += 2
    echo = small and _echoes(text, raw, requested)
    if echo and (score or lexicon_score):
        signs.append("a small page that echoes the requested address")
        score += 1
    elif small and lexicon_score and text:
        score += 1  # a page that says little and that little is a refusal
    leaves = redirect or (_leaves(raw, requested, own) if small else None)
    links = len(_LINK.findall(raw))
    brief = len(text) < BRIEF_TEXT and links <= BRIEF_LINKS
    silent = len(text) < SILENT_TEXT
    return Structure(
        score, tuple(signs), redirect, small, echo, leaves, brief, _own_ties(raw, own), silent
    )


def _served_from(
    body: str, requested: str, nets: Sequence[IPNetwork], own: OwnHosts | None
) -> str | None:
    """The host a small page loads its pictures, styles or scripts from, when that host is a
    filter's (a private address, a filter's port, a name for blocking): a block page's logo
    comes from the appliance that wrote it, a site's from the site or its CDN."""
    for m in _ASSET_URL.finditer(body[:HEAD_SCAN]):
        url = html.unescape(m.group(1))
        try:
            parts = urlsplit(url if not url.startswith("//") else "http:" + url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            continue
        # the host, not the file: a site's own picture may be called "snoo-blocked.png"
        origin = f"http://{host}" + (f":{port}" if port else "") + "/"
        if host and named_filter_destination(origin, requested, nets, own) is not None:
            return host
    return None


def _own_ties(body: str, own: OwnHosts | None) -> bool:
    """The page pulls its scripts, styles or pictures from the service's own hosts, or a meta
    refresh or a script sends the browser on to them: the service's page (or its own hop from
    one of its names to another), not a filter's, which never depends on the site it refuses."""
    if own is None:
        return False
    head = body[:HEAD_SCAN]
    if any(own(m.group(1).lower()) for m in _ASSET.finditer(head)):
        return True
    return any(own(host) for _url, host in _sent_to(head))


def _sent_to(body: str) -> Iterator[tuple[str, str]]:
    """(address, host) of every absolute address a meta refresh or a script sends to."""
    for pattern in (_REFRESH, _SCRIPT_GO):
        for m in pattern.finditer(body):
            url = html.unescape(m.group(1)).strip()
            try:
                host = (urlsplit(url).hostname or "").lower() if "//" in url else ""
            except ValueError:
                continue
            if host:
                yield url, host


def _leaves(body: str, requested: str, own: OwnHosts | None) -> str | None:
    """Where a meta refresh or a script sends the browser when that is another site (not
    one of the requested site's own hosts)."""
    asked = url_host(requested)
    for url, host in _sent_to(body):
        if host != asked and not (own is not None and own(host)):
            return url
    return None


FORM_ACTION = re.compile(r"\baction\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)


def _hands_on(form: str, requested: str, own: OwnHosts | None) -> bool:
    """A form sent to another site that carries the requested address: a filter's warning
    page ("continue to ..."), which hands the address to the filter to let it through."""
    action = FORM_ACTION.search(form[:600])
    host = url_host(requested)
    if action is None or not host or host not in unquote(form).lower():
        return False
    try:
        dest = (urlsplit(action.group(1)).hostname or "").lower()
    except ValueError:
        return False
    return bool(dest) and dest != host and not (own is not None and own(dest))
