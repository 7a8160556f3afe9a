"""The second opinion: how a control vantage's evidence changes the probe's own verdict.

In: the verdict the classifier reached from the probe's evidence alone, the probe's ``Steps``,
the target URL and the control's ``ControlEvidence``. Out: a ``SecondOpinion`` (verdict,
technique, vendor, evidence) that ``classify.classify`` returns instead. Pure.

The rules, in order:
1. No usable control evidence (error, refusal): the verdict stands, the evidence says why.
2. The control could not load the page either:
   - the probe failed to resolve and the control's resolver found no address either ->
     ``unreachable`` (the name does not resolve anywhere);
   - the probe failed on the path (reset, timeout, inconclusive) and so did the control ->
     ``unreachable`` (the service is down everywhere, not blocked here).
   Positive evidence of a filter (a sinkhole address, a block page, a proxy refusal) stands.
3. The control loaded the page:
   - the probe's DNS answers are inconsistent with the control's (``consistency.dns_consistency``)
     and the probe then failed, or got a different page over unauthenticated HTTP ->
     ``dns-mismatch``: the answer leads elsewhere;
   - the probe saw an error status and the control gets the same page -> ``inconclusive``:
     the service itself answers that way;
   - the probe's page could be forged (plain HTTP, intercepted TLS), is none of the service's
     own odd pages, and differs from the control's in title, structure and size
     (``consistency.filter_explains``) -> ``http-blockpage``, even without any known wording.
A name resolved through a proxy is resolved by the proxy: DNS is not compared then.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.classify.blockpage import lookalike
from netcheck.classify.consistency import (
    compare_pages,
    dns_consistency,
    failed_stage,
    filter_explains,
    final_page,
)
from netcheck.models import ControlEvidence, HttpStep, Steps
from netcheck.netaddr import url_host, url_scheme

DNS_FAILURES = frozenset(
    {"dns-nxdomain", "dns-nodata", "dns-servfail", "dns-refused", "dns-timeout"}
)
PATH_FAILURES = frozenset(
    {"tcp-reset", "tcp-timeout", "tls-reset", "tls-timeout", "http-reset", "http-timeout"}
)
#: techniques that a diverting DNS answer explains (the probe reached the wrong server)
DIVERTED = PATH_FAILURES | {"tls-mismatch", "http-blockpage", "http-status", "http-redirect"}


@dataclass(frozen=True)
class SecondOpinion:
    verdict: str
    technique: str | None
    vendor: str | None
    evidence: str


def _step_failure(steps: Steps, stage: str) -> str:
    found: list[str | None] = []
    if stage == "dns":
        found = [d.failure or d.rcode for d in steps.dns]
    elif stage == "tcp":
        found = [t.failure for t in steps.tcp]
    elif stage == "tls":
        found = [t.failure for t in steps.tls]
    elif steps.http:
        found = [steps.http[-1].failure or f"status {steps.http[-1].status}"]
    shown = sorted({x for x in found if x})
    return ", ".join(shown) or "no answer"


def second_opinion(
    base: SecondOpinion,
    *,
    url: str,
    steps: Steps,
    control: ControlEvidence,
    proxy: str | None,
) -> SecondOpinion:
    text = base.evidence.rstrip(".")
    if control.error or control.refused:
        why = control.error or f"it refused: {control.refused}"
        return SecondOpinion(
            base.verdict,
            base.technique,
            base.vendor,
            f"{text}; no control evidence ({why}).",
        )
    host = url_host(url)  # "" for a URL that does not parse: never an exception here
    scheme = url_scheme(url)
    cstage = failed_stage(control.steps, host)
    if cstage is not None:
        return _control_failed(base, text, host, cstage, _step_failure(control.steps, cstage))
    if proxy is None and base.technique not in DNS_FAILURES | {"dns-sinkhole", "dns-mismatch"}:
        found = _dns_diverted(base, text, host, scheme, steps, control.steps)
        if found is not None:
            return found
    if base.technique in DNS_FAILURES:
        return SecondOpinion(
            base.verdict,
            base.technique,
            base.vendor,
            f"{text}; the control outside resolves and loads {host}, so the name exists.",
        )
    mine, theirs = final_page(steps), final_page(control.steps)
    if mine is not None and theirs is not None and mine.status is not None:
        page = compare_pages(mine, theirs)
        if base.technique == "http-status" and base.vendor is None and page.same:
            return SecondOpinion(
                "inconclusive",
                None,
                None,
                f"{host} answered {mine.status} here and the control gets the same page "
                f"({page.reason}): the service itself answers that way.",
            )
        if base.verdict == "accessible" and not page.same:
            forged = _forged_page(steps, scheme, mine, theirs)
            if forged is not None:
                return SecondOpinion(
                    "blocked",
                    "http-blockpage",
                    base.vendor,
                    f"{text}; but the page is not the one the control outside gets ({forged}): "
                    "a page that could be forged here and differs in every way is a filter's.",
                )
            return SecondOpinion(
                base.verdict,
                None,
                base.vendor,
                f"{text}; the control's page differs ({page.reason}).",
            )
    return SecondOpinion(
        base.verdict, base.technique, base.vendor, f"{text}; the control loads it too."
    )


def _forged_page(steps: Steps, scheme: str, mine: HttpStep, theirs: HttpStep) -> str | None:
    """``filter_explains``' reason for a page that could be forged here (plain HTTP, or TLS
    intercepted by a local CA) and is not one of the service's own odd pages."""
    intercepted = any(t.trusted_local is True and t.trusted_public is not True for t in steps.tls)
    if scheme != "http" and not intercepted:
        return None
    if lookalike(mine.status, mine.headers, mine.body, mine.title):
        return None
    return filter_explains(mine, theirs)


