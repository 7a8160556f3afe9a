"""The classifier: recorded evidence for one target in, one verdict with its reason out.

In: a ``Target`` and the ``Steps`` measured for it (plus ``--allow-net`` ranges and the block-page
fingerprints). Out: a ``Classification`` — verdict, the technique that stopped access, the vendor
when a fingerprint names it, whether TLS was intercepted, and one plain sentence of evidence.
Pure: no sockets, no clock, so ``netcheck classify RESULTS.jsonl`` reproduces verdicts offline.

Stages are judged in pipeline order, DNS -> TCP -> TLS -> HTTP; the first stage that prevents
access names the technique. Pages that only look blocked (consent and login walls, CDN and
Cloudflare pages, rate limits) are the service's own answers and count as accessible. A page
that arrived over HTTPS authenticated as the origin (publicly trusted, right name, no
interception) cannot be a filter's block page, so only plain HTTP and intercepted HTTPS are
searched for block pages. A QUIC (UDP 443) failure while TCP works is noted, never a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pydantic import ValidationError

from netcheck import failures as f
from netcheck.blockpage import (
    Fingerprints,
    extract_title,
    generic_cues,
    load_fingerprints,
    lookalike,
    lookalike_description,
    match_dns,
    match_http,
    vendor_name,
)
from netcheck.errors import InputError
from netcheck.models import (
    ControlEvidence,
    DnsStep,
    HttpStep,
    Result,
    Steps,
    Target,
    TcpStep,
    TlsStep,
)
from netcheck.netaddr import IPNetwork, is_ip_literal, is_sinkhole_address, parse_cidr, parse_ip

_CERT_FAILURES = {f.SSL_INVALID_HOSTNAME, f.SSL_UNKNOWN_AUTHORITY, f.SSL_INVALID_CERTIFICATE}
_RESET_FAILURES = {f.CONNECTION_RESET, f.EOF_ERROR, f.CONNECTION_ABORTED}
_REJECT_FAILURES = {f.CONNECTION_REFUSED, f.CONNECTION_RESET, f.HOST_UNREACHABLE}
_TLS_SCHEMES = {"https", "wss", "rtmps"}


@dataclass(frozen=True)
class Classification:
    verdict: str
    technique: str | None
    vendor: str | None
    intercepted: bool
    evidence: str


@dataclass(frozen=True)
class _Ctx:
    target: Target
    steps: Steps
    host: str
    nets: tuple[IPNetwork, ...]
    fps: Fingerprints
    intercepted: bool
    proxy: str | None


def _norm(host: str | None) -> str:
    return (host or "").strip().rstrip(".").casefold()


def _host(url: str, base: str | None = None) -> str:
    """The host of ``url`` (resolved against ``base``), or "" when the URL is malformed."""
    try:
        return _norm(urlsplit(urljoin(base, url) if base else url).hostname)
    except ValueError:
        return ""


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.casefold()
    except ValueError:
        return ""


def _blocked(technique: str, evidence: str, vendor: str | None = None) -> Classification:
    return Classification("blocked", technique, vendor, False, evidence)


def _other(verdict: str, evidence: str) -> Classification:
    return Classification(verdict, None, None, False, evidence)


def _is_intercepted(t: TlsStep) -> bool:
    return t.trusted_local is True and t.trusted_public is not True


# --- expectations --------------------------------------------------------------------------------


def _covers(san: str, name: str) -> bool:
    san, name = _norm(san), _norm(name)
    if san == name:
        return True
    if san.startswith("*.") and not name.startswith("*."):
        return name.partition(".")[2] == san[2:]
    return False


def _cert_ok(ctx: _Ctx, t: TlsStep) -> bool:
    """Publicly trusted, right name, covering every name the catalogue expects."""
    if t.failure is not None or t.trusted_public is False or t.hostname_matches is False:
        return False
    if not t.chain or not ctx.target.expect.cert_names:
        return True
    sans = t.chain[0].sans
    return all(any(_covers(s, n) for s in sans) for n in ctx.target.expect.cert_names)


def _page_meets_expect(ctx: _Ctx, h: HttpStep) -> bool | None:
    """None when the catalogue gives nothing to check (or the excerpt is too short to tell)."""
    exp = ctx.target.expect
    title = (h.title or extract_title(h.body) or "").casefold()
    body = (h.body or "").casefold()
    verdicts: list[bool] = []
    if exp.title_contains:
        verdicts.append(any(x.casefold() in title for x in exp.title_contains))
    if exp.body_contains:
        found = any(x.casefold() in body for x in exp.body_contains)
        if found or not h.body_truncated:
            verdicts.append(found)
    return all(verdicts) if verdicts else None


def _addresses_fail(ctx: _Ctx, addrs: frozenset[str]) -> bool:
    tls = [t for t in ctx.steps.tls if t.ip in addrs]
    http = [h for h in ctx.steps.http if h.ip in addrs and h.status is not None]
    if any(_cert_ok(ctx, t) or _is_intercepted(t) for t in tls):
        return False
    bad_tls = any(
        t.failure in _CERT_FAILURES or (t.failure is None and not _cert_ok(ctx, t)) for t in tls
    )
    return bad_tls or any(_page_meets_expect(ctx, h) is False for h in http)


def _addresses_pass(ctx: _Ctx, addrs: frozenset[str]) -> bool:
    if any(_cert_ok(ctx, t) for t in ctx.steps.tls if t.ip in addrs):
        return True
    http = [h for h in ctx.steps.http if h.ip in addrs and h.status is not None]
    return any(h.status is not None and h.status < 400 and _page_meets_expect(ctx, h) for h in http)


# --- DNS -----------------------------------------------------------------------------------------


def _addrs(d: DnsStep) -> frozenset[str]:
    return frozenset(
        a.value for a in d.answers if a.type in ("A", "AAAA") and parse_ip(a.value) is not None
    )


def _who(d: DnsStep, first: bool = True) -> str:
    who = f"the resolver {d.resolver}" if d.resolver else "the system resolver"
    return who[0].upper() + who[1:] if first else who


_DNS_KIND = [  # (technique, rcodes, failures, words), most telling first
    ("dns-nxdomain", {"NXDOMAIN"}, {f.DNS_NXDOMAIN}, "answered NXDOMAIN for"),
    ("dns-refused", {"REFUSED"}, {f.DNS_REFUSED}, "refused to resolve"),
    (
        "dns-servfail",
        {"SERVFAIL"},
        {f.DNS_SERVFAIL, f.DNS_NON_RECOVERABLE, f.DNS_TEMPORARY},
        "answered SERVFAIL for",
    ),
    ("dns-nodata", {"NOERROR"}, {f.DNS_NO_ANSWER}, "returned no address for"),
    ("dns-timeout", set(), {f.GENERIC_TIMEOUT}, "never answered queries for"),
]


def _dns(ctx: _Ctx) -> Classification | None:
    steps = [d for d in ctx.steps.dns if _norm(d.hostname) == ctx.host]
    if not steps or ctx.proxy is not None:
        return None  # through a proxy, the proxy resolves: local answers do not decide access
    usable = [(d, _addrs(d)) for d in steps if _addrs(d)]
    if not usable:
        for technique, rcodes, fails, words in _DNS_KIND:
            hit = [d for d in steps if (d.rcode or "").upper() in rcodes or d.failure in fails]
            if technique == "dns-nodata":
                hit = [d for d in hit if d.failure in (None, f.DNS_NO_ANSWER)]
            if hit:
                tail = ", a name that exists" if technique == "dns-nxdomain" else ""
                return _blocked(
                    technique,
                    f"{_who(hit[0])} {words} {ctx.host}{tail}: the DNS filter blocks it.",
                )
        reason = ", ".join(sorted({d.failure or d.rcode or "no answer" for d in steps}))
        return _other("inconclusive", f"Resolving {ctx.host} failed ({reason}), cause unclear.")
    for d, addrs in usable:
        vendor_hit = next(
            (m for a in sorted(addrs) if (m := match_dns(ctx.fps, a)) and m.kind == "block"), None
        )
        if vendor_hit is not None:
            return _blocked(
                "dns-sinkhole",
                f"{_who(d)} answered {ctx.host} with {vendor_hit.where}, "
                f"a {vendor_name(vendor_hit.vendor)} "
                "block address: the name is sinkholed.",
                vendor_hit.vendor,
            )
        if all(is_sinkhole_address(a, ctx.nets) for a in addrs):
            ident = next((m for a in sorted(addrs) if (m := match_dns(ctx.fps, a))), None)
            shown = ", ".join(sorted(addrs))
            return _blocked(
                "dns-sinkhole",
                f"{_who(d)} answered {ctx.host} with {shown}, a private or reserved address "
                "outside --allow-net: the name is sinkholed.",
                ident.vendor if ident else None,
            )
    return _dns_mismatch(ctx, usable)


def _disjoint(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two answer sets disagree: per address family present in both, no address in common."""
    shared = False
    for version in (4, 6):
        fa = {x for x in a if (ip := parse_ip(x)) is not None and ip.version == version}
        fb = {x for x in b if (ip := parse_ip(x)) is not None and ip.version == version}
        if fa and fb:
            shared = True
            if not fa.isdisjoint(fb):
                return False
    return shared


