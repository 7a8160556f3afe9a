"""Targets: the built-in catalogue of services and the agency's own targets files.

In: the packaged ``netcheck/data/catalogue.yaml``; a targets file the user names, either YAML
(``targets: [{url, service, function, official?, category?, hosts_note?, note?, expect?}]``) or a
Citizen Lab test-list CSV (``url,category_code,category_description,date_added,source,notes``).
Out: validated, frozen ``models.Target`` lists; ``select`` and ``merge`` over them; the
live-ingest bitrate thresholds and per-service bandwidth hints.

Bad input raises ``errors.InputError`` naming file, line (1-based) and field (``targets[3].url``,
0-based index). YAML is composed into a node tree, not loaded into plain objects, so every value
still carries the line it came from; the walk below only ever descends into the positions the
schema defines, which also bounds the work a hostile file (anchors, deep nesting) can cause.
"""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import NoReturn
from urllib.parse import urlsplit

import yaml

from netcheck.errors import InputError
from netcheck.models import FUNCTIONS, Expect, Target
from netcheck.textfile import read_text

MAX_TARGETS = 20_000
MAX_LIST_ITEMS = 64  # per expect list; with MAX_TARGETS this bounds what YAML aliases can multiply
MAX_URL_LENGTH = 2048
BUILTIN_NAME = "netcheck/data/catalogue.yaml"
CSV_COLUMNS = ("url", "category_code", "category_description", "date_added", "source", "notes")

_ENTRY_KEYS = ("url", "service", "function", "official", "category", "hosts_note", "note", "expect")
_EXPECT_KEYS = tuple(Expect.model_fields)
_SERVICE_KEYS = ("name", "domains", "bandwidth")
_ALIASES = {"twitter": "x"}
# Second-level labels under which a country code registers names (gov.uk, com.au, go.jp...).
# Without a public suffix list this is an approximation, good enough to name a CSV row's service.
_SECOND_LEVEL = frozenset(
    "ac co com edu go gob gov govt gv mil ne net nhs nic or org police sch".split()
)

_TAG = "tag:yaml.org,2002:"
Node = yaml.Node
Pairs = dict[str, tuple[yaml.Node, yaml.Node]]  # key -> (key node, value node)


@dataclass(frozen=True)
class _Catalogue:
    targets: tuple[Target, ...]
    domains: dict[str, tuple[str, ...]]  # service -> registrable domains, catalogue order
    bandwidth: dict[str, str | None]
    thresholds: dict[str, dict[str, float]]


# --- public API ---------------------------------------------------------------------------------


def builtin_targets() -> list[Target]:
    """The packaged catalogue, validated once per process."""
    return list(_builtin().targets)


def known_services() -> list[str]:
    return list(_builtin().domains)


def live_ingest_thresholds() -> dict[str, dict[str, float]]:
    """Per service, video bitrate (Mbit/s) a live stream needs: ``{"youtube": {"1080p30": 10}}``."""
    return {service: dict(levels) for service, levels in _builtin().thresholds.items()}


def bandwidth_hints() -> dict[str, str | None]:
    """Per service, a URL of a large object for throughput tests, or None if none is honest."""
    return dict(_builtin().bandwidth)


