"""First-match-wins evaluation of a policy for one request.

In: a ``PolicyDoc`` and a request (URL plus what is known of it: service, function, category,
network label or local address, user group). Out: a ``Decision`` naming the action, the rule
that decided (id, file, line, requirements) or that only the default covered it, and the
official channel that says the URL must be reachable there, if any.

When the caller does not know the service, function or category of a URL (``policy explain``),
``request_for_url`` takes them from the built-in catalogue: the catalogue target with the same
URL, else one on the same host, else the host's service and function ``view``.

``RuleIndex`` (built once per policy) keeps ``decide`` from testing every rule of an imported
policy of 10,000 host rules against every result: rules whose hosts are plain names are filed
under their domains, and a request meets only those filed under a suffix of its host, plus the
rules without such a criterion, still in policy order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from netcheck.netaddr import host_key, url_host
from netcheck.policy.loader import PolicyDoc, resolve_network
from netcheck.policy.match import HostSet, url_matches
from netcheck.policy.model import Action, Match, OfficialChannel, Requirements, Rule
from netcheck.policy.regex import compile_regex
from netcheck.target import Target
from netcheck.targets import catalogue


@dataclass(frozen=True)
class Request:
    url: str
    host: str
    service: str
    function: str
    category: str | None = None
    network: str | None = None  # the policy's network id, once resolved
    group: str | None = None


@dataclass(frozen=True)
class ChannelRef:
    index: int
    line: int
    channel: OfficialChannel


@dataclass(frozen=True)
class Decision:
    action: Action
    rule: str | None  # rule id; None when the default decided
    file: str
    line: int | None
    requirements: Requirements | None
    default: bool
    network: str | None
    official: ChannelRef | None = None  # an official channel that must be reachable here
    source: str | None = None  # the imported config line the rule came from

    @property
    def must_reach(self) -> bool:
        return self.action == "allow" or self.official is not None

    def as_json(self) -> dict[str, object]:
        return {
            "decision": self.action,
            "rule": self.rule or "default",
            "file": self.file,
            "line": self.line,
            "default": self.default,
            "network": self.network,
            "requirements": asdict(self.requirements) if self.requirements else None,
            "official_channel": (
                {
                    "service": self.official.channel.service,
                    "url": self.official.channel.url,
                    "handle": self.official.channel.handle,
                    "line": self.official.line,
                }
                if self.official
                else None
            ),
            "source": self.source,
        }


def request_for_url(
    url: str,
    *,
    service: str | None = None,
    function: str | None = None,
    category: str | None = None,
    network: str | None = None,
    group: str | None = None,
) -> Request:
    host = url_host(url)
    known = _catalogue_match(url, host)
    return Request(
        url=url,
        host=host,
        service=service or (known.service if known else catalogue.service_for_host(host)),
        function=function or (known.function if known else "view"),
        category=category or (known.category if known else None),
        network=network,
        group=group,
    )


def request_for_target(target: Target, network: str | None, group: str | None = None) -> Request:
    return Request(
        url=target.url,
        host=url_host(target.url),
        service=target.service,
        function=target.function,
        category=target.category,
        network=network,
        group=group,
    )


def decide(doc: PolicyDoc, request: Request, *, official: bool = False) -> Decision:
    """The rule that decides ``request`` (first match in scope), else the default.

    ``official`` says the target is marked as the agency's own channel (``official: true`` in a
    targets file), which ties it to the policy's channel for that service even by another URL.
    """
    policy = doc.policy
    channel = official_channel(doc, request, official=official)
    rules = RuleIndex.of(doc)
    for index in rules.candidates(request.host):
        rule = policy.rules[index]
        if (
            in_scope(rule.networks, request.network)
            and in_scope(rule.groups, request.group)
            and rule_matches(rule.match, request, rules.hosts[index])
        ):
            return Decision(
                action=rule.action,
                rule=rule.id,
                file=doc.file,
                line=doc.rule_lines[index],
                requirements=rule.requires,
                default=False,
                network=request.network,
                official=channel,
                source=rule.source,
            )
    return Decision(
        action=policy.default,
        rule=None,
        file=doc.file,
        line=doc.line_of(("default",)),
        requirements=None,
        default=True,
        network=request.network,
        official=channel,
    )


def decide_url(
    doc: PolicyDoc, url: str, *, network: str | None = None, **known: str | None
) -> Decision:
    """``decide`` for a bare URL, with a network label or address resolved against the policy."""
    net = resolve_network(doc.policy, network)
    return decide(doc, request_for_url(url, network=net, **known))


def in_scope(scope: list[str], value: str | None) -> bool:
    return not scope or (value is not None and value in scope)


def rule_matches(match: Match, request: Request, hosts: HostSet | None = None) -> bool:
    """Every criterion of ``match`` holds for ``request`` (``hosts``: ``match.hosts`` as a
    ``HostSet``, when the caller has made it already)."""
    if match.all:
        return True
    if match.hosts and not (hosts or HostSet(match.hosts)).matches(request.host):
        return False
    checks = (
        (match.services, lambda v: v == request.service),
        (match.functions, lambda v: v == request.function),
        (match.categories, lambda v: v.lower() == (request.category or "").lower()),
        (match.urls, lambda v: url_matches(v, request.url)),
        (match.host_regex, lambda v: compile_regex(v).search(request.host)),
        (match.url_regex, lambda v: compile_regex(v).search(request.url)),
    )
    return all(any(test(v) for v in values) for values, test in checks if values)


class RuleIndex:
    """A policy's rules filed by the domains their ``hosts`` name (see the module docstring)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.hosts: list[HostSet | None] = []
        self.always: list[int] = []
        self.by_domain: dict[str, list[int]] = {}
        for i, rule in enumerate(rules):
            hosts = HostSet(rule.match.hosts) if rule.match.hosts else None
            self.hosts.append(hosts)
            domains = hosts.domains() if hosts is not None else set()
            if not domains:
                self.always.append(i)
            for domain in domains:
                self.by_domain.setdefault(domain, []).append(i)

    @classmethod
    def of(cls, doc: PolicyDoc) -> RuleIndex:
        index = doc.cache.get("rules")
        if not isinstance(index, RuleIndex):
            index = doc.cache["rules"] = cls(doc.policy.rules)
        return index

    def candidates(self, host: str) -> list[int]:
        """The rules that may match a request for ``host``, in policy order."""
        found = set(self.always)
        labels = host_key(host).split(".")
        for k in range(len(labels)):
            found.update(self.by_domain.get(".".join(labels[k:]), ()))
        return sorted(found)