def _dns_mismatch(ctx: _Ctx, usable: list[tuple[DnsStep, frozenset[str]]]) -> Classification | None:
    for d, addrs in usable:
        others = [a for o, a in usable if o is not d]
        if d.replies > 1 and (
            _addresses_fail(ctx, addrs) or any(_disjoint(addrs, a) for a in others)
        ):
            return _blocked(
                "dns-mismatch",
                f"{_who(d)} sent {d.replies} replies to one query for {ctx.host} "
                f"(kept: {', '.join(sorted(addrs))}) that disagree with the real site: "
                "a forged answer was injected.",
            )
    for d, addrs in usable:
        for o, other in usable:
            if (
                _disjoint(addrs, other)
                and _addresses_fail(ctx, addrs)
                and _addresses_pass(ctx, other)
            ):
                return _blocked(
                    "dns-mismatch",
                    f"{_who(d)} answered {ctx.host} with {', '.join(sorted(addrs))}, "
                    f"which does not serve the real site, while {_who(o, first=False)} gave "
                    f"{', '.join(sorted(other))}, which does: the DNS answer is tampered with.",
                )
    return None


# --- TCP and TLS ---------------------------------------------------------------------------------


def _tcp(ctx: _Ctx) -> Classification | None:
    tcp = ctx.steps.tcp
    if not tcp or any(t.failure is None for t in tcp):
        return None
    where = ", ".join(sorted({f"{t.ip}:{t.port}" for t in tcp}))
    fails = {t.failure for t in tcp}
    if ctx.proxy is not None:
        return _other("unreachable", f"The probe could not connect to the proxy {ctx.proxy}.")
    if fails & _REJECT_FAILURES:
        kind = ", ".join(sorted(str(x) for x in fails & _REJECT_FAILURES))
        return _blocked(
            "tcp-reset", f"Connections to {ctx.host} at {where} were rejected ({kind})."
        )
    if f.GENERIC_TIMEOUT in fails:
        return _blocked(
            "tcp-timeout", f"Connections to {ctx.host} at {where} timed out: packets are dropped."
        )
    if f.NETWORK_UNREACHABLE in fails:
        return _other("unreachable", f"The probe has no route to {ctx.host} at {where}.")
    return _other("inconclusive", f"Connecting to {ctx.host} at {where} failed ({fails}).")