def service_for_host(host: str) -> str:
    """The catalogue service a host belongs to, else its registrable domain (approximate)."""
    host = host.lower().rstrip(".")
    for service, domains in _builtin().domains.items():
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
    host = host.lower().rstrip(".")
    service = next(
        (s for s, ds in _builtin().domains.items() if any(_under(host, d) for d in ds)), None
    )
    if service is None:
        return None
    mine = [t for t in _builtin().targets if t.service == service]
    rank = {f: i for i, f in enumerate(_PAGE_FUNCTIONS)}
    same_host = sorted(
        (t for t in mine if (urlsplit(t.url).hostname or "") == host),
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
    if ext == ".csv" or (ext not in (".yaml", ".yml") and _looks_like_csv(text)):
        targets = _parse_csv(text, path)
    else:
        root = _compose(text, path)
        targets, _ = _parse_document(root, path, top_keys=("targets",))
    return targets


def select(
    targets: Sequence[Target], *, services: Sequence[str] = (), functions: Sequence[str] = ()
) -> list[Target]:
    """Targets of the given services and functions (empty = all). Names may be comma-separated."""
    wanted_services = _names(services)
    wanted_functions = _names(functions)
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


@functools.cache
def _builtin() -> _Catalogue:
    text = (resources.files("netcheck") / "data" / "catalogue.yaml").read_text(encoding="utf-8")
    walk = _Walk(BUILTIN_NAME)
    root = _compose(text, BUILTIN_NAME)
    top = ("version", "live_ingest_thresholds_mbps", "services", "targets")
    targets, pairs = _parse_document(root, BUILTIN_NAME, top_keys=top)
    domains: dict[str, tuple[str, ...]] = {}
    bandwidth: dict[str, str | None] = {}
    for service, (_, node) in walk.mapping(pairs["services"][1], "services", None).items():
        fields = walk.mapping(node, f"services.{service}", _SERVICE_KEYS)
        domains[service] = tuple(walk.strings(fields["domains"][1], f"services.{service}.domains"))
        hint = fields.get("bandwidth")
        bandwidth[service] = None
        if hint is not None and hint[1].tag != _TAG + "null":
            bandwidth[service] = _url(walk, hint[1], f"services.{service}.bandwidth")
    thresholds: dict[str, dict[str, float]] = {}
    table = walk.mapping(pairs["live_ingest_thresholds_mbps"][1], "live_ingest_thresholds_mbps")
    for service, (_, node) in table.items():
        levels = walk.mapping(node, f"live_ingest_thresholds_mbps.{service}")
        thresholds[service] = {
            level: walk.number(value, f"live_ingest_thresholds_mbps.{service}.{level}")
            for level, (_, value) in levels.items()
        }
    for i, target in enumerate(targets):
        if target.service not in domains:
            raise InputError(
                f"service {target.service!r} not under services",
                file=BUILTIN_NAME,
                field=f"targets[{i}].service",
            )
    return _Catalogue(tuple(targets), domains, bandwidth, thresholds)


# --- YAML ---------------------------------------------------------------------------------------


class _Walk:
    """Typed reads from a composed YAML node tree; every failure names the node's line."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: Node, field: str | None, message: str) -> NoReturn:
        raise InputError(message, file=self.file, line=node.start_mark.line + 1, field=field)

    def mapping(self, node: Node, field: str, allowed: Sequence[str] | None = None) -> Pairs:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, field, f"expected a mapping, got {_kind(node)}")
        pairs: Pairs = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _TAG + "str":
                self.fail(key_node, field, f"keys must be words, got {_kind(key_node)}")
            key = key_node.value
            if allowed is not None and key not in allowed:
                self.fail(
                    key_node,
                    f"{field}.{key}" if field else key,
                    f"unknown key {key!r}; allowed: {', '.join(allowed)}",
                )
            if key in pairs:
                self.fail(key_node, f"{field}.{key}" if field else key, f"duplicate key {key!r}")
            pairs[key] = (key_node, value_node)
        return pairs

    def sequence(self, node: Node, field: str) -> list[Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, field, f"expected a list, got {_kind(node)}")
        return list(node.value)

    def string(self, node: Node, field: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _TAG + "str":
            self.fail(node, field, f"expected text, got {_kind(node)}")
        value = str(node.value).strip()
        if not value:
            self.fail(node, field, "must not be empty")
        return value

    def strings(self, node: Node, field: str) -> list[str]:
        """A list of text; a single text is accepted as a list of one."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "str":
            return [self.string(node, field)]
        items = self.sequence(node, field)
        if len(items) > MAX_LIST_ITEMS:
            self.fail(node, field, f"more than {MAX_LIST_ITEMS} items")
        return [self.string(item, f"{field}[{i}]") for i, item in enumerate(items)]

    def boolean(self, node: Node, field: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _TAG + "bool":
            self.fail(node, field, f"expected true or false, got {_kind(node)}")
        value = yaml.constructor.SafeConstructor.bool_values.get(str(node.value).lower())
        if value is None:  # an explicit `!!bool maybe`
            self.fail(node, field, f"expected true or false, got {node.value!r}")
        return bool(value)

    def number(self, node: Node, field: str) -> float:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_TAG + "int", _TAG + "float"):
            self.fail(node, field, f"expected a number, got {_kind(node)}")
        try:
            return float(str(node.value).replace("_", ""))
        except ValueError:
            self.fail(node, field, f"expected a plain decimal number, got {node.value!r}")


def _kind(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = str(node.tag).removeprefix(_TAG)
    shown = str(node.value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return "nothing" if kind == "null" else f"{kind} {shown!r}"


def _compose(text: str, file: str) -> Node | None:
    try:
        # The pure-Python loader: deep nesting ends in RecursionError rather than in C recursion.
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # An error at end of stream sits on the line after the last newline: name the last line.
        last = max(1, len(text.splitlines()))
        line = min(mark.line + 1, last) if mark is not None else None
        raise InputError(
            f"invalid YAML: {exc.problem or exc.context or 'syntax error'}", file=file, line=line
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise InputError(
            f"invalid YAML: {exc.reason} {exc.character!r}", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=file) from None


def _parse_document(
    root: Node | None, file: str, *, top_keys: Sequence[str]
) -> tuple[list[Target], Pairs]:
    walk = _Walk(file)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _TAG + "null"):
        raise InputError("no targets: the file is empty", file=file)
    if not isinstance(root, yaml.MappingNode):
        walk.fail(root, None, f"expected a mapping with a 'targets' list, got {_kind(root)}")
    pairs = walk.mapping(root, "", top_keys)
    for key in top_keys:
        if key not in pairs:
            walk.fail(root, key, f"missing {key!r}")
    key_node, node = pairs["targets"]
    if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null":
        walk.fail(key_node, "targets", "no targets: the list is empty")
    entries = walk.sequence(node, "targets")
    if not entries:
        walk.fail(node, "targets", "no targets: the list is empty")
    if len(entries) > MAX_TARGETS:
        walk.fail(node, "targets", f"too many targets ({len(entries)} > {MAX_TARGETS})")
    return [_entry(walk, entry, f"targets[{i}]") for i, entry in enumerate(entries)], pairs


def _entry(walk: _Walk, node: Node, field: str) -> Target:
    pairs = walk.mapping(node, field, _ENTRY_KEYS)
    for required in ("url", "service", "function"):
        if required not in pairs:
            walk.fail(node, f"{field}.{required}", f"missing {required!r}: every target needs one")
    function = walk.string(pairs["function"][1], f"{field}.function").lower()
    if function not in FUNCTIONS:
        walk.fail(
            pairs["function"][1],
            f"{field}.function",
            f"unknown function {function!r}; known: {', '.join(FUNCTIONS)}",
        )
    service = walk.string(pairs["service"][1], f"{field}.service").lower()
    official = "official" in pairs and walk.boolean(pairs["official"][1], f"{field}.official")
    # `note` is read for its type only: it is for people reading the file, the Target has no slot.
    text = {
        key: walk.string(pairs[key][1], f"{field}.{key}")
        for key in ("category", "hosts_note", "note")
        if key in pairs and pairs[key][1].tag != _TAG + "null"
    }
    expect = Expect()
    if "expect" in pairs:
        found = walk.mapping(pairs["expect"][1], f"{field}.expect", _EXPECT_KEYS)
        lists = {k: walk.strings(v, f"{field}.expect.{k}") for k, (_, v) in found.items()}
        for i, name in enumerate(lists.get("cert_names", [])):
            if any(c.isspace() or c in "/:@" for c in name):
                walk.fail(
                    found["cert_names"][1],
                    f"{field}.expect.cert_names[{i}]",
                    f"not a DNS name: {name!r}",
                )
        expect = Expect(**lists)
    url = _url(walk, pairs["url"][1], f"{field}.url")
    return Target(
        url=url,
        service=service,
        function=function,
        official=official,
        category=text.get("category"),
        hosts_note=text.get("hosts_note"),
        expect=expect,
    )


def _url(walk: _Walk, node: Node, field: str) -> str:
    url = walk.string(node, field)
    problem = url_problem(url)
    if problem is not None:
        walk.fail(node, field, problem)
    return url


def url_problem(url: str) -> str | None:
    """Why ``url`` is not something the probe can fetch, or None if it is fine."""
    if len(url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"URL contains spaces or control characters: {url[:60]!r}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
        host = parts.hostname
    except ValueError as exc:
        return f"not a URL ({exc}): {url[:60]!r}"
    if not parts.scheme:
        return f"no scheme: write https://{url[:60]}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"scheme must be http or https, not {parts.scheme!r}"
    if not host or not all(c.isalnum() or c in "-._:" for c in host):
        return f"no valid host in {url[:60]!r}"
    return None


# --- CSV ----------------------------------------------------------------------------------------


def _looks_like_csv(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    cells = [cell.strip().strip('"').lower() for cell in first.split(",")]
    return len(cells) > 1 and "url" in cells


def _parse_csv(text: str, file: str) -> list[Target]:
    rows = csv.reader(io.StringIO(text, newline=""))
    targets: list[Target] = []
    try:
        header = next(rows, None)
        if header is None:
            raise InputError("no targets: the file is empty", file=file)
        columns = [name.strip().lower() for name in header]
        if "url" not in columns:
            raise InputError(
                f"no 'url' column; a Citizen Lab test list has: {','.join(CSV_COLUMNS)}",
                file=file,
                line=rows.line_num,
                field="url",
            )
        url_at = columns.index("url")
        category_at = columns.index("category_code") if "category_code" in columns else None
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            line = rows.line_num
            url = row[url_at].strip() if url_at < len(row) else ""
            problem = url_problem(url) if url else "missing url"
            if problem is not None:
                raise InputError(problem, file=file, line=line, field="url")
            if len(targets) >= MAX_TARGETS:
                raise InputError(f"too many targets (> {MAX_TARGETS})", file=file, line=line)
            category = ""
            if category_at is not None and category_at < len(row):
                category = row[category_at].strip().upper()
            host = urlsplit(url).hostname or ""
            targets.append(
                Target(
                    url=url,
                    service=service_for_host(host),
                    function="view",
                    category=category or None,
                    hosts_note=None,
                )
            )
    except csv.Error as exc:
        raise InputError(f"invalid CSV: {exc}", file=file, line=rows.line_num) from None
    if not targets:
        raise InputError("no targets: the CSV has no rows", file=file)
    return targets


# --- small helpers ------------------------------------------------------------------------------


def _names(values: Sequence[str]) -> list[str]:
    names = (part.strip().lower() for value in values for part in value.split(","))
    return [_ALIASES.get(name, name) for name in names if name]


def _url_key(url: str) -> str:
    """The URL with case, an empty path and a default port made uniform, for de-duplication."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    netloc = netloc.removesuffix({"https": ":443", "http": ":80"}.get(scheme, ":"))
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def _registrable_domain(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])
