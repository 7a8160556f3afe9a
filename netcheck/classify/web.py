"""The HTTP stage of the classifier: proxy refusals, resets and timeouts, redirects to block
URLs, vendor and generic block pages, and the real pages that only look blocked.
"""

from __future__ import annotations

import re

from netcheck import failures as f
from netcheck.classify.blockpage import (
    CueScore,
    a_vendor,
    extract_title,
    generic_cues,
    lookalike_description,
    lookalike_match,
    match_http,
    vendor_name,
)
from netcheck.classify.evidence import (
    CERT_FAILURES,
    RESET_FAILURES,
    TLS_SCHEMES,
    Classification,
    Ctx,
    block_verdict,
    brand_titled,
    cert_ok,
    other_verdict,
    own_hosts,
    page_meets_expect,
)
from netcheck.classify.lexicon import (
    about_itself,
    cites_order,
    families_known,
    fold,
    reads,
    speaks_of_access,
)
from netcheck.classify.network import http_own_setup, proxy_auth_verdict, sign_in_verdict
from netcheck.classify.pagecues import (
    Structure,
    named_filter_destination,
    page_structure,
    sign_in_destination,
    squid_failure,
)
from netcheck.models import (
    HttpStep,
)
from netcheck.netaddr import host_key, is_ip_literal, is_sinkhole_address, url_host, url_scheme

# --- HTTP ----------------------------------------------------------------------------------------


