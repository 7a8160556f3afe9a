"""Matching semantics: dot domains, wildcards, globs, first match wins, shadowing (hypothesis)."""

from __future__ import annotations

import fnmatch
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from netcheck.policy.__main__ import SCHEMA_PATH, render
from netcheck.policy.decide import decide, request_for_url
from netcheck.policy.loader import load_policy_text
from netcheck.policy.match import covers, host_matches
from netcheck.policy.validate import rule_covers, shadowed

LABELS = st.sampled_from(["a", "b", "www", "studio", "x", "cdn"])
HOSTS = st.lists(LABELS, min_size=1, max_size=4).map(lambda ls: ".".join([*ls, "example", "com"]))
DOMAINS = st.lists(LABELS, min_size=0, max_size=2).map(lambda ls: ".".join([*ls, "example", "com"]))
PATTERNS = st.one_of(
    DOMAINS,
    DOMAINS.map(lambda d: "." + d),
    DOMAINS.map(lambda d: "*." + d),
    st.sampled_from(["*", "*cdn*", "www.*", "?.example.com", "[ab].example.com"]),
)


def _subdomain_of(host: str, domain: str) -> bool:
    return host.endswith("." + domain)


@given(HOSTS, DOMAINS)
def test_dot_domain_is_domain_and_subdomains(host: str, domain: str) -> None:
    assert host_matches("." + domain, host) == (host == domain or _subdomain_of(host, domain))


@given(HOSTS, DOMAINS)
def test_wildcard_is_subdomains_only(host: str, domain: str) -> None:
    assert host_matches("*." + domain, host) == _subdomain_of(host, domain)
    assert not host_matches("*." + domain, domain)


@given(HOSTS, DOMAINS)
def test_exact_is_exact_and_case_insensitive(host: str, domain: str) -> None:
    assert host_matches(domain.upper(), host + ".") == (host == domain)


@given(HOSTS, st.sampled_from(["*cdn*", "www.*", "?.example.com", "[ab].example.com"]))
def test_globs_are_shell_globs(host: str, pattern: str) -> None:
    assert host_matches(pattern, host) == fnmatch.fnmatchcase(host, pattern)


@given(PATTERNS, PATTERNS, st.lists(HOSTS, min_size=1, max_size=20))
def test_covers_is_sound(outer: str, inner: str, hosts: list[str]) -> None:
    if covers(outer, inner):
        for host in hosts:
            if host_matches(inner, host):
                assert host_matches(outer, host), (outer, inner, host)


def _policy(rules: list[tuple[str, str]]) -> str:
    lines = ["organisation: t", "version: 1", "date: 2026-01-01", "default: block", "rules:"]
    for i, (pattern, action) in enumerate(rules):
        lines += [
            f"  - id: r{i}",
            f"    match: {{hosts: [{json.dumps(pattern)}]}}",
            f"    action: {action}",
        ]
    return "\n".join(lines) + "\n"


RULES = st.lists(st.tuples(PATTERNS, st.sampled_from(["allow", "block"])), min_size=1, max_size=6)


@settings(max_examples=150)
@given(RULES, st.lists(HOSTS, min_size=1, max_size=15))
def test_first_match_wins_and_shadowing_agrees_with_brute_force(
    rules: list[tuple[str, str]], hosts: list[str]
) -> None:
    doc = load_policy_text(_policy(rules), "gen.yaml")
    dead = {int(e.field.split("[")[1].rstrip("]")) for e in shadowed(doc) if e.field}
    for host in hosts:
        decision = decide(doc, request_for_url(f"https://{host}/"))
        first = next((i for i, (p, _) in enumerate(rules) if host_matches(p, host)), None)
        if first is None:
            assert decision.default
            assert decision.action == "block"
        else:
            assert decision.rule == f"r{first}"
            assert decision.action == rules[first][1]
            assert decision.line == 6 + 3 * first
            assert first not in dead  # a rule reported as shadowed never decides


def test_shadowed_rule_is_reported_with_its_line() -> None:
    text = _policy([(".youtube.com", "block"), ("studio.youtube.com", "allow")])
    errors = shadowed(load_policy_text(text, "p.yaml"))
    assert [(e.file, e.line, e.field) for e in errors] == [("p.yaml", 9, "rules[1]")]
    assert "'r0'" in errors[0].message


def test_scope_matters_for_shadowing() -> None:
    text = """organisation: t
version: 1
date: 2026-01-01
default: block
networks: [{id: a}, {id: b}]
rules:
  - {id: only-a, match: {services: [youtube]}, networks: [a], action: block}
  - {id: all, match: {services: [youtube]}, action: allow}
  - {id: again-a, match: {services: [youtube], functions: [admin]}, networks: [a], action: allow}
"""
    doc = load_policy_text(text, "p.yaml")
    rules = doc.policy.rules
    assert not rule_covers(rules[0], rules[1])
    assert rule_covers(rules[1], rules[2])
    assert [e.field for e in shadowed(doc)] == ["rules[2]"]


def test_committed_schema_is_fresh() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run python -m netcheck.policy"


MATCHES = st.one_of(
    st.just({"all": True}),
    st.lists(PATTERNS, min_size=1, max_size=3).map(lambda hs: {"hosts": hs}),
    st.fixed_dictionaries(
        {"hosts": st.lists(PATTERNS, min_size=1, max_size=2)},
        optional={
            "functions": st.lists(st.sampled_from(["view", "admin"]), min_size=1, max_size=2),
            "categories": st.lists(st.sampled_from(["GRP", "grp", "MMED"]), min_size=1),
            "url_regex": st.lists(st.sampled_from(["^https://", "/watch"]), min_size=1),
        },
    ),
    st.lists(st.sampled_from(["https://*", "http://*/a*"]), min_size=1).map(lambda u: {"urls": u}),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(MATCHES, st.sampled_from([[], ["n1"], ["n1", "n2"]])), min_size=1, max_size=12
    )
)
def test_indexed_shadow_check_finds_what_comparing_every_pair_finds(
    rules: list[tuple[dict[str, object], list[str]]],
) -> None:
    policy = {
        "organisation": "o",
        "version": "1",
        "date": "2025-01-01",
        "default": "allow",
        "networks": [{"id": "n1"}, {"id": "n2"}],
        "rules": [
            {"id": f"r{i}", "match": match, "networks": nets, "action": "block"}
            for i, (match, nets) in enumerate(rules)
        ],
    }
    doc = load_policy_text(json.dumps(policy), "p.yaml")
    every_pair = [
        j
        for j, later in enumerate(doc.policy.rules)
        if any(rule_covers(doc.policy.rules[i], later) for i in range(j))
    ]
    assert [int(str(e.field)[6:-1]) for e in shadowed(doc)] == every_pair
