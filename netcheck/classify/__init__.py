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

The stages live in ``network`` (DNS, TCP, TLS) and ``web`` (HTTP); ``evidence`` holds what
they share. This module runs them in order and adds the control vantage's and the bandwidth
test's evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netcheck import failures as f
from netcheck.classify.blockpage import (
    Fingerprints,
    load_fingerprints,
)
from netcheck.classify.evidence import (
    Classification,
    Ctx,
    is_intercepted,
    other_verdict,
)
from netcheck.classify.network import (
    cert_names_note,
    dns_stage,
    tcp_stage,
    tls_stage,
)
from netcheck.classify.web import http_stage
from netcheck.errors import InputError
from netcheck.models import (
    ControlEvidence,
    Result,
    Steps,
    Target,
    TcpStep,
)
from netcheck.netaddr import parse_cidr, url_host
from netcheck.output import parse_line

__all__ = ["Classification", "classify", "classify_jsonl", "classify_result"]


# --- entry points --------------------------------------------------------------------------------


def _fallback(ctx: Ctx) -> Classification:
    s = ctx.steps
    if any(t.failure is None for t in s.tls):
        return other_verdict("accessible", f"The TLS handshake with {ctx.host} succeeded.")
    if any(t.failure is None for t in s.tcp):
        return other_verdict("accessible", f"{ctx.host} accepted a TCP connection.")
    if s.dns or s.quic:
        return other_verdict("inconclusive", f"Only DNS or QUIC was measured for {ctx.host}.")
    return other_verdict("inconclusive", f"Nothing was measured for {ctx.host}.")


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


#: a step that timed out while the probe's own event loop lagged this much may have timed out
#: on the probe's machine (the answer arrived, nobody read it in time): not evidence of a block
BUSY_LAG_MS = 500.0
TIMEOUT_TECHNIQUES = frozenset({"dns-timeout", "tcp-timeout", "tls-timeout", "http-timeout"})


def _busy_probe(ctx: Ctx, c: Classification) -> Classification:
    """A timeout verdict reached while the probe's loop lagged past ``BUSY_LAG_MS``: say so."""
    lag = ctx.steps.loop_lag_ms
    if c.technique not in TIMEOUT_TECHNIQUES or lag is None or lag < BUSY_LAG_MS:
        return c
    return other_verdict(
        "inconclusive",
        f"{c.evidence.rstrip('.')}, but the probe's own machine was busy (its event loop lagged "
        f"{lag:.0f} ms, over {BUSY_LAG_MS:.0f} ms) while it waited, so the timeout may be the "
        "probe's, not the network's.",
    )


def _finish(ctx: Ctx, c: Classification) -> Classification:
    evidence = c.evidence.rstrip(".")
    if ctx.intercepted:
        issuer = next(
            (t.chain[0].issuer for t in ctx.steps.tls if is_intercepted(t) and t.chain), None
        )
        evidence += "; TLS is intercepted by a local CA" + (f" ({issuer})" if issuer else "")
    evidence += cert_names_note(ctx)
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
    the probe's evidence is then reviewed by ``netcheck.classify.control.second_opinion``.
    """
    proxies = [h.proxy for h in steps.http] + [t.proxy for t in steps.tls]
    proxy = next((p for p in proxies if p), None)
    ctx = Ctx(
        target=target,
        steps=steps,
        host=url_host(target.url),
        nets=tuple(parse_cidr(n) for n in allow_nets),
        fps=fingerprints or load_fingerprints(),
        intercepted=any(is_intercepted(t) for t in steps.tls),
        proxy=proxy,
    )
    for stage in (dns_stage, tcp_stage, tls_stage, http_stage):
        found = stage(ctx)
        if found is not None:
            break
    else:
        found = _fallback(ctx)
    found = _busy_probe(ctx, found)
    if control is not None:
        found = _with_control(ctx, found, control)
    return _finish(ctx, found)


def _with_control(ctx: Ctx, found: Classification, control: ControlEvidence) -> Classification:
    from netcheck.classify.control import SecondOpinion, second_opinion

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
    browser = result.browser
    if browser is not None:  # run --browser: what the page did in a real browser (issue 16)
        from netcheck.classify.browser import apply as with_browser

        c, browser = with_browser(
            c,
            result.target,
            browser,
            allow_nets=result.probe.allow_nets,
            fingerprints=fingerprints,
        )
    redone = result.model_copy(
        update={
            "verdict": c.verdict,
            "technique": c.technique,
            "vendor": c.vendor,
            "intercepted": c.intercepted,
            "evidence": c.evidence,
            "browser": browser,
        }
    )
    if result.bandwidth is None:
        return redone
    # a confirmed throttle (run --bandwidth) is re-applied from the record's own figures
    from netcheck.classify.throttling import reapply_throttling

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
        result = parse_line(line, path, number)  # as strictly as `netcheck classify` reads
        out.append(classify_result(result, fingerprints=fingerprints))
    return out