def _site(host: str) -> str:
    """Registrable-domain guess without a suffix list: last two labels, three for ccSLDs."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _vendor_of(ctx: Ctx, h: HttpStep) -> tuple[str | None, str | None]:
    """(vendor from a block fingerprint, vendor from an identity fingerprint) for one response."""
    block, ident, _named = _vendors(ctx, h)
    return block, ident


def _vendors(ctx: Ctx, h: HttpStep) -> tuple[str | None, str | None, str | None]:
    """Block vendor, identity vendor (not from Via, which every proxied page carries), and the
    vendor whose product the page names in its own text (body or title)."""
    title = h.title or extract_title(h.body)
    found = match_http(ctx.fps, headers=h.headers, body=h.body, title=title, location=h.location)
    block = next((m.vendor for m in found if m.kind == "block"), None)
    ident = next(
        (m.vendor for m in found if m.kind == "identity" and m.scope != "header:Via"), None
    )
    named = next(
        (m.vendor for m in found if m.kind == "identity" and m.scope in ("body", "title")), None
    )
    return block, ident, named


def _refuses(cues: CueScore, shape: Structure) -> bool:
    """The page's words refuse: a phrase block pages say, or any block word on a small page.
    With a filter's product named on the page, that is the product's block page."""
    return cues.score >= 2 or (cues.score >= 1 and shape.small)


def _blocky(ctx: Ctx, h: HttpStep) -> tuple[bool, str | None]:
    block, ident, named = _vendors(ctx, h)
    if block:
        return True, block
    if h.status is None:
        return False, None
    cues, shape = _page_cues(ctx, h)
    look = _look(ctx, h)
    if named and not (look and not look[1]) and _refuses(cues, shape):
        return True, named
    if look and not (look[1] and _outweighs(cues, shape)):
        return False, None
    return _strong(cues, shape), ident


def _authenticated(ctx: Ctx, h: HttpStep) -> bool:
    if url_scheme(h.url) not in TLS_SCHEMES or ctx.intercepted:
        return False
    host = url_host(h.url)
    return all(cert_ok(ctx, t) for t in ctx.steps.tls if host_key(t.server_name) == host)


def _http_failure(ctx: Ctx, h: HttpStep) -> Classification:
    what = ctx.host + (f" at {h.ip}" if h.ip else "")
    what += f" through the proxy {h.proxy}" if h.proxy else ""
    if h.failure == f.HTTP_PROXY_REFUSED:
        return block_verdict(
            "proxy-denied", f"The proxy {h.proxy or ctx.proxy} refused {ctx.host}."
        )
    if h.failure in RESET_FAILURES:
        return block_verdict(
            "http-reset", f"The HTTP exchange with {what} was cut ({h.failure}) after the request."
        )
    if h.failure == f.GENERIC_TIMEOUT:
        return block_verdict("http-timeout", f"The HTTP request to {what} got no answer in time.")
    if h.failure in CERT_FAILURES:
        return block_verdict(
            "tls-mismatch", f"The certificate for {what} is not trusted ({h.failure})."
        )
    if h.failure == f.SSL_FAILED_HANDSHAKE:
        return block_verdict("tls-reset", f"The TLS handshake for {what} failed ({h.failure}).")
    if h.failure in (f.CONNECTION_REFUSED, f.HOST_UNREACHABLE) and not h.proxy:
        return block_verdict("tcp-reset", f"Connections to {what} were rejected ({h.failure}).")
    own = http_own_setup(h, what, ctx.host)
    if own is not None:
        return other_verdict("inconclusive", own)
    if h.failure in (f.CONNECTION_REFUSED, f.HOST_UNREACHABLE, f.NETWORK_UNREACHABLE):
        return other_verdict("unreachable", f"The probe could not reach {what} ({h.failure}).")
    return other_verdict("inconclusive", f"The HTTP request to {what} failed ({h.failure}).")


def _from_proxy(ctx: Ctx, h: HttpStep) -> Classification:
    block, ident = _vendor_of(ctx, h)
    vendor = block or ident
    squid = next((v for k, v in h.headers if k.casefold() == "x-squid-error"), None)
    detail = f" ({vendor_name(vendor)})" if vendor else ""
    if squid:
        detail = f" ({vendor_name(vendor or 'squid')}, X-Squid-Error {squid})"
    proxy = h.proxy or ctx.proxy or "the proxy"
    if h.status == 407:
        return proxy_auth_verdict(ctx, h)
    if h.status is not None and h.status >= 500 and not block:
        return other_verdict(
            "unreachable",
            f"The proxy {proxy} could not reach {ctx.host} itself ({h.status}{detail}).",
        )
    return block_verdict(
        "proxy-denied",
        f"The proxy {proxy} refused {ctx.host} with status {h.status}{detail}.",
        vendor,
    )


def http_stage(ctx: Ctx) -> Classification | None:
    http = ctx.steps.http
    if not http:
        return None
    for h in http:
        if h.from_proxy:
            return _from_proxy(ctx, h)
    final = http[-1]
    for h in http:
        if not h.location:
            continue
        block = next(
            (m.vendor for m in match_http(ctx.fps, location=h.location) if m.kind == "block"), None
        )
        dest = url_host(h.location, base=h.url)
        if block:
            return block_verdict(
                "http-redirect",
                f"{ctx.host} was redirected to {h.location}, {a_vendor(block)} block page.",
                block,
            )
        if is_sinkhole_address(dest, ctx.nets):
            return block_verdict(
                "http-redirect",
                f"{ctx.host} was redirected to {dest}, a private address outside --allow-net.",
            )
        named = named_filter_destination(h.location, h.url, ctx.nets, own_hosts(ctx.target))
        if named is not None and not _authenticated(ctx, h):
            return block_verdict(
                "http-redirect",
                f"{ctx.host} was redirected away from the site to {named}, an address named "
                "for blocking or a filter's port.",
            )
        if h is final or not (is_ip_literal(dest) or _site(dest) != _site(ctx.host)):
            continue
        blocky, vendor = _blocky(ctx, final) if final.failure is None else (False, None)
        if blocky:
            return block_verdict(
                "http-redirect",
                f"{ctx.host} was redirected to {dest}, which shows a block page"
                + (f" from {vendor_name(vendor)}." if vendor else "."),
                vendor,
            )
    if final.failure is not None:
        return _http_failure(ctx, final)
    return _final_page(ctx, final)


def _page_cues(ctx: Ctx, h: HttpStep) -> tuple[CueScore, Structure]:
    """The page's block wording (lexicon) and shape (structure), scored on one scale."""
    cues = generic_cues(h.body, h.title or extract_title(h.body))
    shape = page_structure(
        body=h.body,
        headers=h.headers,
        requested=h.url,
        nets=ctx.nets,
        lexicon_score=cues.score,
        own=own_hosts(ctx.target),
    )
    return cues, shape


def _look(ctx: Ctx, h: HttpStep) -> tuple[str, bool] | None:
    """The page family of a real page that only looks blocked, and whether the match is soft."""
    title = h.title or extract_title(h.body)
    host = url_host(h.url)
    return lookalike_match(
        h.status, h.headers, h.body, title, requested_host=host, own=own_hosts(ctx.target)
    )


