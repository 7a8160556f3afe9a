"""Targets: the built-in catalogue of services, and the agency's own targets files.

In: the packaged ``netcheck/data/catalogue.yaml``; a targets file the user names, either YAML
(``targets: [{url, service, function, official?, category?, hosts_note?, note?, expect?}]``,
read by ``targets.files``) or a Citizen Lab test-list CSV
(``url,category_code,category_description,date_added,source,notes``, read by
``targets.citizenlab``). Out: validated, frozen ``models.Target`` lists; ``select`` and ``merge``
over them; the live-ingest bitrate thresholds, per-service bandwidth hints and expectations.

Bad input raises ``errors.InputError`` naming file, line (1-based) and field (``targets[3].url``,
0-based index). A targets file is text (``textfile``: at most 4 MiB, UTF-8, no binary bytes),
its YAML nested at most ``textfile.MAX_YAML_DEPTH`` deep.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from netcheck.errors import InputError
from netcheck.netaddr import host_key, is_ip_literal, url_host
from netcheck.target import FUNCTIONS, Expect, Target
from netcheck.targets.citizenlab import CSV_COLUMNS, looks_like_csv, parse_csv
from netcheck.targets.files import (
    MAX_LIST_ITEMS,
    MAX_TARGETS,
    MAX_URL_LENGTH,
    TAG,
    Node,
    Pairs,
    Walk,
    parse_document,
    parse_targets,
    url_problem,
    url_value,
)
from netcheck.textfile import compose_yaml, read_text

__all__ = [
    "CSV_COLUMNS",
    "MAX_LIST_ITEMS",
    "MAX_TARGETS",
    "MAX_URL_LENGTH",
    "bandwidth_hints",
    "builtin_targets",
    "known_services",
    "live_ingest_thresholds",
    "load_targets_file",
    "merge",
    "select",
    "service_expect",
    "service_for_host",
    "url_problem",
]

BUILTIN_NAME = "netcheck/data/catalogue.yaml"
_SERVICE_KEYS = ("name", "domains", "bandwidth")
_ALIASES = {"twitter": "x"}
# Second-level labels under which a country code registers names (gov.uk, com.au, go.jp...).
# Without a public suffix list this is an approximation, good enough to name a CSV row's service.
_SECOND_LEVEL = frozenset(
    ("ac", "co", "com", "edu", "go", "gob", "gov", "govt", "gv", "mil", "ne", "net", "nhs")
    + ("nic", "or", "org", "police", "sch")
)


@dataclass(frozen=True)
class _Catalogue:
    targets: tuple[Target, ...]
    thresholds: dict[str, dict[str, float]]


# --- public API ---------------------------------------------------------------------------------


def builtin_targets() -> list[Target]:
    """The packaged catalogue, validated once per process."""
    return list(_builtin().targets)


def known_services() -> list[str]:
    return list(_services().domains)


def live_ingest_thresholds() -> dict[str, dict[str, float]]:
    """Per service, video bitrate (Mbit/s) a live stream needs: ``{"youtube": {"1080p30": 10}}``."""
    return {service: dict(levels) for service, levels in _builtin().thresholds.items()}


def bandwidth_hints() -> dict[str, str | None]:
    """Per service, a URL of a large object for throughput tests, or None if none is honest."""
    return dict(_services().bandwidth)


def service_for_host(host: str) -> str:
    """The catalogue service a host belongs to, else its registrable domain (approximate)."""
    host = host_key(host)
    for service, domains in _services().domains.items():
        if any(host == d or host.endswith("." + d) for d in domains):
            return service
    return _registrable_domain(host)


#: which catalogue entry of a host speaks for a page the catalogue does not list, best first
_PAGE_FUNCTIONS = ("official_channel", "view", "login", "admin")


@functools.cache
def service_expect(host: str) -> Expect | None:
    """What a page on ``host`` must show when its target names no expectations of its own.

    A host of a catalogue service inherits the service's expectations: the catalogue entry for
    the same host (an agency's channel on www.youtube.com is checked like the catalogue's
    YouTube pages), else the brand words of the service's view pages with no certificate names
    (the catalogue cannot say which certificate an unlisted host presents). None for a host
    outside the catalogue.
    """
    host = host_key(host)
    service = next(
        (s for s, ds in _services().domains.items() if any(_under(host, d) for d in ds)), None
    )
    if service is None:
        return None
    mine = [t for t in _builtin().targets if t.service == service]
    rank = {f: i for i, f in enumerate(_PAGE_FUNCTIONS)}
    same_host = sorted(
        (t for t in mine if url_host(t.url) == host),
        key=lambda t: rank.get(t.function, len(rank)),
    )
    if same_host:
        return same_host[0].expect
    views = [t for t in mine if t.function == "view"]
    return Expect(
        title_contains=list(dict.fromkeys(w for t in views for w in t.expect.title_contains)),
        body_contains=list(dict.fromkeys(w for t in views for w in t.expect.body_contains)),
    )


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def load_targets_file(path: str) -> list[Target]:
    """Read a YAML targets file or a Citizen Lab CSV (by extension, else by content)."""
    text = read_text(path, "targets file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv" or (ext not in (".yaml", ".yml") and looks_like_csv(text)):
        return parse_csv(text, path, service_for_host)
    return parse_targets(text, path)


def select(
    targets: Sequence[Target], *, services: Sequence[str] = (), functions: Sequence[str] = ()
) -> list[Target]:
    """Targets of the given services and functions (empty = all). Names may be comma-separated."""
    wanted_services = _names(services, "--service")
    wanted_functions = _names(functions, "--function")
    known = list(dict.fromkeys([*known_services(), *(t.service for t in targets)]))
    for name in wanted_services:
        if name not in known:
            raise InputError(
                f"unknown service {name!r}; known: {', '.join(known)}", field="--service"
            )
    for name in wanted_functions:
        if name not in FUNCTIONS:
            raise InputError(
                f"unknown function {name!r}; known: {', '.join(FUNCTIONS)}", field="--function"
            )
    return [
        t
        for t in targets
        if (not wanted_services or t.service in wanted_services)
        and (not wanted_functions or t.function in wanted_functions)
    ]


def merge(builtin: Iterable[Target], extra: Iterable[Target]) -> list[Target]:
    """Built-in targets plus the agency's, one per (url, function); a later entry replaces an
    earlier one in place, so an agency entry overrides the catalogue's (e.g. sets ``official``)."""
    merged: dict[tuple[str, str], Target] = {}
    for target in [*builtin, *extra]:
        merged[(_url_key(target.url), target.function)] = target
    return list(merged.values())


