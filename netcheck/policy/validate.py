"""``policy validate``: structural problems, dangling references and rules that can never match.

In: a policy file path. Out: a list of ``InputError`` (file, line, field, message); empty = valid.

A rule is shadowed when an earlier rule applies wherever it applies (same or wider network and
group scope) and matches everything it matches: the later rule can then never decide anything.
The containment test is conservative (see ``match.covers``), so a reported rule is truly dead.
"""

from __future__ import annotations

from netcheck.errors import InputError
from netcheck.policy.loader import PolicyDoc, load_policy_text, problems
from netcheck.policy.match import covers
from netcheck.policy.model import Match, Rule
from netcheck.textfile import read_text


def validate_file(path: str) -> list[InputError]:
    found = problems(path)
    if found:
        return found
    return shadowed(load_policy_text(read_text(path, "policy file"), path))


def shadowed(doc: PolicyDoc) -> list[InputError]:
    errors: list[InputError] = []
    rules = doc.policy.rules
    for j, later in enumerate(rules):
        for i in range(j):
            if rule_covers(rules[i], later):
                errors.append(
                    InputError(
                        f"rule {later.id!r} can never match: rule {rules[i].id!r} "
                        f"(line {doc.rule_lines[i]}) comes first and matches everything it does",
                        file=doc.file,
                        line=doc.rule_lines[j],
                        field=f"rules[{j}]",
                    )
                )
                break
    return errors


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
