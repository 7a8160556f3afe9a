"""The DNS, TCP and TLS stages of the classifier: the first of them that prevents access names
the technique (dns-*, tcp-*, tls-*), or the stage lets the target through to HTTP. A failure
that never left the probe's own machine (no route, a resolver or proxy of its own not running)
names none: it is ``inconclusive`` and says so (``OWN_SETUP``).
"""

from __future__ import annotations

from collections.abc import Sequence

from netcheck import failures as f
from netcheck.classify.blockpage import (
    a_vendor,
    match_dns,
)
from netcheck.classify.evidence import (
    CERT_FAILURES,
    REJECT_FAILURES,
    RESET_FAILURES,
    TLS_SCHEMES,
    Classification,
    Ctx,
    addresses_fail,
    addresses_pass,
    block_verdict,
    cert_ok,
    is_intercepted,
    other_verdict,
    uncovered_cert_names,
)
from netcheck.models import (
    DnsStep,
    HttpStep,
    Result,
    TcpStep,
)
from netcheck.netaddr import host_key, is_sinkhole_address, parse_ip, url_host, url_scheme

# --- DNS -----------------------------------------------------------------------------------------


def _addrs(d: DnsStep) -> frozenset[str]:
    return frozenset(
        a.value for a in d.answers if a.type in ("A", "AAAA") and parse_ip(a.value) is not None
    )


def _who(d: DnsStep, first: bool = True) -> str:
    who = f"the resolver {d.resolver}" if d.resolver else "the system resolver"
    return who[0].upper() + who[1:] if first else who


#: The system resolver's ``dns_temporary_failure`` (getaddrinfo's EAI_AGAIN) is in no row: libc
#: gives it for a SERVFAIL, for a resolver that never answered and for one this machine cannot
#: reach, and does not say which. The resolvers' own queries (dnspython) tell them apart.
_DNS_KIND = [  # (technique, rcodes, failures, words), most telling first
    ("dns-nxdomain", {"NXDOMAIN"}, {f.DNS_NXDOMAIN}, "answered NXDOMAIN for"),
    ("dns-refused", {"REFUSED"}, {f.DNS_REFUSED}, "refused to resolve"),
    (
        "dns-servfail",
        {"SERVFAIL"},
        {f.DNS_SERVFAIL, f.DNS_NON_RECOVERABLE},
        "answered SERVFAIL for",
    ),
    ("dns-nodata", {"NOERROR"}, {f.DNS_NO_ANSWER}, "returned no address for"),
    ("dns-timeout", set(), {f.GENERIC_TIMEOUT}, "never answered queries for"),
]