# --- the packaged catalogue ---------------------------------------------------------------------


_TOP_KEYS = ("version", "live_ingest_thresholds_mbps", "services", "targets")


@functools.cache
def _document() -> tuple[Node, Pairs]:
    """The packaged catalogue's node tree and its top-level keys, composed once per process.

    libyaml composes it (when PyYAML has it), twice as fast as ``compose_yaml``, whose
    Python composer caps the depth of a user's file: this file is ours (checked by
    tests/targets) and its nodes carry their lines either way."""
    import yaml

    path = Path(__file__).resolve().parent.parent / "data" / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", None)
    root = yaml.compose(text, Loader=loader) if loader else compose_yaml(text, BUILTIN_NAME)
    if root is None:
        raise InputError("the catalogue is empty", file=BUILTIN_NAME)
    pairs = Walk(BUILTIN_NAME).mapping(root, "", _TOP_KEYS)
    return root, pairs


@dataclass(frozen=True)
class _Services:
    domains: dict[str, tuple[str, ...]]  # service -> registrable domains, catalogue order
    bandwidth: dict[str, str | None]


@functools.cache
def _services() -> _Services:
    """The catalogue's services alone (``known_services``, what ``policy validate`` needs),
    without reading its targets."""
    walk = Walk(BUILTIN_NAME)
    domains: dict[str, tuple[str, ...]] = {}
    bandwidth: dict[str, str | None] = {}
    root, pairs = _document()
    if "services" not in pairs:
        walk.fail(root, "services", "missing 'services'")
    for service, (_, node) in walk.mapping(pairs["services"][1], "services", None).items():
        fields = walk.mapping(node, f"services.{service}", _SERVICE_KEYS)
        domains[service] = tuple(walk.strings(fields["domains"][1], f"services.{service}.domains"))
        hint = fields.get("bandwidth")
        bandwidth[service] = None
        if hint is not None and hint[1].tag != TAG + "null":
            bandwidth[service] = url_value(walk, hint[1], f"services.{service}.bandwidth")
    return _Services(domains, bandwidth)


@functools.cache
def _builtin() -> _Catalogue:
    walk = Walk(BUILTIN_NAME)
    services = _services()
    targets, pairs = parse_document(_document()[0], BUILTIN_NAME, top_keys=_TOP_KEYS)
    thresholds: dict[str, dict[str, float]] = {}
    table = walk.mapping(pairs["live_ingest_thresholds_mbps"][1], "live_ingest_thresholds_mbps")
    for service, (_, node) in table.items():
        levels = walk.mapping(node, f"live_ingest_thresholds_mbps.{service}")
        thresholds[service] = {
            level: walk.number(value, f"live_ingest_thresholds_mbps.{service}.{level}")
            for level, (_, value) in levels.items()
        }
    for i, target in enumerate(targets):
        if target.service not in services.domains:
            raise InputError(
                f"service {target.service!r} not under services",
                file=BUILTIN_NAME,
                field=f"targets[{i}].service",
            )
    return _Catalogue(tuple(targets), thresholds)


# --- small helpers ------------------------------------------------------------------------------


def _names(values: Sequence[str], flag: str) -> list[str]:
    """The names of repeated, comma-separated flag values; an empty one is refused (``--service
    ""`` from an unset shell variable would otherwise select everything)."""
    names: list[str] = []
    for value in values:
        given = [part.strip().lower() for part in value.split(",") if part.strip()]
        if not given:
            message = f"{value!r} names nothing; give a name, or leave the flag out for all"
            raise InputError(message, field=flag)
        names += given
    return [_ALIASES.get(name, name) for name in names]


def _url_key(url: str) -> str:
    """The URL with case, an empty path and a default port made uniform, for de-duplication."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    netloc = netloc.removesuffix({"https": ":443", "http": ":80"}.get(scheme, ":"))
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def _registrable_domain(host: str) -> str:
    if is_ip_literal(host):
        return host
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])