def official_channel(
    doc: PolicyDoc, request: Request, *, official: bool = False
) -> ChannelRef | None:
    """The official channel ``request`` reaches, if the policy says it must be reachable there."""
    fallback: ChannelRef | None = None
    for index, channel in enumerate(doc.policy.official_channels):
        if not in_scope(channel.networks, request.network):
            continue
        if request.function not in channel.functions:
            continue
        ref = ChannelRef(index, doc.channel_lines[index], channel)
        if _channel_url_matches(channel, request.url):
            return ref
        if official and fallback is None and channel.service == request.service:
            fallback = ref
    return fallback


def _channel_url_matches(channel: OfficialChannel, url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = _bare(host_key(parts.hostname or ""))
    path = parts.path.rstrip("/").lower()
    if channel.url:
        want = urlsplit(channel.url)
        want_path = want.path.rstrip("/").lower()
        if _bare(host_key(want.hostname or "")) == host and (
            path == want_path or path.startswith(want_path + "/")
        ):
            return True
    if channel.handle:
        handle = channel.handle.lower()
        service_hosts = {_bare(url_host(t.url)) for t in _targets_of(channel.service)}
        segments = [s for s in path.split("/") if s]
        return host in service_hosts and handle.lstrip("@") in (s.lstrip("@") for s in segments)
    return False


def _bare(host: str) -> str:
    for prefix in ("www.", "m.", "web.", "mobile."):
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def _targets_of(service: str) -> list[Target]:
    return [t for t in catalogue.builtin_targets() if t.service == service]


def _catalogue_match(url: str, host: str) -> Target | None:
    targets = catalogue.builtin_targets()
    key = url.rstrip("/").lower()
    for target in targets:
        if target.url.rstrip("/").lower() == key:
            return target
    for target in targets:
        if url_host(target.url) == host:
            return target
    return None
