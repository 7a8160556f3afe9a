"""Vendor fingerprints: the shipped set and users' files, loaded into ``Fingerprints``.

In: ``netcheck/data/fingerprints.yaml`` and any ``--fingerprints FILE`` in netcheck's YAML format or
OONI's ``fingerprints_http.csv`` / ``fingerprints_dns.csv`` format. Out: ``Fingerprints`` (HTTP and
DNS entries) that ``blockpage`` matches, or an ``InputError`` naming file, line and field. Pure.

A user's file is input like any other, and limits keep a wrong or hostile one from costing more
than a clear error:
- at most ``MAX_FILE_BYTES`` (refused from its size before reading; OONI's own files are about
  50 KiB) and ``MAX_FINGERPRINTS`` entries; a CSV is read a line at a time (``textfile``), never
  whole, and a line over ``MAX_LINE_CHARS`` is refused naming it;
- text only: UTF-8, no NUL or other binary bytes; a quoted CSV field must close on its own line
  (an unterminated quote would otherwise swallow the rows after it);
- YAML nested at most ``textfile.MAX_YAML_DEPTH`` deep; patterns at most ``MAX_PATTERN_CHARS``,
  names and notes at most ``MAX_NAME_CHARS``;
- a user's ``regex`` pattern runs on RE2 (linear time: a pattern such as ``(a+)+$`` cannot stall
  classification); one RE2 cannot run (backreferences, lookaround) is refused at its line. The
  shipped set, which we write and test, keeps Python's ``re``;
- an empty file, or one without a usable entry, says so.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from netcheck.errors import InputError
from netcheck.textfile import compose_yaml, csv_delimiter, csv_rows, read_lines, read_text

#: chars of a value a fingerprint scans: block pages are small; bounds regex work
MAX_SCAN = 64 * 1024
MATCH_KINDS = ("contains", "regex", "prefix", "full")
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_FINGERPRINTS = 10_000
MAX_LINE_CHARS = 16 * 1024
MAX_PATTERN_CHARS = 4096
MAX_NAME_CHARS = 1024
#: RE2 runs a user's regex in time linear in the page, times a factor that grows with its
#: compiled program when the pattern defeats RE2's DFA (``(a|b)*a(a|b){160}x``: 60 ms per 64 kB
#: page; ``(a|b){1000}(a|b){1000}x``: 2.9 s). One regex's program, and a file's in all, are
#: capped so a hostile file costs at most about a second per page (OONI's regexes: under 200).
MAX_REGEX_PROGRAM = 2000
MAX_FILE_PROGRAM = 8000


@dataclass(frozen=True)
class Fingerprint:
    id: str
    vendor: str
    scope: str  # body | title | location | header:<Name> | dns
    match: str  # contains | regex | prefix | full
    pattern: str
    note: str = ""
    kind: str = "block"  # block | identity
    _regex: Any = field(default=None, compare=False, repr=False)  # .search() on lowered text

    def matches(self, value: str, lowered: str | None = None) -> bool:
        """Whether the fingerprint matches ``value``; ``lowered`` is ``value[:MAX_SCAN]``
        lowercased, when the caller lowered the page once for every fingerprint."""
        return self.search(value, lowered) is not None

    def search(self, value: str, lowered: str | None = None) -> tuple[int, int] | None:
        """Where the fingerprint matches in ``value`` (start, end), or None."""
        text = lowered if lowered is not None else value[:MAX_SCAN].lower()
        if self._regex is not None:
            m = self._regex.search(text)
            return m.span() if m is not None else None
        pat = self.pattern.lower()
        if self.match == "full":
            return (0, len(text)) if text.strip() == pat else None
        if self.match == "prefix":
            return (0, len(pat)) if text.startswith(pat) else None
        at = text.find(pat)
        return (at, at + len(pat)) if at >= 0 else None


@dataclass(frozen=True)
class Fingerprints:
    http: tuple[Fingerprint, ...]
    dns: tuple[Fingerprint, ...]


def _make(
    raw: dict[str, Any],
    *,
    file: str,
    line: int | None,
    field_names: dict[str, str] | None = None,
    linear: bool = True,
    lines: dict[str, int] | None = None,
) -> Fingerprint:
    """Validate one entry; ``field_names`` maps our keys to the file's column names for errors,
    ``lines`` to the line of each key (else ``line``, the entry's). ``linear``: compile a
    regex with RE2 (users' files) rather than ``re`` (the shipped set)."""
    names = field_names or {}

    def bad(key: str, message: str) -> InputError:
        where = (lines or {}).get(key, line)
        return InputError(message, file=file, line=where, field=names.get(key, key))

    for key in ("id", "vendor", "scope", "match", "pattern"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise bad(key, "missing or empty")
    for key in ("id", "vendor", "scope", "match", "kind", "note"):
        problem = _text_problem(raw.get(key))
        if problem is not None:
            raise bad(key, problem)
    if len(raw["pattern"]) > MAX_PATTERN_CHARS:
        raise bad("pattern", f"longer than {MAX_PATTERN_CHARS} characters")
    control = _CONTROL.search(raw["pattern"])
    if control is not None:
        raise bad("pattern", f"holds the control character U+{ord(control.group()):04X}")
    scope, match, kind = raw["scope"].strip(), raw["match"].strip(), raw.get("kind") or "block"
    if scope not in ("body", "title", "location", "dns") and not (
        scope.startswith("header:") and len(scope) > len("header:")
    ):
        raise bad("scope", f"unknown scope {scope!r}; use body, title, location, header:NAME, dns")
    if match not in MATCH_KINDS:
        raise bad("match", f"unknown match {match!r}; use one of {', '.join(MATCH_KINDS)}")
    if kind not in ("block", "identity"):
        raise bad("kind", f"unknown kind {kind!r}; use block or identity")
    regex = None
    if match == "regex":
        try:
            regex = _compile(raw["pattern"], linear)
        except ValueError as exc:
            raise bad("pattern", str(exc)) from None
    note = raw.get("note") or ""
    ident, vendor = raw["id"].strip(), raw["vendor"].strip()
    return Fingerprint(ident, vendor, scope, match, raw["pattern"], str(note), kind, regex)


def _text_problem(value: object) -> str | None:
    """Why a name or note cannot be used, or None (absent is fine: required keys are checked
    before)."""
    from netcheck.targets.files import odd_character

    if value is None:
        return None
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    if len(value) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    odd = odd_character(value)
    return None if odd is None else f"{odd}: {value[:60]!r}"


def _compile(pattern: str, linear: bool) -> _LinearRegex | LiteralLedRegex:
    """The regex of a fingerprint, or ``ValueError`` saying why it cannot be one: it does not
    compile, it matches empty text (every page would be a block page), or (a user's, on RE2)
    it is too costly to search."""
    try:
        regex = _LinearRegex(pattern) if linear else _python_regex(pattern)
    except ValueError as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    if regex.search("") is not None:
        raise ValueError("matches empty text, so every page would be a block page")
    if isinstance(regex, _LinearRegex) and regex.program_size > MAX_REGEX_PROGRAM:
        raise ValueError(
            f"too costly to search (RE2 program of {regex.program_size} steps, at most "
            f"{MAX_REGEX_PROGRAM}): fewer or smaller repetitions such as {{n}}"
        )
    return regex


def lower_pattern(pattern: str) -> str:
    """A pattern for lowercased text: letters lowered, escapes (``\\S``, ``\\W``) kept."""
    return re.sub(
        r"\\.|[^\\]", lambda m: m.group(0) if len(m.group(0)) > 1 else m.group(0).lower(), pattern
    )


def split_alternatives(pattern: str) -> tuple[re.Pattern[str], ...]:
    """One regex per top-level alternative: most then start with a literal, which ``re``
    finds with a fast substring search instead of trying every alternative at every position
    (a 64 kB page went from about 100 ms to a few ms). Lowered text needs no IGNORECASE, which
    would turn that fast search off."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return tuple(re.compile(p, re.DOTALL) for p in parts)


#: a part that opens with a group of plain alternatives: "(fortiguard|fortigate)\\b"
_LEADING_GROUP = re.compile(r"^(\\b)?\(([\w ?-]+(?:\|[\w ?-]+)+)\)(.*)$", re.DOTALL)


def _literal_led(part: str) -> list[str]:
    """``part`` as patterns that each start with a literal: a leading group of plain
    alternatives is spread out ("(a|b)c" -> "ac", "bc")."""
    m = _LEADING_GROUP.match(part)
    if m is None:
        return [part]
    lead, alternatives, rest = m.group(1) or "", m.group(2), m.group(3)
    return [lead + alt + rest for alt in alternatives.split("|")]


class LiteralLedRegex:
    """A shipped pattern (Python ``re``) searched in lowered text, alternative by alternative,
    each starting with a literal ``re`` finds by fast substring search: a leading ``\\b`` is
    checked where the rest matched instead of at every position. The earliest match wins, as
    one alternation would find it."""

    __slots__ = ("_parts",)

    def __init__(self, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(str(exc)) from None
        parts = []
        for part in split_alternatives(lower_pattern(pattern)):
            for led in _literal_led(part.pattern):
                full = re.compile(led, re.DOTALL)
                fast = re.compile(led[2:], re.DOTALL) if led.startswith("\\b") else None
                parts.append((full, fast))
        self._parts = tuple(parts)

    def search(self, text: str) -> re.Match[str] | None:
        best: re.Match[str] | None = None
        for full, fast in self._parts:
            m = full.search(text) if fast is None else _bounded(full, fast, text)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        return best


def _bounded(full: re.Pattern[str], fast: re.Pattern[str], text: str) -> re.Match[str] | None:
    """``full`` (which opens with ``\\b``) tried only where ``fast`` (the rest) matches."""
    for m in fast.finditer(text):
        found = full.match(text, m.start())
        if found is not None:
            return found
    return None


def _python_regex(pattern: str) -> LiteralLedRegex:
    return LiteralLedRegex(pattern)


class _LinearRegex:
    """A user's pattern on RE2, case-insensitive with ``.`` matching newlines (as ``re`` does
    for the shipped set): ``search`` returns a match with ``group(0)``, or None."""

    __slots__ = ("_compiled",)

    def __init__(self, pattern: str) -> None:
        import re2  # loaded only when a user's file has a regex

        options = re2.Options()
        options.log_errors = False  # RE2 would print every refused pattern on stderr
        options.case_sensitive = False
        options.dot_nl = True
        try:
            self._compiled = re2.compile(pattern, options)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise ValueError(f"{reason} (RE2: no backreferences or lookaround)") from None
        except (UnicodeEncodeError, TypeError) as exc:
            raise ValueError(str(exc)) from None

    @property
    def program_size(self) -> int:
        return int(self._compiled.programsize)

    def search(self, text: str) -> Any:
        try:
            return self._compiled.search(text)
        except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: match the rest
            return self._compiled.search(text.encode("utf-8", "replace").decode("utf-8"))


_ENTRY_KEYS = ("id", "vendor", "scope", "match", "pattern", "note", "kind")


def _load_yaml(text: str, file: str, *, linear: bool = True) -> list[Fingerprint]:
    """A YAML fingerprints file, walked as a node tree (``targets.files.Walk``) so that each
    error names the line and the field it is about (``fingerprints[3].pattern``): unknown and
    duplicate keys are refused, as are keys that are not words and tags that are not text."""
    import yaml

    from netcheck.targets.files import Walk

    root = compose_yaml(text, file)
    if root is None or (isinstance(root, yaml.ScalarNode) and not root.value.strip()):
        raise InputError("no fingerprints: the file is empty", file=file)
    shape = "expected a mapping with a 'fingerprints' list"
    if not isinstance(root, yaml.MappingNode):
        raise InputError(shape, file=file, line=root.start_mark.line + 1)
    walk = Walk(file)
    # the shipped file also names each vendor (read by blockpage); a user's file has no use for it
    top = walk.mapping(root, "", ("fingerprints",) if linear else ("fingerprints", "vendor_names"))
    if "fingerprints" not in top:
        raise InputError(shape, file=file, line=1, field="fingerprints")
    items = top["fingerprints"][1]
    if not isinstance(items, yaml.SequenceNode):
        raise InputError(shape, file=file, line=items.start_mark.line + 1, field="fingerprints")
    if len(items.value) > MAX_FINGERPRINTS:
        raise InputError(f"more than {MAX_FINGERPRINTS} fingerprints", file=file)
    out = []
    for i, node in enumerate(items.value):
        field = f"fingerprints[{i}]"
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise InputError("not a mapping", file=file, line=line, field=field)
        pairs = walk.mapping(node, field, _ENTRY_KEYS)
        raw: dict[str, Any] = {}
        for key, (_, value) in pairs.items():
            if value.tag == _NULL:
                continue
            # the field is the key as written, and the line its own
            if key == "pattern":  # as written: spaces at either end may be part of it
                raw[key] = _pattern(walk, value, key)
            else:
                raw[key] = walk.string(value, key, MAX_NAME_CHARS)
        # errors about the entry as a whole name its first line; about one key, that key's
        lines = {key: pairs[key][1].start_mark.line + 1 for key in pairs}
        out.append(_make(raw, file=file, line=line, linear=linear, lines=lines))
        _within_budget(out, file, lines.get("pattern", line), "pattern")
    if not out:
        raise InputError("no fingerprints: the list is empty", file=file, field="fingerprints")
    return out


_NULL = "tag:yaml.org,2002:null"


def _within_budget(entries: Sequence[Fingerprint], file: str, line: int, field: str) -> None:
    """``InputError`` at ``line`` when the user's regexes so far cost more than
    ``MAX_FILE_PROGRAM`` in all (see ``MAX_REGEX_PROGRAM``)."""
    total = sum(f._regex.program_size for f in entries if isinstance(f._regex, _LinearRegex))
    if total > MAX_FILE_PROGRAM:
        raise InputError(
            f"the file's regexes are too costly to search in all (RE2 programs of {total} "
            f"steps, at most {MAX_FILE_PROGRAM})",
            file=file,
            line=line,
            field=field,
        )


def _pattern(walk: Any, node: Any, field: str) -> str:
    """A pattern's text as written (not stripped); a control character other than tab and line
    breaks (YAML's ``"\\0"``) is refused: no page text holds one."""
    import yaml

    from netcheck.targets.files import node_kind

    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        walk.fail(node, field, f"expected text, got {node_kind(node)}")
    value = str(node.value)
    walk.count_text(node, value)  # the walk's budget on the text aliases repeat
    bad = _CONTROL.search(value)
    if bad is not None:
        walk.fail(node, field, f"holds the control character U+{ord(bad.group()):04X}")
    return value


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


_VENDOR_NAMES = {
    "squid": "Squid",
    "fortiguard": "FortiGuard",
    "paloalto": "Palo Alto Networks",
    "zscaler": "Zscaler",
    "cisco-umbrella": "Cisco Umbrella",
    "cisco-wsa": "Cisco Secure Web Appliance",
    "forcepoint": "Forcepoint",
    "bluecoat": "Blue Coat",
    "sophos": "Sophos",
    "sonicwall": "SonicWall",
    "checkpoint": "Check Point",
    "kerio": "Kerio Control",
    "netsweeper": "Netsweeper",
    "skyhigh": "Skyhigh (McAfee) Web Gateway",
    "pfsense": "pfSense pfBlockerNG",
    "barracuda": "Barracuda",
    "watchguard": "WatchGuard",
    "untangle": "Untangle",
}


def vendor_name(vendor: str) -> str:
    """The product name people know for a vendor id, for evidence sentences."""
    return _VENDOR_NAMES.get(vendor, vendor)


# --- OONI blocking-fingerprints CSV --------------------------------------------------------------

_OONI_REQUIRED = ("name", "scope", "location_found", "pattern_type", "pattern")
_OONI_MATCH = {"full": "full", "prefix": "prefix", "contains": "contains", "regexp": "regex"}
_OONI_COLUMNS = {"match": "pattern_type", "scope": "location_found", "pattern": "pattern"}
# OONI names and product aliases -> our vendor ids ("alias:id", or a bare id for itself)
_VENDOR_ALIASES = {
    **{v: v for v in ("fortiguard", "paloalto", "forcepoint", "skyhigh", "bluecoat")},
    **{v: v for v in ("cisco-umbrella", "cisco-wsa", "checkpoint", "pfsense", "squid")},
    **{v: v for v in ("zscaler", "sophos", "sonicwall", "kerio", "netsweeper", "barracuda")},
    **{v: v for v in ("watchguard", "untangle", "symantec-wss")},
    "fortinet": "fortiguard",
    "fortigate": "fortiguard",
    "palo-alto": "paloalto",
    "pan": "paloalto",
    "websense": "forcepoint",
    "mcafee": "skyhigh",
    "blue-coat": "bluecoat",
    "symantec": "bluecoat",
    "umbrella": "cisco-umbrella",
    "opendns": "cisco-umbrella",
    "ironport": "cisco-wsa",
    "check-point": "checkpoint",
    "pfblockerng": "pfsense",
    "panos": "paloalto",
    "pan-os": "paloalto",
    "prisma-access": "paloalto",
    "ms-tmg": "tmg",
    "forefront-tmg": "tmg",
    "isa-server": "tmg",
    "symantec-proxysg": "bluecoat",
    "proxysg": "bluecoat",
    "sophos-cyberoam": "cyberoam",
    "astaro": "sophos",
    "adguard-dns": "adguard",
    "adguard-home": "adguard",
    "pi-hole": "pihole",
    "trellix": "skyhigh",
    "f-secure": "withsecure",
    "quick-heal": "seqrite",
    "digital-arts": "i-filter",
    "ifilter": "i-filter",
    "cisco-meraki": "meraki",
}
_OONI_PREFIXES = ("prs-", "nat-", "isp-", "prod-", "inst-", "vbw-", "cp-")


def vendor_id(name: str) -> str:
    """A lowercase hyphenated vendor id from an OONI fingerprint ``name``, aliases folded."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    for prefix in _OONI_PREFIXES:
        if slug.startswith(prefix):
            slug = slug[len(prefix) :]
    slug = re.sub(r"(-\d+)+$", "", slug) or "unknown"
    if slug in _VENDOR_ALIASES:
        return _VENDOR_ALIASES[slug]
    for alias, vendor in _VENDOR_ALIASES.items():
        if re.search(rf"(^|-){re.escape(alias)}(-|$)", slug):
            return vendor
    return slug


def _ooni_scope(location: str) -> str | None:
    loc = location.strip().casefold()
    if loc in ("body", "title", "dns"):
        return loc
    if loc == "header.location":
        return "location"
    if loc.startswith("header.") and len(loc) > len("header."):
        return "header:" + loc[len("header.") :]
    return None


def _load_ooni_csv(lines: Iterator[str], file: str) -> list[Fingerprint]:
    lines = _cr_lines(lines)
    # the header is the first line with something on it (blank lines before it are skipped)
    skipped = 0
    first = next(lines, None)
    while first is not None and not first.strip():
        skipped += 1
        first = next(lines, None)
    if first is None:
        raise InputError("empty file; expected an OONI CSV header", file=file)
    # Excel saves "CSV" with ';' where the decimal mark is a comma (Spanish, French...)
    delimiter = csv_delimiter(first)
    rows = (
        (n + skipped, row) for n, row in csv_rows(chain([first], lines), file, delimiter=delimiter)
    )
    header_line, header = next(rows)
    header = [h.strip() for h in header]
    for column in _OONI_REQUIRED:
        if column not in header:
            raise InputError("missing column in header", file=file, line=header_line, field=column)
    twice = next((name for i, name in enumerate(header) if name and name in header[:i]), None)
    if twice is not None:
        message = "the column is named twice in the header: which one holds the value?"
        raise InputError(message, file=file, line=header_line, field=twice)
    out: list[Fingerprint] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            missing = header[len(row)] if len(row) < len(header) else None
            raise InputError(
                f"expected {len(header)} columns, found {len(row)}",
                file=file,
                line=line,
                field=missing or header[-1],
            )
        rec = dict(zip(header, row, strict=True))
        if rec["scope"].strip().casefold() == "fp":
            continue  # OONI's known false positives: real pages, not block pages
        if len(out) >= MAX_FINGERPRINTS:
            raise InputError(f"more than {MAX_FINGERPRINTS} fingerprints", file=file, line=line)
        out.append(_ooni_entry(rec, file, line))
        _within_budget(out, file, line, "pattern")
    if not out:
        raise InputError("no fingerprints: the file has no usable rows", file=file)
    return out


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


def _cr_lines(lines: Iterator[str]) -> Iterator[str]:
    """Lines ended by CR alone (old Mac files, some exports) split as lines: ``read_lines``
    splits at LF only, and the csv module refuses a CR inside an unquoted field."""
    for line in lines:
        yield from (part for part in _LONE_CR.split(line) if part)


def _ooni_entry(rec: dict[str, str], file: str, line: int) -> Fingerprint:
    scope = _ooni_scope(rec["location_found"])
    if scope is None:
        raise InputError(
            f"unknown location {rec['location_found'][:60]!r}; use body, dns or header.NAME",
            file=file,
            line=line,
            field="location_found",
        )
    match = _OONI_MATCH.get(rec["pattern_type"].strip().casefold())
    if match is None:
        raise InputError(
            f"unknown pattern type {rec['pattern_type'][:60]!r}; "
            "use full, prefix, contains, regexp",
            file=file,
            line=line,
            field="pattern_type",
        )
    if not rec["name"].strip():
        raise InputError("missing or empty", file=file, line=line, field="name")
    raw = {
        "id": "ooni-" + rec["name"].strip(),
        "vendor": vendor_id(rec["name"]),
        "scope": scope,
        "match": match,
        "pattern": rec["pattern"],
        "note": (rec.get("notes") or rec.get("source") or "").strip(),
    }
    return _make(raw, file=file, line=line, field_names=_OONI_COLUMNS | {"id": "name"})


def load_fingerprint_file(path: str) -> list[Fingerprint]:
    """Fingerprints from one user file: YAML by suffix, else OONI CSV (read a line at a time)."""
    what = "fingerprints file"
    if path.endswith((".yaml", ".yml")):
        text = read_text(path, what, max_bytes=MAX_FILE_BYTES, allow_empty=False)
        return _load_yaml(text, path)
    lines = read_lines(path, what, max_bytes=MAX_FILE_BYTES, max_line=MAX_LINE_CHARS)
    return _load_ooni_csv(lines, path)


@functools.lru_cache(maxsize=1)
def _default_entries() -> tuple[Fingerprint, ...]:
    ref = importlib.resources.files("netcheck") / "data" / "fingerprints.yaml"
    return tuple(_load_yaml(ref.read_text(encoding="utf-8"), str(ref), linear=False))


def load_fingerprints(extra: Sequence[str] = ()) -> Fingerprints:
    """The shipped set plus every file in ``extra`` (user entries are tried first)."""
    if not extra:
        return _default_set()
    entries: list[Fingerprint] = []
    for path in extra:
        entries.extend(load_fingerprint_file(path))
    entries.extend(_default_entries())
    return _split(entries)


@functools.lru_cache(maxsize=1)
def _default_set() -> Fingerprints:
    return _split(_default_entries())


def _split(entries: Sequence[Fingerprint]) -> Fingerprints:
    return Fingerprints(
        http=tuple(f for f in entries if f.scope != "dns"),
        dns=tuple(f for f in entries if f.scope == "dns"),
    )