def _tls(ctx: _Ctx) -> Classification | None:
    tls = [t for t in ctx.steps.tls if _norm(t.server_name) == ctx.host]
    if not tls and _scheme(ctx.target.url) in _TLS_SCHEMES:
        tls = ctx.steps.tls  # a handshake under another SNI still decides an https target
    if not tls:
        return None
    if any(_cert_ok(ctx, t) or _is_intercepted(t) for t in tls):
        return None
    via = f" through the proxy {ctx.proxy}" if ctx.proxy else ""
    t = tls[0]
    at = f" at {t.ip}" if t.ip else ""
    fails = [x.failure for x in tls]
    if any(x in _CERT_FAILURES or x is None for x in fails):
        bad = next(x for x in tls if x.failure in _CERT_FAILURES or x.failure is None)
        issuer = f" issued by {bad.chain[0].issuer}" if bad.chain else ""
        return _blocked(
            "tls-mismatch",
            f"The certificate{issuer} presented for {ctx.host}{at}{via} is not trusted or does "
            f"not cover the name ({bad.failure or 'wrong names'}): the connection is diverted.",
        )
    if any(x in _RESET_FAILURES or x == f.SSL_FAILED_HANDSHAKE for x in fails):
        return _blocked(
            "tls-reset",
            f"The TLS handshake for {ctx.host}{at}{via} was cut ({t.failure}) after the "
            "server name was sent: an SNI filter blocks it.",
        )
    if f.GENERIC_TIMEOUT in fails:
        return _blocked(
            "tls-timeout",
            f"The TLS handshake for {ctx.host}{at}{via} timed out after the server name was sent.",
        )
    return _other("inconclusive", f"The TLS handshake for {ctx.host}{at} failed ({t.failure}).")


