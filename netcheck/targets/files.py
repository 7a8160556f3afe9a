"""A targets file in YAML, read as a node tree so that every error names its line.

In: the text of a targets file (``targets: [{url, service, function, official?, category?,
hosts_note?, note?, expect?}]``) or of the packaged catalogue. Out: validated, frozen
``models.Target`` records, or ``errors.InputError`` naming file, line (1-based) and field
(``targets[3].url``, 0-based index).

YAML is composed into a node tree (``textfile.compose_yaml``: depth-capped, syntax errors at
their line), not loaded into plain objects, so every value still carries the line it came from;
the walk below only ever descends into the positions the schema defines, which also bounds the
work a hostile file (anchors, deep nesting) can cause. ``url_problem`` is the one check of a URL
the probe is asked to fetch, for YAML and CSV alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import fields
from typing import NoReturn
from urllib.parse import urlsplit

import yaml

from netcheck.errors import InputError
from netcheck.netaddr import host_problem
from netcheck.target import FUNCTIONS, Expect, Target
from netcheck.textfile import MAX_FILE_BYTES, compose_yaml

MAX_TARGETS = 20_000
MAX_LIST_ITEMS = 64  # per expect list; with MAX_TARGETS this bounds what YAML aliases can multiply
MAX_URL_LENGTH = 2048
MAX_TEXT_CHARS = 1024  # a service name, a category, a note: a line of words, not a document
#: text a file may hold once its aliases are expanded: twice the largest file without any
MAX_EXPANDED_CHARS = 2 * MAX_FILE_BYTES

_ENTRY_KEYS = ("url", "service", "function", "official", "category", "hosts_note", "note", "expect")
_EXPECT_KEYS = tuple(f.name for f in fields(Expect))
TAG = "tag:yaml.org,2002:"
Node = yaml.Node
Pairs = dict[str, tuple[yaml.Node, yaml.Node]]  # key -> (key node, value node)


def parse_targets(text: str, file: str) -> list[Target]:
    """A targets file's text → its targets."""
    targets, _ = parse_document(compose_yaml(text, file), file, top_keys=("targets",))
    return targets