def _strong(cues: CueScore, shape: Structure) -> bool:
    """Words and shape add up, and either the words are said up front (``decisive``) or the
    shape itself shows a filter (a redirect to it, its header, a category, an unblock form)."""
    total = cues.score + shape.score >= cues.threshold
    # a sentence only a block page says proves it on a page with nothing else to say; on a long
    # page with links on (a library's access notes, a news story) only a headline does
    said = cues.headline or (cues.top >= 3 and shape.small)
    return total and (said or bool(shape.signs))


def _outweighs(cues: CueScore, shape: Structure) -> bool:
    """Signs of a filter clear enough to outweigh a soft lookalike (a password field, "too many
    requests"): strong words, or the shape of a filter's page with words that agree."""
    # a small page whose one act is to send the browser to another site (not the service's
    # own hosts) is that site's notice, whatever else it says ("please enable JavaScript")
    return _strong(cues, shape) or (bool(shape.signs) and cues.score >= 1) or bool(shape.leaves)


#: families that are no page of the site asked for, and why that says nothing sure of it
_NOT_THE_SITE = {
    "captive-portal": "that is the probe's own network, and says nothing of this site.",
    "article": "the service's page was not served, but nothing in this one refuses it.",
    "browser-error": "a copy of one served in the page's place proves nothing either way.",
}

#: the reason phrase of a status, as a stock status page repeats it
_REASONS = {401: "unauthorized", 403: "forbidden", 405: "not allowed", 407: "unauthorized"}


def _signs(
    cues: CueScore,
    shape: Structure,
    ident: str | None,
    status: int | None,
    body: str | None = None,
    title: str | None = None,
) -> list[str]:
    """Every sign, however small, that a filter wrote the page: block words (any on a small
    page, heavier ones on a long page), the filter's page shape, a product named on the page,
    or status 451. Enough when the page is not the service's; nothing is a reason for doubt."""
    signs = []
    # a stock status page says its status and nothing more ("403 Forbidden"): no sign
    reason = _REASONS.get(status or 0)
    phrases = [p for p in cues.phrases if p != reason]
    if cues.top <= 1 and (
        (status or 0) >= 400 or about_itself(body, title) or not families_known(body, title)
    ):
        # a lone weak word with an error status ("denied"): a server's refusal alike; "Politik"
        # in a home page's menu: the site presents itself; in a language whose real pages'
        # families netcheck does not know, a weak word ("toshe") may be a news story's
        phrases = []
    # on a page with more to say than a notice (an intranet's portal, a help article), one
    # phrase in passing ("charte informatique" in a menu) is no sign: it must add up or lead
    if phrases and (shape.small or cues.score >= 3 or cues.headline):
        signs += [f'"{p}"' for p in phrases[:3]]
    signs += list(shape.signs[:2])
    if shape.echo and not shape.signs:
        signs.append("a small page that echoes the requested address")
    if shape.leaves and not shape.redirect:
        signs.append(f"a page that only sends the browser to {shape.leaves}")
    if ident:
        signs.append(f"{vendor_name(ident)} named on the page")
    return signs


def _said(cues: CueScore, shape: Structure) -> str:
    parts = [f'"{p}"' for p in cues.phrases[:3]] + list(shape.signs[:2])
    return "; ".join(parts)


#: web proxies' own errors that are failures, not refusals: Blue Coat ProxySG's exception ids
_PROXY_FAILURE = re.compile(
    r"\b(dns_unresolved_hostname|dns_server_failure|tcp_error|gateway_timeout|connect_failed"
    r"|server_request_too_large|internal_error|unsupported_protocol)\b"
)


#: a gateway's own words for a site it could not reach (with a 5xx), in the main languages
_FAILED_TO_REACH = re.compile(
    r"(did not respond to the gateway|upstream (connection )?(timeout|timed out|connect error)"
    r"|could not be resolved|could not connect to|connection (to the server )?(timed out|refused"
    r"|failed)|(dns|name) (lookup|resolution) failed|no se pudo (conectar|resolver)|nao foi "
    r"possivel (conectar|resolver)|impossible de (joindre|resoudre|se connecter)|konnte nicht "
    r"(aufgelost|erreicht) werden|zeituberschreitung|не (удалось|смог) установить соединение"
    r"|не ответил в течение|превышено время ожидания|не удалось разрешить|connection_timeout"
    r"|connection_refused|dns_failure|baglanti zaman asimina ugradi|sunucuya ulasilamadi)"
)
#: ... unless the page refuses as well
_DENIAL = re.compile(
    r"block|denied|not allowed|not permitted|prohibited|policy|bloque|denegad|prohibid|"
    r"interdit|gesperrt|verweigert|negad|proibid|vietat|bloccat"
)


