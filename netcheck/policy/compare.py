"""Comparison: measured results × declared policy → findings. Pure: no I/O.

In: ``Result`` records, a ``PolicyDoc``, the network (a ``--network`` label or address that
overrides each record's ``probe.network``), a user group, and the agency's real configs as
``EffectiveConfig`` objects. Out: one ``Finding`` per result (see ``netcheck.policy.findings``),
and the exit code ``netcheck check`` uses (1 when any self-blocking or unenforced block, else 0).

For a blocked target, the config line that most likely blocked it is looked for first among the
configs acting at the layer the technique points to (DNS techniques → RPZ and hosts files; proxy
denials and block pages → squid; TCP/TLS → squid too, as an agency's firewall often mirrors it),
then among the rest; the first config that blocks the URL is named.
"""

from __future__ import annotations

from collections.abc import Sequence

from netcheck.models import Result, service_figure
from netcheck.netaddr import split_url
from netcheck.policy.decide import Decision, decide, request_for_target
from netcheck.policy.findings import FAILING_KINDS, Finding, FindingKind
from netcheck.policy.importers import ConfigDecision, EffectiveConfig
from netcheck.policy.loader import PolicyDoc, resolve_network

_LAYERS_FOR = {
    "dns": ("dns", "proxy", "browser"),
    "proxy": ("proxy", "browser", "dns"),
    "http": ("proxy", "browser", "dns"),
    "tcp": ("proxy", "dns", "browser"),
    "tls": ("proxy", "dns", "browser"),
}


def check_results(
    results: Sequence[Result],
    policy: PolicyDoc,
    *,
    network: str | None = None,
    configs: Sequence[EffectiveConfig] = (),
    group: str | None = None,
) -> list[Finding]:
    return [compare_one(r, policy, network=network, configs=configs, group=group) for r in results]


def findings_exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.kind in FAILING_KINDS for f in findings) else 0


def compare_one(
    result: Result,
    policy: PolicyDoc,
    *,
    network: str | None = None,
    configs: Sequence[EffectiveConfig] = (),
    group: str | None = None,
) -> Finding:
    label = network or result.probe.network
    net = resolve_network(policy.policy, label)
    request = request_for_target(result.target, net, group)
    decision = decide(policy, request, official=result.target.official)
    kind, evidence = classify(result, decision)
    blamed = blame(result, configs) if result.verdict == "blocked" else None
    if blamed is not None:
        evidence += f" Most likely {blamed.how} ({blamed.where})."
    return Finding(
        kind=kind,
        target=result.target,
        network=net or label,
        rule=decision.rule or "default",
        rule_file=decision.file,
        rule_line=decision.line,
        decision=decision.action,
        official_channel=decision.official is not None,
        verdict=result.verdict,
        technique=result.technique,
        vendor=result.vendor,
        evidence=evidence,
        result_id=result.id,
        config_line=blamed.where if blamed else None,
        config_how=blamed.how if blamed else None,
        measured_at=result.measured_at,
        probe_id=result.probe.id,
    )


def classify(result: Result, decision: Decision) -> tuple[FindingKind, str]:
    """The finding kind and its one-sentence evidence."""
    verdict = result.verdict
    how = f"{verdict}" + (f" ({result.technique})" if result.technique else "")
    where = f"{decision.file}:{decision.line}" if decision.line else decision.file
    rule = f"rule {decision.rule!r} ({where})" if decision.rule else f"the default ({where})"
    if verdict in ("inconclusive", "unreachable"):
        return "inconclusive", f"Measured {how}: cannot tell whether the network blocks it."
    loads = verdict in ("accessible", "degraded")
    if decision.official is not None and not loads:
        ch = decision.official
        return "self-blocking", (
            f"Official {ch.channel.service} channel (line {ch.line}) must be reachable here "
            f"but was measured {how}; {rule} says {decision.action}."
        )
    if decision.official is not None:
        ch = decision.official
        return "compliant", f"Official {ch.channel.service} channel (line {ch.line}) loads ({how})."
    if decision.default:
        state = "loads" if loads else f"is {how}"
        return (
            "undeclared",
            f"No rule covers it; only {rule} ({decision.action}) does, and it {state}.",
        )
    if decision.action == "block":
        if loads:
            return "unenforced-block", f"{rule.capitalize()} blocks it, but it loads ({how})."
        return "compliant", f"{rule.capitalize()} blocks it and it is {how}."
    if not loads:
        return "self-blocking", f"{rule.capitalize()} allows it, but it was measured {how}."
    shortfall = _shortfall(result, decision)
    if shortfall:
        return (
            "bandwidth-shortfall",
            f"{rule.capitalize()} allows it and it loads, but {shortfall}.",
        )
    return "compliant", f"{rule.capitalize()} allows it and it loads ({how})."


def _shortfall(result: Result, decision: Decision) -> str | None:
    need = decision.requirements
    if need is None:
        return None
    bw = result.bandwidth
    figure = None if bw is None else service_figure(bw)
    if need.min_download_mbps is not None and figure is not None:
        # a measured figure (run --bandwidth) decides, throttled or merely slow
        if figure < need.min_download_mbps:
            return (
                f"its media host gave {figure:.2f} Mbit/s, below the "
                f"{need.min_download_mbps:g} Mbit/s the rule requires"
            )
    elif need.min_download_mbps is not None and (
        result.verdict == "degraded" or result.technique == "throttled"
    ):
        return f"it is throttled below the {need.min_download_mbps:g} Mbit/s the rule requires"
    if need.max_rtt_ms is not None:
        rtts = [s.runtime_ms for s in result.steps.tcp if s.failure is None and s.runtime_ms > 0]
        if rtts and min(rtts) > need.max_rtt_ms:
            return f"TCP connect took {min(rtts):.0f} ms, over the {need.max_rtt_ms:g} ms allowed"
    return None


def blame(result: Result, configs: Sequence[EffectiveConfig]) -> ConfigDecision | None:
    """The config line that most likely blocked ``result``'s URL, if any config blocks it."""
    if not configs:
        return None
    try:
        split_url(result.target.url)
    except ValueError:
        return None  # a record's URL that does not parse: no config can have decided on it
    technique = result.technique or ""
    family = "proxy" if technique.startswith("proxy") else technique.split("-", 1)[0]
    order = _LAYERS_FOR.get(family, ("proxy", "dns", "browser"))
    ranked = sorted(configs, key=lambda c: order.index(c.layer) if c.layer in order else 9)
    for config in ranked:
        answer = config.decide(result.target.url)
        if answer.action == "block":
            return answer
    return None
