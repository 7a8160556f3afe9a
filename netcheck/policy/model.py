"""The declared policy: what an agency says its networks must let staff reach.

In: nothing (these are the shapes). Out: frozen pydantic models that ``loader.py`` fills from a
YAML file, ``decide.py`` evaluates, and ``schema.json`` beside this file is generated from
(``python -m netcheck.policy``; a test fails when the committed schema is stale).

A rule matches a request when every criterion it names matches (AND across keys) and, within a
key, any one value matches (OR). Rules are ordered: the first rule that matches and whose
``networks``/``groups`` scope includes the request decides; otherwise ``default`` does.
Validators here raise ``ValueError`` so that pydantic reports them at the field's position, and
the loader turns that position into a file line.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from netcheck.models import FUNCTIONS, Frozen
from netcheck.netaddr import host_key

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
    return None


def _check_regex(value: str) -> str:
    from netcheck.policy.regex import regex_problem

    problem = regex_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: the id of a rule, network or group
PolicyId = Annotated[str, AfterValidator(_check_id)]

# checked one by one, so that an error names the item (url_regex[2]), not the list
UserPattern = Annotated[str, AfterValidator(_check_regex)]


class Match(Frozen):
    """What a rule applies to. Keys are ANDed; values within a key are ORed."""

    all: bool = Field(False, description="match every request (other keys must be absent)")
    services: list[str] = Field(default_factory=list, description="catalogue service ids")
    functions: list[str] = Field(default_factory=list, description="view, admin, media, ...")
    hosts: list[str] = Field(
        default_factory=list,
        description="example.com = that host; .example.com = it and its subdomains; "
        "*.example.com = subdomains only; other shell globs (* ? [..]) on the host name",
    )
    urls: list[str] = Field(
        default_factory=list, description="shell globs on the whole URL (https://x.com/@org*)"
    )
    categories: list[str] = Field(
        default_factory=list, description="target category codes (GRP, MMED, COMT, ...)"
    )
    host_regex: list[UserPattern] = Field(
        default_factory=list, description="regular expressions searched in the host name (RE2)"
    )
    url_regex: list[UserPattern] = Field(
        default_factory=list, description="regular expressions searched in the URL (RE2)"
    )

    @field_validator("functions")
    @classmethod
    def _functions(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in FUNCTIONS:
                raise ValueError(f"unknown function {value!r}; known: {', '.join(FUNCTIONS)}")
        return values

    @field_validator("services")
    @classmethod
    def _services(cls, values: list[str]) -> list[str]:
        from netcheck.targets.catalogue import known_services

        known = known_services()
        for value in values:
            if value not in known:
                raise ValueError(f"unknown service {value!r}; known: {', '.join(known)}")
        return values

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, values: list[str]) -> list[str]:
        for value in values:
            problem = host_pattern_problem(value)
            if problem:
                raise ValueError(problem)
        return [host_key(v) for v in values]

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        keys = [k for k in type(self).model_fields if k != "all" and getattr(self, k)]
        if self.all and keys:
            raise ValueError(f"'all: true' cannot be combined with {', '.join(keys)}")
        if not self.all and not keys:
            raise ValueError("a match needs at least one criterion (or 'all: true')")
        return self


class Requirements(Frozen):
    min_download_mbps: float | None = Field(None, gt=0, description="Mbit/s the path must carry")
    max_rtt_ms: float | None = Field(None, gt=0, description="round trip the path must stay under")


class Rule(Frozen):
    id: PolicyId = Field(description="short name shown in findings")
    description: str | None = None
    match: Match
    networks: list[str] = Field(
        default_factory=list, description="network ids this rule applies in (empty = all)"
    )
    groups: list[str] = Field(
        default_factory=list, description="user group ids this rule applies to (empty = all)"
    )
    action: Action
    requires: Requirements | None = None
    source: str | None = Field(None, description="file:line of the config this was imported from")


class Network(Frozen):
    id: PolicyId
    name: str | None = None
    labels: list[str] = Field(
        default_factory=list, description="--network labels that mean this network"
    )
    cidrs: list[str] = Field(
        default_factory=list, description="probe local addresses that mean this network"
    )

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_network(value, strict=True)))
            except ValueError as exc:
                raise ValueError(f"bad CIDR {value!r}: {exc}") from None
        return out


class Group(Frozen):
    id: PolicyId
    name: str | None = None
    description: str | None = None


class OfficialChannel(Frozen):
    """The agency's own account on a service: reachable wherever ``networks`` says."""

    service: str
    url: str | None = Field(None, description="the channel's URL")
    handle: str | None = Field(None, description="@handle, matched in URL paths")
    functions: list[str] = Field(
        default_factory=lambda: ["view", "official_channel"],
        description="functions that must be reachable",
    )
    networks: list[str] = Field(
        default_factory=list, description="network ids where it must be reachable (empty = all)"
    )
    description: str | None = None

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        return Match._services([value])[0]

    @field_validator("functions")
    @classmethod
    def _functions(cls, values: list[str]) -> list[str]:
        return Match._functions(values)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        from netcheck.targets.catalogue import url_problem

        if value is not None and (problem := url_problem(value)):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _named(self) -> OfficialChannel:
        if not self.url and not self.handle:
            raise ValueError("an official channel needs a url or a handle")
        return self


class Policy(Frozen):
    organisation: str
    version: str
    date: datetime.date
    description: str | None = None
    default: Action = Field(description="what applies when no rule matches")
    networks: list[Network] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    official_channels: list[OfficialChannel] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )


def json_schema() -> dict[str, object]:
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "netcheck policy"
    return schema