def proxy_failure(h: HttpStep) -> str | None:
    """The error a proxy's own page names when it could not reach the site (squid's
    ``X-Squid-Error: ERR_DNS_FAIL``, ProxySG's ``dns_unresolved_hostname``), or None: a denial
    (ERR_ACCESS_DENIED) is a refusal, not a failure."""
    for key, value in h.headers:
        if key.lower() == "x-squid-error":
            return squid_failure(value)
    if (h.status or 0) >= 500:
        head = (h.body or "")[:4096]
        folded = fold(head)
        found = _PROXY_FAILURE.search(head) or _FAILED_TO_REACH.search(folded)
        if found and not _DENIAL.search(folded):
            return found.group(1)
    return None


def _final_page(ctx: Ctx, h: HttpStep) -> Classification:
    authentic = _authenticated(ctx, h)
    page = f"{url_host(h.url) or ctx.host}" + (f" at {h.ip}" if h.ip else "")
    how = "over authenticated HTTPS" if authentic else "over plain HTTP"
    if ctx.intercepted and url_scheme(h.url) in TLS_SCHEMES:
        how = "through TLS interception"
    if h.status == 407 and not authentic:
        return proxy_auth_verdict(ctx, h)  # a proxy on the path asks who the user is
    block, ident, named = _vendors(ctx, h)
    if block and not authentic:
        return block_verdict(
            "http-blockpage",
            f"{page} answered {h.status} {how} with {a_vendor(block)} block page.",
            block,
        )
    cues, shape = _page_cues(ctx, h)
    look = _look(ctx, h)
    firm_look = look is not None and not look[1]
    # a proxy's own page for a site it could not reach (a CDN's own error page is its family)
    failed = None if authentic or block or firm_look else proxy_failure(h)
    if (
        failed is not None
        and not failed.startswith("ERR_")  # squid's own code says it outright
        and look is not None
        and look[0] not in ("server-error", "site-notice")
    ):
        failed = None  # a soft family of its own (a CDN's, a site's front) says more
    if failed is not None:
        return other_verdict(
            "inconclusive",
            f"{page} answered {h.status} {how} with a proxy's own error page ({failed}): the "
            "proxy could not reach the site itself, which is no refusal.",
        )
    if named and not authentic and not firm_look and _refuses(cues, shape):
        return block_verdict(
            "http-blockpage",
            f"{page} answered {h.status} {how} with {a_vendor(named)} block page "
            f"({_said(cues, shape)}).",
            named,
        )
    # a browser shows a credentials dialog, not the page, on a 401 challenge: no filter's block
    # page is made so (its words are for the dialog's cancel), whatever they say
    asks = None if authentic else sign_in_verdict(ctx, h, page, how)
    if asks is not None:
        return asks
    if look and (authentic or firm_look or not _outweighs(cues, shape)):
        if look[0] in _NOT_THE_SITE and not authentic:
            return other_verdict(
                "inconclusive",
                f"{page} answered {h.status} {how}: {lookalike_description(look[0])}; "
                f"{_NOT_THE_SITE[look[0]]}",
            )
        return other_verdict(
            "accessible", f"{page} answered {h.status} {how}: {lookalike_description(look[0])}."
        )
    if authentic:
        if h.status is not None and h.status >= 400:
            return other_verdict(
                "inconclusive", f"{page} itself answered {h.status} {how}: the service refused."
            )
        return other_verdict("accessible", f"{page} answered {h.status} {how}.")
    redirect = h.status is not None and 300 <= h.status < 400
    meets = None if redirect else page_meets_expect(ctx, h)  # a hop is not the page itself
    if meets is False and brand_titled(ctx, h):
        meets = True  # titled as the service titles its own pages ("Esta cuenta no existe / X")
    # a page that shows the service's own brand words is the service's, whatever its text
    # says about blocking (a video about web filters): only its shape can still betray a filter,
    # or a small page made of nothing of the service's that says only that it is refused
    # ("YouTube is not available on the Courts Service network", titled "... - YouTube")
    said_only = shape.small and not shape.own_assets and cues.decisive
    if _strong(cues, shape) and (meets is not True or shape.redirect is not None or said_only):
        return block_verdict(
            "http-blockpage",
            f"{page} answered {how} with a block page: {_said(cues, shape)}.",
            ident,
        )
    return _unproven(
        h,
        f"{page} answered {h.status} {how}",
        meets,
        _signs(cues, shape, ident, h.status, h.body, h.title),
        ident,
        shape,
    )


