"""Read a policy YAML file into a ``PolicyDoc``: the validated ``Policy`` plus where each part is.

In: a path (or text and a name). Out: ``PolicyDoc`` (policy, file, line of every rule and channel),
or ``errors.InputError`` naming file, line and field (``rules[2].match.hosts[0]``).
``problems`` returns every error at once for ``netcheck policy validate``.

The YAML is composed into a node tree (as ``catalogue.py`` does) so every value keeps its line;
the tree is turned into plain data with a map from each path to its line, ``shape.build`` checks
the data into the model's dataclasses, and each problem's path is looked up in that map. The
walk counts nodes, so YAML aliases cannot multiply a small file into an unbounded amount of work.

Limits, each reported at the line where it is crossed: ``textfile.read_text``'s (size, UTF-8, no
NUL or other binary byte), nesting ``MAX_DEPTH`` deep (checked while composing, so a file of ten
thousand ``[`` ends in an ``InputError``, never in Python's recursion limit), ``MAX_NODES``
values, ``MAX_FIELD_CHARS`` characters in one value, ``MAX_RULES`` rules and ``MAX_PATTERNS``
patterns that each cost a regular expression per request (``urls``, ``host_regex``,
``url_regex`` and shell-glob ``hosts``), so that checking a policy stays within seconds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from netcheck.errors import InputError
from netcheck.policy.match import suffix_kind
from netcheck.policy.model import Policy
from netcheck.policy.shape import Invalid, build
from netcheck.textfile import compose_yaml, read_text

MAX_NODES = 200_000
MAX_PATTERNS = 5_000
_PATTERN_KEYS = frozenset(("urls", "host_regex", "url_regex"))
MAX_DEPTH = 32
MAX_FIELD_CHARS = 8192
MAX_RULES = 10_000

Path_ = tuple[str | int, ...]
_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class PolicyDoc:
    """A validated policy and the lines its parts came from."""

    policy: Policy
    file: str
    rule_lines: tuple[int, ...]
    channel_lines: tuple[int, ...]
    lines: dict[Path_, int] = field(default_factory=dict, compare=False, repr=False)
    # what deciding builds once per policy (``decide.RuleIndex``), not part of the policy
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, path: Path_) -> int | None:
        return _line_for(self.lines, path)


def field_name(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_policy(path: str) -> PolicyDoc:
    """Load and validate a policy file; the first problem raises ``InputError``."""
    return load_policy_text(read_text(path, "policy file"), path)


def load_policy_text(text: str, file: str) -> PolicyDoc:
    doc, errors = _load(text, file)
    if errors:
        raise errors[0]
    assert doc is not None
    return doc


def problems(path: str) -> list[InputError]:
    """Every structural and reference problem of a policy file (empty when it is valid)."""
    return load_with_problems(path)[1]


def load_with_problems(path: str) -> tuple[PolicyDoc | None, list[InputError]]:
    """The policy (None when it does not load) and every problem found, in one reading."""
    try:
        text = read_text(path, "policy file")
    except InputError as exc:
        return None, [exc]
    return _load(text, path)


# --- the walk -----------------------------------------------------------------------------------


def _load(text: str, file: str) -> tuple[PolicyDoc | None, list[InputError]]:
    try:
        root = compose_yaml(text, file, max_depth=MAX_DEPTH + 2)
    except InputError as exc:
        return None, [exc]
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _TAG + "null"):
        return None, [InputError("the policy file is empty", file=file)]
    lines: dict[Path_, int] = {}
    try:
        data = _Data(file, lines).convert(root, (), 0)
    except InputError as exc:
        return None, [exc]
    if not isinstance(data, dict):
        return None, [InputError("expected a mapping at the top", file=file, line=1)]
    rules = data.get("rules")
    if isinstance(rules, list) and len(rules) > MAX_RULES:
        line = _line_for(lines, ("rules", MAX_RULES))
        message = f"more than {MAX_RULES} rules"
        return None, [InputError(message, file=file, line=line, field=f"rules[{MAX_RULES}]")]
    try:
        policy = build(Policy, data)
    except Invalid as exc:
        return None, [_problem_at(loc, message, file, lines) for loc, message in exc.problems]
    errors = _references(policy, file, lines)
    rule_lines = tuple(_line_for(lines, ("rules", i)) or 1 for i in range(len(policy.rules)))
    channel_lines = tuple(
        _line_for(lines, ("official_channels", i)) or 1
        for i in range(len(policy.official_channels))
    )
    return PolicyDoc(policy, file, rule_lines, channel_lines, lines), errors


# what YAML's own resolver gives plain values, lists and mappings
_PLAIN_TAGS = frozenset({"str", "int", "float", "bool", "null", "timestamp", "seq", "map"})


class _Data:
    def __init__(self, file: str, lines: dict[Path_, int]) -> None:
        self.file = file
        self.lines = lines
        self.count = 0
        self.patterns = 0

    def fail(self, node: yaml.Node, path: Path_, message: str) -> InputError:
        return InputError(
            message, file=self.file, line=node.start_mark.line + 1, field=field_name(path) or None
        )

    def convert(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, path, f"more than {MAX_NODES} values (YAML aliases?)")
        if depth > MAX_DEPTH:
            raise self.fail(node, path, "nested too deeply")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag.removeprefix(_TAG) not in _PLAIN_TAGS:
            # !!binary, !!set, !!omap, !!python/...: a policy (or notify config) holds words,
            # numbers, dates, lists and mappings; anything else is not what its author meant
            raise self.fail(node, path, f"YAML tag {node.tag!r} is not allowed: plain values only")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if len(node.value) > MAX_FIELD_CHARS:
            raise self.fail(node, path, f"a value longer than {MAX_FIELD_CHARS} characters")
        if len(path) > 1 and _costs_a_pattern(path[-2], node.value):
            self.patterns += 1
            if self.patterns > MAX_PATTERNS:
                message = f"more than {MAX_PATTERNS} url, regex and glob patterns in all"
                raise self.fail(node, path, message)
        try:
            constructor = yaml.constructor.SafeConstructor()
            return constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            if "integer string conversion" in str(exc):  # Python's int() digit limit
                raise self.fail(node, path, "a number with too many digits") from None
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            raise self.fail(node, path, f"bad value: {problem}") from None

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        # '<<: *defaults' (or a list of them) first: the mapping's own keys win, and name
        # their own lines; merged work is counted like any value (MAX_NODES)
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _TAG + "merge":
                for key, value in self._merged(value_node, path, depth).items():
                    merged.setdefault(key, value)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _TAG + "merge":
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _TAG + "str":
                raise self.fail(key_node, path, "keys must be words")
            key = str(key_node.value)
            if len(key) > 100:
                raise self.fail(key_node, path, "a key longer than 100 characters")
            if key in out:
                raise self.fail(key_node, (*path, key), f"duplicate key {key!r}")
            # an unknown key is reported at the key's own line
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self.convert(value_node, (*path, key), depth + 1)
        return {**merged, **out} if merged else out

    def _merged(self, node: yaml.Node, path: Path_, depth: int) -> dict[str, Any]:
        """What a merge key brings: one mapping, or a list of them (earlier ones win)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        found: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self.fail(node, path, "'<<' merges a mapping (*name) or a list of them")
            for key, value in self.convert(source, path, depth + 1).items():
                found.setdefault(key, value)
        return found


