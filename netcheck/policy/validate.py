"""``policy validate``: structural problems, dangling references and rules that can never match.

In: a policy file path. Out: a list of ``InputError`` (file, line, field, message); empty = valid.

A rule is shadowed when an earlier rule applies wherever it applies (same or wider network and
group scope) and matches everything it matches: the later rule can then never decide anything.
The containment test is conservative (see ``match.covers``), so a reported rule is truly dead.
An index of the earlier rules keeps this near-linear for imported policies of thousands of rules.
"""

from __future__ import annotations

from netcheck.errors import InputError
from netcheck.policy.loader import PolicyDoc, load_with_problems
from netcheck.policy.match import covers, suffix_kind
from netcheck.policy.model import Match, Rule


def validate_file(path: str) -> list[InputError]:
    doc, found = load_with_problems(path)
    if found or doc is None:
        return found
    return shadowed(doc)


def shadowed(doc: PolicyDoc) -> list[InputError]:
    rules = doc.policy.rules
    return [
        InputError(
            f"rule {rules[j].id!r} can never match: rule {rules[i].id!r} "
            f"(line {doc.rule_lines[i]}) comes first and matches everything it does",
            file=doc.file,
            line=doc.rule_lines[j],
            field=f"rules[{j}]",
        )
        for j, i in _shadows(rules)
    ]


def live_rules(rules: list[Rule]) -> tuple[list[Rule], list[tuple[Rule, Rule]]]:
    """``rules`` without the shadowed ones, and each shadowed rule with the one shadowing it."""
    dead = dict(_shadows(rules))
    kept = [rule for j, rule in enumerate(rules) if j not in dead]
    return kept, [(rules[j], rules[i]) for j, i in dead.items()]


def _shadows(rules: list[Rule]) -> list[tuple[int, int]]:
    """(later, earlier) for every rule an earlier rule covers: the first such earlier rule."""
    found: list[tuple[int, int]] = []
    index = _CoverIndex()
    for j, later in enumerate(rules):
        for i in index.candidates(later):
            if rule_covers(rules[i], later):
                found.append((j, i))
                break
        index.add(j, later)
    return found


_EXACT_SETS = ("services", "functions", "urls", "host_regex", "url_regex", "categories")


class _CoverIndex:
    """The earlier rules that could cover a later one, so that a policy of thousands of rules
    (an imported hosts file) is checked in about n log n, not n² ``rule_covers`` calls.

    Each rule is filed under one criterion that any rule it covers must share: ``all`` covers
    anything; a value of a set criterion (``match_covers`` wants the later rule's values to be a
    subset, so the later rule's first value finds it); or the domain of each plain host pattern
    (a host is covered only by patterns on itself or a parent domain). The rest are always
    candidates. ``rule_covers`` still decides; the index only skips rules that cannot cover.
    """

    def __init__(self) -> None:
        self.always: list[int] = []
        self.by_value: dict[tuple[str, str], list[int]] = {}
        self.by_domain: dict[str, list[int]] = {}
        self.any_host: list[int] = []

    def add(self, i: int, rule: Rule) -> None:
        match = rule.match
        if match.all:
            self.always.append(i)
            return
        for key in _EXACT_SETS:
            values = _values(match, key)
            if values:
                for value in set(values):
                    self.by_value.setdefault((key, value), []).append(i)
                return
        shapes = [suffix_kind(host) for host in match.hosts]
        if not match.hosts or any(shape is None for shape in shapes):
            self.always.append(i)
            return
        for shape in shapes:
            assert shape is not None
            if shape[0] == "any":
                self.any_host.append(i)
            else:
                self.by_domain.setdefault(shape[1], []).append(i)

    def candidates(self, rule: Rule) -> list[int]:
        match = rule.match
        found = set(self.always)
        for key in _EXACT_SETS:
            values = _values(match, key)
            if values:
                found.update(self.by_value.get((key, values[0]), ()))
        if match.hosts:
            found.update(self.any_host)
            shape = suffix_kind(match.hosts[0])
            if shape is not None and shape[0] != "any":
                labels = shape[1].split(".")
                for k in range(len(labels)):
                    found.update(self.by_domain.get(".".join(labels[k:]), ()))
        return sorted(found)


def _values(match: Match, key: str) -> list[str]:
    values: list[str] = getattr(match, key)
    return [v.lower() for v in values] if key == "categories" else values


def rule_covers(earlier: Rule, later: Rule) -> bool:
    """``earlier`` applies in every scope ``later`` does and matches all that ``later`` matches."""
    return (
        _scope_covers(earlier.networks, later.networks)
        and _scope_covers(earlier.groups, later.groups)
        and match_covers(earlier.match, later.match)
    )


def _scope_covers(outer: list[str], inner: list[str]) -> bool:
    if not outer:
        return True
    return bool(inner) and set(inner) <= set(outer)


def match_covers(outer: Match, inner: Match) -> bool:
    if outer.all:
        return True
    if inner.all:
        return False
    # every criterion the outer rule tests must be at least as narrow in the inner rule
    exact_sets = (
        (outer.services, inner.services),
        (outer.functions, inner.functions),
        (outer.urls, inner.urls),
        (outer.host_regex, inner.host_regex),
        (outer.url_regex, inner.url_regex),
    )
    for o, i in exact_sets:
        if o and not (i and set(i) <= set(o)):
            return False
    if outer.categories:
        lowered = {c.lower() for c in outer.categories}
        if not (inner.categories and {c.lower() for c in inner.categories} <= lowered):
            return False
    if outer.hosts:
        if not inner.hosts:
            return False
        if not all(any(covers(o, i) for o in outer.hosts) for i in inner.hosts):
            return False
    return True
