"""The declared policy: what an agency says its networks must let staff reach.

In: nothing (these are the shapes). Out: frozen dataclasses that ``loader.py`` fills from a YAML
file through ``shape.build`` (which checks every field by its type hint and the checks named in
its metadata), ``decide.py`` evaluates, and ``schema.json`` beside this file is generated from
(``python -m netcheck.policy``; a test fails when the committed schema is stale). No pydantic:
``netcheck policy validate`` must start fast (bench/startup.py).

A rule matches a request when every criterion it names matches (AND across keys) and, within a
key, any one value matches (OR). Rules are ordered: the first rule that matches and whose
``networks``/``groups`` scope includes the request decides; otherwise ``default`` does.
The checks here raise ``ValueError`` so that ``shape`` reports them at the field's position, and
the loader turns that position into a file line.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from netcheck.netaddr import host_key, host_problem
from netcheck.policy import shape
from netcheck.target import FUNCTIONS

Action = Literal["allow", "block"]
ACTIONS: tuple[str, ...] = ("allow", "block")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
_HOST_PATTERN = re.compile(r"^[A-Za-z0-9*?\[\]!._-]+$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r} is not an id (letters, digits, - _ . :, at most 80)")
    return value


def host_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a host pattern, or None when it is one."""
    if not pattern or not _HOST_PATTERN.match(pattern):
        return f"{pattern!r} is not a host pattern (example.com, .example.com, *.example.com)"
    if pattern.strip(".*") == "" and pattern != "*":
        return f"{pattern!r} matches nothing useful; write '*' or use 'all: true'"
    if pattern.count("[") != pattern.count("]") or pattern.find("]") < pattern.find("["):
        return f"{pattern!r}: a '[' without its ']' (or the other way round)"
    # the name's own labels (a leading '.' means "and every subdomain"; labels holding a glob
    # stand for many): an empty label, one over 63 or broken punycode matches no real host
    labels = pattern.removeprefix(".").split(".")
    plain = ".".join("x" if any(c in label for c in "*?[]!") else label for label in labels)
    problem = host_problem(plain)
    return None if problem is None else f"{pattern!r}: {problem}"


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _check_regex(value: str) -> str:
    from netcheck.policy.regex import regex_problem

    if not value:
        raise ValueError("an empty pattern matches everything; write 'all: true' for that")
    problem = regex_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _known_functions(values: list[str]) -> list[str]:
    for value in values:
        if value not in FUNCTIONS:
            raise ValueError(f"unknown function {value!r}; known: {', '.join(FUNCTIONS)}")
    return values


def _known_services(values: list[str]) -> list[str]:
    from netcheck.targets.catalogue import known_services

    known = known_services()
    for value in values:
        if value not in known:
            raise ValueError(f"unknown service {value!r}; known: {', '.join(known)}")
    return values


def _host_patterns(values: list[str]) -> list[str]:
    for value in values:
        problem = host_pattern_problem(value)
        if problem:
            raise ValueError(problem)
    return [host_key(v) for v in values]


def _cidrs(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError as exc:
            raise ValueError(f"bad CIDR {value!r}: {exc}") from None
    return out


def _service(value: str) -> str:
    return _known_services([value])[0]


def _channel_url(value: str) -> str:
    from netcheck.targets.catalogue import url_problem

    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _version_text(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _about(
    description: str | None = None,
    *,
    check: Callable[[Any], Any] | None = None,
    each: Callable[[Any], Any] | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A field's metadata for ``shape``: its description and checks (see ``shape``)."""
    found = {"description": description, "check": check, "each": each, **more}
    return {key: value for key, value in found.items() if value is not None}


def _ids(description: str | None = None) -> dict[str, Any]:
    """The id of a rule, network or group."""
    return _about(description, check=_check_id)


def _words(description: str, **checks: Any) -> Any:
    """A list of text that defaults to empty."""
    return field(default_factory=list, metadata=_about(description, **checks))


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """What a rule applies to. Keys are ANDed; values within a key are ORed."""

    all: bool = field(
        default=False, metadata=_about("match every request (other keys must be absent)")
    )
    services: list[str] = _words("catalogue service ids", check=_known_services)
    functions: list[str] = _words("view, admin, media, ...", check=_known_functions)
    hosts: list[str] = _words(
        "example.com = that host; .example.com = it and its subdomains; "
        "*.example.com = subdomains only; other shell globs (* ? [..]) on the host name",
        check=_host_patterns,
    )
    urls: list[str] = _words("shell globs on the whole URL (https://x.com/@org*)")
    categories: list[str] = _words("target category codes (GRP, MMED, COMT, ...)")
    # checked one by one, so that an error names the item (url_regex[2]), not the list
    host_regex: list[str] = _words(
        "regular expressions searched in the host name (RE2)", each=_check_regex
    )
    url_regex: list[str] = _words(
        "regular expressions searched in the URL (RE2)", each=_check_regex
    )

    def _consistent(self) -> None:
        keys = [f.name for f in fields(self) if f.name != "all" and getattr(self, f.name)]
        if self.all and keys:
            raise ValueError(f"'all: true' cannot be combined with {', '.join(keys)}")
        if not self.all and not keys:
            raise ValueError("a match needs at least one criterion (or 'all: true')")


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirements:
    min_download_mbps: float | None = field(
        default=None, metadata=_about("Mbit/s the path must carry", gt=0)
    )
    max_rtt_ms: float | None = field(
        default=None, metadata=_about("round trip the path must stay under", gt=0)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str = field(metadata=_ids("short name shown in findings"))
    description: str | None = None
    match: Match
    networks: list[str] = _words("network ids this rule applies in (empty = all)")
    groups: list[str] = _words("user group ids this rule applies to (empty = all)")
    action: Action
    requires: Requirements | None = None
    source: str | None = field(
        default=None, metadata=_about("file:line of the config this was imported from")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    id: str = field(metadata=_ids())
    name: str | None = None
    labels: list[str] = _words("--network labels that mean this network")
    cidrs: list[str] = _words("probe local addresses that mean this network", check=_cidrs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    id: str = field(metadata=_ids())
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficialChannel:
    """The agency's own account on a service: reachable wherever ``networks`` says."""

    service: str = field(metadata=_about(check=_service))
    url: str | None = field(default=None, metadata=_about("the channel's URL", check=_channel_url))
    handle: str | None = field(default=None, metadata=_about("@handle, matched in URL paths"))
    functions: list[str] = field(
        default_factory=lambda: ["view", "official_channel"],
        metadata=_about("functions that must be reachable", check=_known_functions),
    )
    networks: list[str] = _words("network ids where it must be reachable (empty = all)")
    description: str | None = None

    def _consistent(self) -> None:
        if not self.url and not self.handle:
            raise ValueError("an official channel needs a url or a handle")


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    organisation: str = field(metadata=_about(check=_nonempty))
    version: str = field(metadata=_about(before=_version_text, check=_nonempty))
    date: datetime.date
    description: str | None = None
    default: Action = field(metadata=_about("what applies when no rule matches"))
    networks: list[Network] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    official_channels: list[OfficialChannel] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


def json_schema() -> dict[str, object]:
    schema = shape.json_schema(Policy)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "netcheck policy"
    return schema