def _costs_a_pattern(key: str | int, value: str) -> bool:
    if key in _PATTERN_KEYS:
        return True
    return key == "hosts" and suffix_kind(value.strip().rstrip(".").lower()) is None


def _line_for(lines: dict[Path_, int], path: Sequence[str | int]) -> int | None:
    parts = tuple(path)
    while True:
        if parts in lines:
            return lines[parts]
        if not parts:
            return None
        parts = parts[:-1]


def _problem_at(loc: Path_, message: str, file: str, lines: dict[Path_, int]) -> InputError:
    # a missing key has no line of its own: it is named at the line of the mapping it is missing
    # from (``_line_for`` walks up the path)
    return InputError(message, file=file, line=_line_for(lines, loc), field=field_name(loc) or None)


def _located(err: Any, file: str, lines: dict[Path_, int]) -> InputError:
    """A pydantic error (``notify.config`` validates its YAML with pydantic over this walk)."""
    # keep the part of pydantic's location that is a path in the file; what follows it names
    # a validator or a union branch, not a place a person can find
    loc: Path_ = ()
    for part in err["loc"]:
        if not isinstance(part, str | int) or (*loc, part) not in lines:
            if err["type"] == "extra_forbidden" and isinstance(part, str):
                loc = (*loc, part)
            break
        loc = (*loc, part)
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
    elif err["type"] == "missing":
        missing = err["loc"][-1] if err["loc"] else "value"
        message = f"missing {missing!r}"
        loc = (*loc, missing) if loc != tuple(err["loc"]) else loc
    return InputError(message, file=file, line=_line_for(lines, loc), field=field_name(loc) or None)