def _control_failed(
    base: SecondOpinion, text: str, host: str, cstage: str, why: str
) -> SecondOpinion:
    said = f"the control outside the network could not load {host} either ({cstage}: {why})"
    if base.technique in DNS_FAILURES:
        if cstage == "dns":
            return SecondOpinion(
                "unreachable", None, None, f"{text}; {said}: the name does not resolve anywhere."
            )
    elif base.technique in PATH_FAILURES or base.verdict in ("inconclusive", "unreachable"):
        return SecondOpinion(
            "unreachable", None, None, f"{text}; {said}: the service is down, not blocked here."
        )
    elif base.technique == "tls-mismatch" and cstage == "tls":
        return SecondOpinion(
            "unreachable", None, None, f"{text}; {said}: the certificate is broken everywhere."
        )
    return SecondOpinion(base.verdict, base.technique, base.vendor, f"{text}; {said}.")


def _dns_diverted(
    base: SecondOpinion,
    text: str,
    host: str,
    scheme: str,
    steps: Steps,
    control: Steps,
) -> SecondOpinion | None:
    dns = dns_consistency(steps, control, host)
    if dns.consistent or not dns.probe_addresses:
        return None
    mine_shown = ", ".join(sorted(dns.probe_addresses))
    theirs_shown = ", ".join(sorted(dns.control_addresses))
    lead = (
        f"The probe's resolver answered {host} with {mine_shown}, the control's with "
        f"{theirs_shown} ({dns.reason})"
    )
    if base.verdict == "blocked" and base.technique in DIVERTED:
        return SecondOpinion(
            "blocked",
            "dns-mismatch",
            base.vendor,
            f"{lead}; the probe's answer leads elsewhere ({text[:1].lower() + text[1:]}) while "
            "the control's serves the site: the DNS answer is tampered with.",
        )
    mine, theirs = final_page(steps), final_page(control)
    if base.verdict == "accessible" and scheme != "https" and mine and theirs:
        page = compare_pages(mine, theirs)
        if not page.same:
            return SecondOpinion(
                "blocked",
                "dns-mismatch",
                base.vendor,
                f"{lead}, and the page here differs from the control's ({page.reason}): "
                "the DNS answer leads to another server.",
            )
    return None