# --- HTTP ----------------------------------------------------------------------------------------


def _site(host: str) -> str:
    """Registrable-domain guess without a suffix list: last two labels, three for ccSLDs."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _vendor_of(ctx: _Ctx, h: HttpStep) -> tuple[str | None, str | None]:
    """(vendor from a block fingerprint, vendor from an identity fingerprint) for one response."""
    title = h.title or extract_title(h.body)
    found = match_http(ctx.fps, headers=h.headers, body=h.body, title=title, location=h.location)
    block = next((m.vendor for m in found if m.kind == "block"), None)
    ident = next(
        (m.vendor for m in found if m.kind == "identity" and m.scope != "header:Via"), None
    )
    return block, ident


def _blocky(ctx: _Ctx, h: HttpStep) -> tuple[bool, str | None]:
    block, ident = _vendor_of(ctx, h)
    if block:
        return True, block
    if h.status is None or lookalike(h.status, h.headers, h.body, h.title):
        return False, None
    return generic_cues(h.body, h.title or extract_title(h.body)).strong, ident


def _authenticated(ctx: _Ctx, h: HttpStep) -> bool:
    if _scheme(h.url) not in _TLS_SCHEMES or ctx.intercepted:
        return False
    host = _host(h.url)
    return all(_cert_ok(ctx, t) for t in ctx.steps.tls if _norm(t.server_name) == host)


def _http_failure(ctx: _Ctx, h: HttpStep) -> Classification:
    what = ctx.host + (f" at {h.ip}" if h.ip else "")
    what += f" through the proxy {h.proxy}" if h.proxy else ""
    if h.failure == f.HTTP_PROXY_REFUSED:
        return _blocked("proxy-denied", f"The proxy {h.proxy or ctx.proxy} refused {ctx.host}.")
    if h.failure in _RESET_FAILURES:
        return _blocked(
            "http-reset", f"The HTTP exchange with {what} was cut ({h.failure}) after the request."
        )
    if h.failure == f.GENERIC_TIMEOUT:
        return _blocked("http-timeout", f"The HTTP request to {what} got no answer in time.")
    if h.failure in _CERT_FAILURES:
        return _blocked("tls-mismatch", f"The certificate for {what} is not trusted ({h.failure}).")
    if h.failure == f.SSL_FAILED_HANDSHAKE:
        return _blocked("tls-reset", f"The TLS handshake for {what} failed ({h.failure}).")
    if h.failure in (f.CONNECTION_REFUSED, f.HOST_UNREACHABLE) and not h.proxy:
        return _blocked("tcp-reset", f"Connections to {what} were rejected ({h.failure}).")
    if h.failure in (f.CONNECTION_REFUSED, f.HOST_UNREACHABLE, f.NETWORK_UNREACHABLE):
        return _other("unreachable", f"The probe could not reach {what} ({h.failure}).")
    return _other("inconclusive", f"The HTTP request to {what} failed ({h.failure}).")


def _from_proxy(ctx: _Ctx, h: HttpStep) -> Classification:
    block, ident = _vendor_of(ctx, h)
    vendor = block or ident
    squid = next((v for k, v in h.headers if k.casefold() == "x-squid-error"), None)
    detail = f" ({vendor_name(vendor)})" if vendor else ""
    if squid:
        detail = f" ({vendor_name(vendor or 'squid')}, X-Squid-Error {squid})"
    proxy = h.proxy or ctx.proxy or "the proxy"
    if h.status == 407:
        return _other(
            "inconclusive",
            f"The proxy {proxy} asked for credentials (407) before fetching {ctx.host}.",
        )
    if h.status is not None and h.status >= 500 and not block:
        return _other(
            "unreachable",
            f"The proxy {proxy} could not reach {ctx.host} itself ({h.status}{detail}).",
        )
    return _blocked(
        "proxy-denied",
        f"The proxy {proxy} refused {ctx.host} with status {h.status}{detail}.",
        vendor,
    )


def _http(ctx: _Ctx) -> Classification | None:
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
        dest = _host(h.location, base=h.url)
        if block:
            return _blocked(
                "http-redirect",
                f"{ctx.host} was redirected to {h.location}, a {vendor_name(block)} block page.",
                block,
            )
        if is_sinkhole_address(dest, ctx.nets):
            return _blocked(
                "http-redirect",
                f"{ctx.host} was redirected to {dest}, a private address outside --allow-net.",
            )
        if h is final or not (is_ip_literal(dest) or _site(dest) != _site(ctx.host)):
            continue
        blocky, vendor = _blocky(ctx, final) if final.failure is None else (False, None)
        if blocky:
            return _blocked(
                "http-redirect",
                f"{ctx.host} was redirected to {dest}, which shows a block page"
                + (f" from {vendor_name(vendor)}." if vendor else "."),
                vendor,
            )
    if final.failure is not None:
        return _http_failure(ctx, final)
    return _final_page(ctx, final)


def _final_page(ctx: _Ctx, h: HttpStep) -> Classification:
    authentic = _authenticated(ctx, h)
    page = f"{_host(h.url) or ctx.host}" + (f" at {h.ip}" if h.ip else "")
    how = "over authenticated HTTPS" if authentic else "over plain HTTP"
    if ctx.intercepted and _scheme(h.url) in _TLS_SCHEMES:
        how = "through TLS interception"
    block, ident = _vendor_of(ctx, h)
    if block and not authentic:
        return _blocked(
            "http-blockpage",
            f"{page} answered {h.status} {how} with a {vendor_name(block)} block page.",
            block,
        )
    look = lookalike(h.status, h.headers, h.body, h.title)
    if look:
        return _other(
            "accessible", f"{page} answered {h.status} {how}: {lookalike_description(look)}."
        )
    cues = generic_cues(h.body, h.title or extract_title(h.body))
    if cues.strong and not authentic:
        said = "; ".join(f'"{p}"' for p in cues.phrases[:3])
        return _blocked(
            "http-blockpage", f"{page} answered {how} with a block page saying {said}.", ident
        )
    if h.status is not None and h.status >= 400:
        if authentic:
            return _other(
                "inconclusive", f"{page} itself answered {h.status} {how}: the service refused."
            )
        return _blocked(
            "http-status", f"{page} answered {h.status} {how} instead of the page.", ident
        )
    redirect = h.status is not None and 300 <= h.status < 400
    meets = None if redirect else _page_meets_expect(ctx, h)  # a hop is not the page itself
    if meets is False and not authentic:
        return _blocked(
            "http-blockpage",
            f"{page} answered {h.status} {how} with a page that is not the service's.",
            ident,
        )
    note = ", though not the page the catalogue expects" if meets is False else ""
    return _other("accessible", f"{page} answered {h.status} {how}{note}.")


# --- entry points --------------------------------------------------------------------------------


def _fallback(ctx: _Ctx) -> Classification:
    s = ctx.steps
    if any(t.failure is None for t in s.tls):
        return _other("accessible", f"The TLS handshake with {ctx.host} succeeded.")
    if any(t.failure is None for t in s.tcp):
        return _other("accessible", f"{ctx.host} accepted a TCP connection.")
    if s.dns or s.quic:
        return _other("inconclusive", f"Only DNS or QUIC was measured for {ctx.host}.")
    return _other("inconclusive", f"Nothing was measured for {ctx.host}.")


def _quic_note(quic: Sequence[TcpStep]) -> str:
    """A clause on UDP 443 for a target reached over TCP: never a block, since browsers fall
    back to TCP when QUIC fails. Nothing to say when a QUIC server answered (or none was probed)."""
    fails = {q.failure for q in quic}
    if not quic or None in fails:
        return ""
    if f.GENERIC_TIMEOUT in fails:
        return "; UDP 443 (QUIC) is dropped, so browsers fall back to TCP"
    if f.CONNECTION_REFUSED in fails:
        return "; UDP 443 is open but nothing serves QUIC there, so browsers use TCP"
    shown = ", ".join(sorted(str(x) for x in fails))
    return f"; UDP 443 (QUIC) is rejected ({shown}), so browsers fall back to TCP"


def _finish(ctx: _Ctx, c: Classification) -> Classification:
    evidence = c.evidence.rstrip(".")
    if ctx.intercepted:
        issuer = next(
            (t.chain[0].issuer for t in ctx.steps.tls if _is_intercepted(t) and t.chain), None
        )
        evidence += "; TLS is intercepted by a local CA" + (f" ({issuer})" if issuer else "")
    if c.verdict == "accessible":
        evidence += _quic_note(ctx.steps.quic)
    return Classification(c.verdict, c.technique, c.vendor, ctx.intercepted, evidence + ".")


def classify(
    target: Target,
    steps: Steps,
    *,
    allow_nets: Sequence[str] = (),
    fingerprints: Fingerprints | None = None,
    control: ControlEvidence | None = None,
) -> Classification:
    """Name the verdict and the first stage that prevented access, from evidence alone.

    With ``control`` (a control vantage's evidence for the same URL), the verdict reached from
    the probe's evidence is then reviewed by ``netcheck.control.judge.second_opinion``.
    """
    proxies = [h.proxy for h in steps.http] + [t.proxy for t in steps.tls]
    proxy = next((p for p in proxies if p), None)
    ctx = _Ctx(
        target=target,
        steps=steps,
        host=_host(target.url),
        nets=tuple(parse_cidr(n) for n in allow_nets),
        fps=fingerprints or load_fingerprints(),
        intercepted=any(_is_intercepted(t) for t in steps.tls),
        proxy=proxy,
    )
    for stage in (_dns, _tcp, _tls, _http):
        found = stage(ctx)
        if found is not None:
            break
    else:
        found = _fallback(ctx)
    if control is not None:
        found = _with_control(ctx, found, control)
    return _finish(ctx, found)


def _with_control(ctx: _Ctx, found: Classification, control: ControlEvidence) -> Classification:
    from netcheck.control.judge import SecondOpinion, second_opinion

    review = second_opinion(
        SecondOpinion(found.verdict, found.technique, found.vendor, found.evidence),
        url=ctx.target.url,
        steps=ctx.steps,
        control=control,
        proxy=ctx.proxy,
    )
    return Classification(
        review.verdict, review.technique, review.vendor, found.intercepted, review.evidence
    )


def classify_result(result: Result, *, fingerprints: Fingerprints | None = None) -> Result:
    """A copy of ``result`` whose verdict fields are recomputed from its own steps."""
    c = classify(
        result.target,
        result.steps,
        allow_nets=result.probe.allow_nets,
        fingerprints=fingerprints,
        control=result.control,
    )
    redone = result.model_copy(
        update={
            "verdict": c.verdict,
            "technique": c.technique,
            "vendor": c.vendor,
            "intercepted": c.intercepted,
            "evidence": c.evidence,
        }
    )
    if result.bandwidth is None:
        return redone
    # a confirmed throttle (run --bandwidth) is re-applied from the record's own figures
    from netcheck.bandwidth_run import reapply_throttling

    return reapply_throttling(redone)


def classify_jsonl(path: str, *, fingerprints: Fingerprints | None = None) -> list[Result]:
    """Re-classify every record of a results JSONL file; a bad line is an InputError."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read results: {exc}", file=path) from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            result = Result.model_validate_json(line)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or None
            raise InputError(err["msg"], file=path, line=number, field=where) from None
        out.append(classify_result(result, fingerprints=fingerprints))
    return out