class Walk:
    """Typed reads from a composed YAML node tree; every failure names the node's line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.chars = 0  # text read so far: YAML aliases can repeat a node without bound
        # the mappings '<<' merged so far (None while one is being read)
        self._merges: dict[tuple[int, tuple[str, ...] | None], Pairs | None] = {}

    def count_text(self, node: Node, value: str) -> None:
        self.chars += len(value)
        if self.chars > MAX_EXPANDED_CHARS:
            self.fail(
                node,
                None,
                f"the file's aliases (*name) repeat more than {MAX_EXPANDED_CHARS // 2**20} MiB "
                "of text: write the entries out",
            )

    def fail(self, node: Node, field: str | None, message: str) -> NoReturn:
        raise InputError(message, file=self.file, line=node.start_mark.line + 1, field=field)

    def mapping(self, node: Node, field: str, allowed: Sequence[str] | None = None) -> Pairs:
        """The mapping's keys, each with its key and value nodes. A merge key (``<<: *name``
        or ``<<: [*a, *b]``) brings in the keys of the mappings it names that the mapping does
        not set itself, as YAML 1.1 (and PyYAML) read it."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, field, f"expected a mapping, got {node_kind(node)}")
        pairs: Pairs = {}
        merged: Pairs = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == TAG + "merge":
                for source in self._merged(value_node, field):
                    for key, pair in self._merge_source(source, field, allowed).items():
                        merged.setdefault(key, pair)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != TAG + "str":
                self.fail(key_node, field, f"keys must be words, got {node_kind(key_node)}")
            key = key_node.value
            if odd_character(key) is not None:
                self.fail(key_node, field or None, f"key {key[:60]!r}: {odd_character(key)}")
            if allowed is not None and key not in allowed:
                self.fail(
                    key_node,
                    f"{field}.{key}" if field else key,
                    f"unknown key {key!r}; allowed: {', '.join(allowed)}",
                )
            if key in pairs:
                self.fail(key_node, f"{field}.{key}" if field else key, f"duplicate key {key!r}")
            pairs[key] = (key_node, value_node)
        return {**merged, **pairs} if merged else pairs

    def _merged(self, node: Node, field: str) -> list[Node]:
        sources = [node] if isinstance(node, yaml.MappingNode) else node.value
        if not isinstance(node.value, list) or not all(
            isinstance(source, yaml.MappingNode) for source in sources
        ):
            self.fail(node, field, "'<<' merges a mapping (*name) or a list of them ([*a, *b])")
        return list(sources)

    def _merge_source(self, node: Node, field: str, allowed: Sequence[str] | None) -> Pairs:
        """A merged mapping's keys, read once however many mappings merge it (aliases could
        otherwise make the work grow exponentially); a mapping that merges itself is refused."""
        key = (id(node), tuple(allowed) if allowed is not None else None)
        if key not in self._merges:
            self._merges[key] = None  # in progress
            self._merges[key] = self.mapping(node, field, allowed)
        found = self._merges[key]
        if found is None:
            self.fail(node, field, "the mapping merges itself ('<<' names its own anchor)")
        return found

    def sequence(self, node: Node, field: str) -> list[Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, field, f"expected a list, got {node_kind(node)}")
        return list(node.value)

    def string(self, node: Node, field: str, max_chars: int = MAX_TEXT_CHARS) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != TAG + "str":
            self.fail(node, field, f"expected text, got {node_kind(node)}")
        value = str(node.value).strip()
        self.count_text(node, value)
        if not value:
            self.fail(node, field, "must not be empty")
        if len(value) > max_chars:
            self.fail(node, field, f"longer than {max_chars} characters")
        if odd_character(value) is not None:
            self.fail(node, field, f"{odd_character(value)}: {value[:60]!r}")
        return value

    def strings(self, node: Node, field: str) -> list[str]:
        """A list of text; a single text is accepted as a list of one."""
        if isinstance(node, yaml.ScalarNode) and node.tag == TAG + "str":
            return [self.string(node, field)]
        items = self.sequence(node, field)
        if len(items) > MAX_LIST_ITEMS:
            self.fail(node, field, f"more than {MAX_LIST_ITEMS} items")
        return [self.string(item, f"{field}[{i}]") for i, item in enumerate(items)]

    def boolean(self, node: Node, field: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != TAG + "bool":
            self.fail(node, field, f"expected true or false, got {node_kind(node)}")
        value = yaml.constructor.SafeConstructor.bool_values.get(str(node.value).lower())
        if value is None:  # an explicit `!!bool maybe`
            self.fail(node, field, f"expected true or false, got {node.value!r}")
        return bool(value)

    def number(self, node: Node, field: str) -> float:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (TAG + "int", TAG + "float"):
            self.fail(node, field, f"expected a number, got {node_kind(node)}")
        try:
            return float(str(node.value).replace("_", ""))
        except ValueError:
            self.fail(node, field, f"expected a plain decimal number, got {node.value!r}")


#: control characters (C0, DEL, C1), lone surrogates, line and paragraph separators, and the
#: characters that reorder or hide text (bidirectional overrides and isolates, zero-width marks)
_ODD = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029"
    "\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)


def odd_character(text: str) -> str | None:
    """Why one-line text (a name, a note, a word a page must show) cannot be used as written:
    a control character (YAML's escapes, ``"\\0"`` or ``"\\n"``, let them past the file's
    own check for binary bytes, and they would reach the terminal and every report) or a mark
    that reorders or hides text. None when it is fine."""
    found = _ODD.search(text)
    if found is None:
        return None
    c = found.group()
    kind = "control" if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else "invisible"
    return f"holds the {kind} character U+{ord(c):04X}"


def node_kind(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = str(node.tag).removeprefix(TAG)
    shown = str(node.value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return "nothing" if kind == "null" else f"{kind} {shown!r}"


def parse_document(
    root: Node | None, file: str, *, top_keys: Sequence[str]
) -> tuple[list[Target], Pairs]:
    walk = Walk(file)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == TAG + "null"):
        raise InputError("no targets: the file is empty", file=file)
    if not isinstance(root, yaml.MappingNode):
        walk.fail(root, None, f"expected a mapping with a 'targets' list, got {node_kind(root)}")
    pairs = walk.mapping(root, "", top_keys)
    for key in top_keys:
        if key not in pairs:
            walk.fail(root, key, f"missing {key!r}")
    key_node, node = pairs["targets"]
    if isinstance(node, yaml.ScalarNode) and node.tag == TAG + "null":
        walk.fail(key_node, "targets", "no targets: the list is empty")
    entries = walk.sequence(node, "targets")
    if not entries:
        walk.fail(node, "targets", "no targets: the list is empty")
    if len(entries) > MAX_TARGETS:
        walk.fail(node, "targets", f"too many targets ({len(entries)} > {MAX_TARGETS})")
    return [_entry(walk, entry, f"targets[{i}]") for i, entry in enumerate(entries)], pairs


def _entry(walk: Walk, node: Node, field: str) -> Target:
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
        if key in pairs and pairs[key][1].tag != TAG + "null"
    }
    expect = Expect()
    if "expect" in pairs:
        found = walk.mapping(pairs["expect"][1], f"{field}.expect", _EXPECT_KEYS)
        lists = {k: walk.strings(v, f"{field}.expect.{k}") for k, (_, v) in found.items()}
        for i, name in enumerate(lists.get("cert_names", [])):
            # a name, or one wildcard label at the left ("*.example.org"): "*" or "a..b" would
            # match no certificate, and every page would look intercepted
            bare = name.removeprefix("*.")
            if any(c.isspace() or c in "/:@*" for c in bare) or host_problem(bare) is not None:
                walk.fail(
                    found["cert_names"][1],
                    f"{field}.expect.cert_names[{i}]",
                    f"not a DNS name (or *.name): {name!r}",
                )
        expect = Expect(**lists)
    url = url_value(walk, pairs["url"][1], f"{field}.url")
    return Target(
        url=url,
        service=service,
        function=function,
        official=official,
        category=text.get("category"),
        hosts_note=text.get("hosts_note"),
        expect=expect,
    )


def url_value(walk: Walk, node: Node, field: str) -> str:
    url = walk.string(node, field, MAX_URL_LENGTH)
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
    if parts.username is not None or parts.password is not None:
        return "a user name or password in the URL would be written into every record: remove it"
    if parts.port == 0:
        return f"port 0 cannot be reached: {url[:60]!r}"
    problem = host_problem(host)
    return None if problem is None else f"{problem}: {url[:60]!r}"