def dns_stage(ctx: Ctx) -> Classification | None:
    steps = [d for d in ctx.steps.dns if host_key(d.hostname) == ctx.host]
    if not steps or ctx.proxy is not None:
        return None  # through a proxy, the proxy resolves: local answers do not decide access
    usable = [(d, _addrs(d)) for d in steps if _addrs(d)]
    if not usable:
        own = _dns_own_setup(steps, ctx.host)
        if own is not None:
            return other_verdict("inconclusive", own)
        for technique, rcodes, fails, words in _DNS_KIND:
            hit = [d for d in steps if (d.rcode or "").upper() in rcodes or d.failure in fails]
            if technique == "dns-nodata":
                hit = [d for d in hit if d.failure in (None, f.DNS_NO_ANSWER)]
            if hit:
                tail = ", a name that exists" if technique == "dns-nxdomain" else ""
                return block_verdict(
                    technique,
                    f"{_who(hit[0])} {words} {ctx.host}{tail}: the DNS filter blocks it.",
                )
        reason = ", ".join(sorted({d.failure or d.rcode or "no answer" for d in steps}))
        why = "cause unclear"
        if {d.failure for d in steps} == {f.DNS_TEMPORARY}:
            why = (
                "cause unclear: libc reports a SERVFAIL, a resolver that never answered and one "
                "it could not reach alike, and no resolver was asked directly"
            )
        return other_verdict("inconclusive", f"Resolving {ctx.host} failed ({reason}), {why}.")
    for d, addrs in usable:
        vendor_hit = next(
            (m for a in sorted(addrs) if (m := match_dns(ctx.fps, a)) and m.kind == "block"), None
        )
        if vendor_hit is not None:
            return block_verdict(
                "dns-sinkhole",
                f"{_who(d)} answered {ctx.host} with {vendor_hit.where}, "
                f"{a_vendor(vendor_hit.vendor)} "
                "block address: the name is sinkholed.",
                vendor_hit.vendor,
            )
        if all(is_sinkhole_address(a, ctx.nets) for a in addrs):
            ident = next((m for a in sorted(addrs) if (m := match_dns(ctx.fps, a))), None)
            shown = ", ".join(sorted(addrs))
            return block_verdict(
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


def _dns_mismatch(ctx: Ctx, usable: list[tuple[DnsStep, frozenset[str]]]) -> Classification | None:
    for d, addrs in usable:
        others = [a for o, a in usable if o is not d]
        if d.replies > 1 and (
            addresses_fail(ctx, addrs) or any(_disjoint(addrs, a) for a in others)
        ):
            return block_verdict(
                "dns-mismatch",
                f"{_who(d)} sent {d.replies} replies to one query for {ctx.host} "
                f"(kept: {', '.join(sorted(addrs))}) that disagree with the real site: "
                "a forged answer was injected.",
            )
    for d, addrs in usable:
        for o, other in usable:
            if (
                _disjoint(addrs, other)
                and addresses_fail(ctx, addrs)
                and addresses_pass(ctx, other)
            ):
                return block_verdict(
                    "dns-mismatch",
                    f"{_who(d)} answered {ctx.host} with {', '.join(sorted(addrs))}, "
                    f"which does not serve the real site, while {_who(o, first=False)} gave "
                    f"{', '.join(sorted(other))}, which does: the DNS answer is tampered with.",
                )
    return None


# --- the probe's own machine ---------------------------------------------------------------------
# A verdict accuses someone's network. When the probe's machine never got a packet out (no
# interface up, no route: the kernel's ENETUNREACH before anything is sent) or asked a resolver
# or proxy on this machine that is not running (refused on loopback), nothing beyond the machine
# was measured: inconclusive, and the evidence says the probe's own setup was the problem.

#: the words every such evidence sentence ends with; ``nothing_measured`` looks for them
OWN_SETUP = "the probe's own machine or setup is the problem, so nothing was measured for"


def _on_this_machine(host: str) -> bool:
    ip = parse_ip(host)
    return ip is not None and ip.is_loopback


def _local_clause(failure: str | None, host: str, what: str) -> str | None:
    """How connecting to ``what`` (at ``host``) failed on this machine; None when the failure
    may have come from beyond it."""
    if failure == f.NETWORK_UNREACHABLE:
        return f"this machine has no network route to {what} ({failure})"
    if failure == f.CONNECTION_REFUSED and _on_this_machine(host):
        return f"nothing listens at {what} on this machine ({failure})"
    return None


def _own_setup(clauses: list[str], host: str) -> str:
    text = ", and ".join(dict.fromkeys(clauses))
    return f"{text[0].upper()}{text[1:]}: {OWN_SETUP} {host}."


def _dns_own_setup(steps: list[DnsStep], host: str) -> str | None:
    """Every resolver was asked in vain on this machine, and the system resolver's failure (if
    it was asked) is the temporary one libc gives when no resolver can be reached."""
    direct = [d for d in steps if d.engine != "system"]
    system = [d for d in steps if d.engine == "system"]
    if not direct or any(d.failure != f.DNS_TEMPORARY for d in system):
        return None
    clauses = []
    for d in direct:
        where = d.resolver or ""
        clause = None
        if d.rcode is None:
            clause = _local_clause(d.failure, where.rsplit(":", 1)[0], f"the resolver {where}")
        if clause is None:
            return None
        clauses.append(clause)
    if system:
        clauses.append(f"the system resolver failed too ({f.DNS_TEMPORARY})")
    return _own_setup(clauses, host)


def _tcp_own_setup(tcp: list[TcpStep], host: str) -> str | None:
    """Every connection failed for want of a route on this machine. (A refusal on loopback is
    not counted here: an answer on 127.0.0.1 is the DNS stage's to judge, a sinkhole.)"""
    if not tcp or any(t.failure != f.NETWORK_UNREACHABLE for t in tcp):
        return None
    where = ", ".join(sorted({f"{t.ip}:{t.port}" for t in tcp}))
    return _own_setup([f"this machine has no network route to {host} at {where}"], host)


def http_own_setup(h: HttpStep, what: str, host: str) -> str | None:
    """An HTTP exchange that failed on this machine: no route to the site (``what``) or to the
    proxy, or a proxy on this machine that is not running."""
    if h.proxy:
        clause = _local_clause(h.failure, url_host(h.proxy), f"the proxy {h.proxy}")
    elif h.failure == f.NETWORK_UNREACHABLE:
        clause = f"this machine has no network route to {what} ({h.failure})"
    else:
        clause = None
    return None if clause is None else _own_setup([clause], host)


def nothing_measured(results: Sequence[Result]) -> bool:
    """True when there are results and every one is inconclusive because the probe's own machine
    or setup failed (no network route, a resolver or proxy of this machine not running)."""
    return bool(results) and all(
        r.verdict == "inconclusive" and OWN_SETUP in r.evidence for r in results
    )


# --- TCP and TLS ---------------------------------------------------------------------------------


def tcp_stage(ctx: Ctx) -> Classification | None:
    tcp = ctx.steps.tcp
    if not tcp or any(t.failure is None for t in tcp):
        return None
    where = ", ".join(sorted({f"{t.ip}:{t.port}" for t in tcp}))
    fails = {t.failure for t in tcp}
    if ctx.proxy is not None:
        return other_verdict(
            "unreachable", f"The probe could not connect to the proxy {ctx.proxy}."
        )
    if fails & REJECT_FAILURES:
        kind = ", ".join(sorted(str(x) for x in fails & REJECT_FAILURES))
        return block_verdict(
            "tcp-reset", f"Connections to {ctx.host} at {where} were rejected ({kind})."
        )
    if f.GENERIC_TIMEOUT in fails:
        return block_verdict(
            "tcp-timeout", f"Connections to {ctx.host} at {where} timed out: packets are dropped."
        )
    own = _tcp_own_setup(tcp, ctx.host)
    if own is not None:
        return other_verdict("inconclusive", own)
    return other_verdict("inconclusive", f"Connecting to {ctx.host} at {where} failed ({fails}).")


def tls_stage(ctx: Ctx) -> Classification | None:
    tls = [t for t in ctx.steps.tls if host_key(t.server_name) == ctx.host]
    if not tls and url_scheme(ctx.target.url) in TLS_SCHEMES:
        tls = ctx.steps.tls  # a handshake under another SNI still decides an https target
    if not tls:
        return None
    if any(cert_ok(ctx, t) or is_intercepted(t) for t in tls):
        return None
    via = f" through the proxy {ctx.proxy}" if ctx.proxy else ""
    t = tls[0]
    at = f" at {t.ip}" if t.ip else ""
    fails = [x.failure for x in tls]
    if any(x in CERT_FAILURES or x is None for x in fails):
        bad = next(x for x in tls if x.failure in CERT_FAILURES or x.failure is None)
        issuer = f" issued by {bad.chain[0].issuer}" if bad.chain else ""
        return block_verdict(
            "tls-mismatch",
            f"The certificate{issuer} presented for {ctx.host}{at}{via} is not trusted or does "
            f"not cover the name ({bad.failure or 'wrong names'}): the connection is diverted.",
        )
    if any(x in RESET_FAILURES or x == f.SSL_FAILED_HANDSHAKE for x in fails):
        return block_verdict(
            "tls-reset",
            f"The TLS handshake for {ctx.host}{at}{via} was cut ({t.failure}) after the "
            "server name was sent: an SNI filter blocks it.",
        )
    if f.GENERIC_TIMEOUT in fails:
        return block_verdict(
            "tls-timeout",
            f"The TLS handshake for {ctx.host}{at}{via} timed out after the server name was sent.",
        )
    return other_verdict(
        "inconclusive", f"The TLS handshake for {ctx.host}{at} failed ({t.failure})."
    )


def cert_names_note(ctx: Ctx) -> str:
    """A clause for a publicly trusted certificate, valid for the host, that does not list every
    name the target expects (e.g. ``*.facebook.com`` missing from Meta's certificate for
    www.facebook.com): worth telling, never a block, since only the origin can get one."""
    for t in ctx.steps.tls:
        if host_key(t.server_name) != ctx.host or not cert_ok(ctx, t) or is_intercepted(t):
            continue
        missing = uncovered_cert_names(ctx, t)
        if missing:
            shown = ", ".join(missing)
            return (
                f"; the publicly trusted certificate for {ctx.host} does not list {shown}, "
                "which the catalogue expects: a certificate change at the service, not a block"
            )
    return ""


# --- the proxy's own demands ---------------------------------------------------------------------


def _offered(headers: list[tuple[str, str]], header: str = "proxy-authenticate") -> list[str]:
    """Scheme names of ``Proxy-Authenticate`` (or ``header``) challenges (the first word of each
    challenge)."""
    names: list[str] = []
    for key, value in headers:
        if key.lower() != header:
            continue
        for part in value.split(","):
            words = part.strip().split()
            # "Digest realm=..., nonce=..." splits into parts; only a part whose first word
            # has no "=" starts a challenge
            if words and "=" not in words[0]:
                name = {"ntlm": "NTLM"}.get(words[0].lower(), words[0].capitalize())
                if name not in names:
                    names.append(name)
    return names


def proxy_auth_verdict(ctx: Ctx, h: HttpStep) -> Classification:
    """A 407 that stayed: the proxy wants credentials the probe could not give (none, or refused).
    That says nothing about the site: every target it carries is inconclusive, never blocked."""
    proxy = h.proxy or ctx.proxy or "the proxy"
    offers = _offered(h.headers)
    offered = f"; it offers {', '.join(offers)}" if offers else ""
    if h.proxy_auth:
        tried = f"the probe's {h.proxy_auth} credentials were refused"
    else:
        tried = (
            "the probe had no credentials it accepts (--proxy http://user:pass@host:port, "
            "--proxy-auth)"
        )
    return other_verdict(
        "inconclusive",
        f"{ctx.host} was not measured: the proxy requires authentication (407) "
        f"({proxy}{offered}), and {tried}.",
    )


def sign_in_verdict(ctx: Ctx, h: HttpStep, page: str, how: str) -> Classification | None:
    """A 401 with a ``WWW-Authenticate`` challenge where the page could have been forged: a
    sign-in (the site's own, an intranet's, or a transparent proxy's), which the probe never
    answers. Nothing says the network refused the site: inconclusive, never blocked."""
    offers = _offered(h.headers, "www-authenticate")
    if h.status != 401 or not offers:
        return None
    return other_verdict(
        "inconclusive",
        f"{page} answered 401 {how} and asked for credentials ({', '.join(offers)}): a sign-in, "
        "the site's own or a proxy's, which the probe never answers; nothing says the network "
        "refused the site.",
    )