def _references(policy: Policy, file: str, lines: dict[Path_, int]) -> list[InputError]:
    errors: list[InputError] = []

    def report(path: Path_, message: str) -> None:
        errors.append(
            InputError(message, file=file, line=_line_for(lines, path), field=field_name(path))
        )

    nets = [n.id for n in policy.networks]
    groups = [g.id for g in policy.groups]
    for path, message in _duplicate_ids(policy):
        report(path, message)
    labels: dict[str, str] = {}
    for i, net in enumerate(policy.networks):
        for j, label in enumerate([net.id, *net.labels]):
            other = labels.get(label.lower())
            if other is not None and other != net.id:
                report(("networks", i, "labels", j - 1), f"label {label!r} also names {other!r}")
            labels[label.lower()] = net.id
    for i, rule in enumerate(policy.rules):
        for j, name in enumerate(rule.networks):
            if name not in nets:
                report(("rules", i, "networks", j), _unknown("network", name, nets))
        for j, name in enumerate(rule.groups):
            if name not in groups:
                report(("rules", i, "groups", j), _unknown("group", name, groups))
    for i, channel in enumerate(policy.official_channels):
        for j, name in enumerate(channel.networks):
            if name not in nets:
                report(("official_channels", i, "networks", j), _unknown("network", name, nets))
    return errors


def _duplicate_ids(policy: Policy) -> list[tuple[Path_, str]]:
    found: list[tuple[Path_, str]] = []
    for kind, ids in (
        ("networks", [n.id for n in policy.networks]),
        ("groups", [g.id for g in policy.groups]),
        ("rules", [r.id for r in policy.rules]),
    ):
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            if ident in seen:
                found.append(((kind, i, "id"), f"duplicate id {ident!r}"))
            seen.add(ident)
    return found


def _unknown(kind: str, name: str, known: list[str]) -> str:
    listed = ", ".join(known) if known else f"none: define it under {kind}s"
    return f"unknown {kind} {name!r}; defined: {listed}"


def resolve_network(policy: Policy, label: str | None) -> str | None:
    """The id of the network a ``--network`` label or a local IP address names, else None."""
    if not label:
        return None
    wanted = label.strip().lower()
    for net in policy.networks:
        if wanted == net.id.lower() or wanted in (lab.lower() for lab in net.labels):
            return net.id
    try:
        address = ipaddress.ip_address(wanted)
    except ValueError:
        return None
    for net in policy.networks:
        if any(address in ipaddress.ip_network(cidr) for cidr in net.cidrs):
            return net.id
    return None


def require_network(doc: PolicyDoc, label: str | None) -> str | None:
    """``label`` when the policy knows it (as a network id, label or address), else an
    ``InputError`` naming ``--network`` and the networks the policy defines."""
    if label is None:
        return None
    if resolve_network(doc.policy, label) is None:
        known = ", ".join(n.id for n in doc.policy.networks) or "none defined"
        raise InputError(
            f"network {label!r} is not in the policy; known: {known}", field="--network"
        )
    return label


def require_group(doc: PolicyDoc, group: str | None) -> str | None:
    """``group`` when the policy defines it, else an ``InputError`` naming ``--group``."""
    if group is None or any(g.id == group for g in doc.policy.groups):
        return group
    known = ", ".join(g.id for g in doc.policy.groups) or "none defined"
    raise InputError(f"group {group!r} is not in the policy; known: {known}", field="--group")