def _stands_in(h: HttpStep, meets: bool | None, shape: Structure) -> bool:
    """The broad rule: a brief page (a notice, even inside an intranet's template) served with
    success or a refusal (401, 403) where a known brand's page was expected, over a transport a
    filter can forge, that is not the service's (no brand words, none of its scripts or
    pictures, not titled as the service titles its pages) and belongs to no family of real
    pages that merely look blocked (``lookalikes`` ruled those out before). Only a filter puts
    such a page there; whatever language it speaks, it is a block page. An empty page, an
    error or a 404 there stays in doubt."""
    status = h.status or 0
    return (
        meets is False
        and (200 <= status < 300 or status in (401, 403))  # success, or a plain refusal
        and shape.brief
        and not shape.silent  # an empty page says nothing, not even "no": doubt
        and not shape.own_assets
    )


def _unproven(
    h: HttpStep,
    lead: str,
    meets: bool | None,
    signs: list[str],
    ident: str | None,
    shape: Structure,
) -> Classification:
    """A forgeable page with no proof either way: the service's own brand, small signs of a
    filter, the status, or none of these decide — and with none, doubt is said, not blame."""
    status = h.status or 0
    said = "; ".join(signs[:4])
    if 300 <= status < 400 and h.location and sign_in_destination(h.location, h.url):
        return other_verdict(
            "inconclusive",
            f"{lead}, sending the browser to sign in at {url_host(h.location)} (a captive "
            "portal or a single sign-on), handed the address to come back to: the network asks "
            "who is there before any site, which says nothing of this one.",
        )
    if meets is False and shape.own_assets:
        meets = True  # built from the service's own scripts, styles or pictures: its page
    if status == 451:  # RFC 7725: the status a filter or a court order answers with
        return block_verdict("http-status", f"{lead} (unavailable for legal reasons).", ident)
    if meets is True:
        if status >= 500:
            return other_verdict("inconclusive", f"{lead}: the service's own page, with an error.")
        note = ": the service's own error page" if status >= 400 else ""
        return other_verdict("accessible", f"{lead}{note}.")
    if signs and status >= 400:
        return block_verdict("http-status", f"{lead} instead of the page ({said}).", ident)
    if signs and meets is False:
        return block_verdict(
            "http-blockpage", f"{lead} with a page that is not the service's ({said}).", ident
        )
    if _stands_in(h, meets, shape) and not reads(h.body, h.title):
        return other_verdict(
            "inconclusive",
            f"{lead}: a brief page that is not the service's, in a language netcheck does not "
            "read, so neither a refusal nor a real page's family can be told.",
        )
    if (
        _stands_in(h, meets, shape)
        and not families_known(h.body, h.title)
        and not cites_order(h.body, h.title)
    ):
        return other_verdict(
            "inconclusive",
            f"{lead}: a brief page that is not the service's, in a language whose refusals "
            "netcheck reads but whose real pages (consent, sign-in, error, placeholder) it does "
            "not know yet, and it says no refusal outright.",
        )
    if _stands_in(h, meets, shape) and not speaks_of_access(h.body, h.title):
        return other_verdict(
            "inconclusive",
            f"{lead}: a brief page that is not the service's but says nothing of access, of a "
            "network or of rules (a real page of a kind netcheck does not know, or a filter's "
            "terse notice).",
        )
    if _stands_in(h, meets, shape):
        return block_verdict(
            "http-blockpage",
            f"{lead} with a brief page that is not the service's, of no family of real pages "
            "(default, maintenance, consent, login, bot check, rate limit): a page put in its "
            "place.",
            ident,
        )
    if meets is False:
        return other_verdict(
            "inconclusive",
            f"{lead}: the page is not the service's and carries no sign of a filter.",
        )
    if status >= 400:
        return other_verdict(
            "inconclusive",
            f"{lead} with no sign of a filter: the site or its own front may have refused or "
            "failed.",
        )
    return other_verdict("accessible", f"{lead}.")
