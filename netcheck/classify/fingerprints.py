"""Vendor fingerprints: the shipped set and users' files, loaded into ``Fingerprints``.

In: ``netcheck/data/fingerprints.yaml`` and any ``--fingerprints FILE`` in netcheck's YAML format or
OONI's ``fingerprints_http.csv`` / ``fingerprints_dns.csv`` format. Out: ``Fingerprints`` (HTTP and
DNS entries) that ``blockpage`` matches, or an ``InputError`` naming file, line and field. Pure.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netcheck.errors import InputError

#: chars of a value a fingerprint scans: block pages are small; bounds regex work
MAX_SCAN = 64 * 1024
MATCH_KINDS = ("contains", "regex", "prefix", "full")


@dataclass(frozen=True)
class Fingerprint:
    id: str
    vendor: str
    scope: str  # body | title | location | header:<Name> | dns
    match: str  # contains | regex | prefix | full
    pattern: str
    note: str = ""
    kind: str = "block"  # block | identity
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, value: str) -> bool:
        if self._regex is not None:
            return self._regex.search(value[:MAX_SCAN]) is not None
        text, pat = value.casefold(), self.pattern.casefold()
        if self.match == "full":
            return text.strip() == pat
        if self.match == "prefix":
            return text.startswith(pat)
        return pat in text[:MAX_SCAN]


@dataclass(frozen=True)
class Fingerprints:
    http: tuple[Fingerprint, ...]
    dns: tuple[Fingerprint, ...]


def _make(
    raw: dict[str, Any], *, file: str, line: int | None, field_names: dict[str, str] | None = None
) -> Fingerprint:
    """Validate one entry; ``field_names`` maps our keys to the file's column names for errors."""
    names = field_names or {}

    def bad(key: str, message: str) -> InputError:
        return InputError(message, file=file, line=line, field=names.get(key, key))

    for key in ("id", "vendor", "scope", "match", "pattern"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise bad(key, "missing or empty")
    scope, match, kind = raw["scope"].strip(), raw["match"].strip(), raw.get("kind", "block")
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
            regex = re.compile(raw["pattern"], re.IGNORECASE | re.DOTALL)
        except re.error as exc:
            raise bad("pattern", f"invalid regular expression: {exc}") from None
    note = raw.get("note") or ""
    ident, vendor = raw["id"].strip(), raw["vendor"].strip()
    return Fingerprint(ident, vendor, scope, match, raw["pattern"], str(note), kind, regex)


def _load_yaml(text: str, file: str) -> list[Fingerprint]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {exc}", file=file, line=line) from None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise InputError("expected a mapping with a 'fingerprints' list", file=file)
    out = []
    for i, raw in enumerate(data["fingerprints"]):
        if not isinstance(raw, dict):
            raise InputError(f"entry {i + 1} is not a mapping", file=file, field="fingerprints")
        out.append(_make(raw, file=file, line=None, field_names={"id": f"fingerprints[{i}].id"}))
    return out


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
_VENDOR_ALIASES = dict(
    (pair.split(":") if ":" in pair else (pair, pair))  # type: ignore[misc]
    for pair in (
        "fortinet:fortiguard fortigate:fortiguard fortiguard palo-alto:paloalto paloalto "
        "pan:paloalto websense:forcepoint forcepoint mcafee:skyhigh skyhigh blue-coat:bluecoat "
        "bluecoat symantec:bluecoat umbrella:cisco-umbrella opendns:cisco-umbrella "
        "cisco-umbrella ironport:cisco-wsa cisco-wsa check-point:checkpoint checkpoint "
        "pfblockerng:pfsense pfsense squid zscaler sophos sonicwall kerio netsweeper barracuda "
        "watchguard untangle"
    ).split()
)
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


def _load_ooni_csv(text: str, file: str) -> list[Fingerprint]:
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError("empty file; expected an OONI CSV header", file=file) from None
    for column in _OONI_REQUIRED:
        if column not in header:
            raise InputError("missing column in header", file=file, line=1, field=column)
    out: list[Fingerprint] = []
    for row in reader:
        line = reader.line_num
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
        scope = _ooni_scope(rec["location_found"])
        if scope is None:
            raise InputError(
                f"unknown location {rec['location_found']!r}; use body, dns or header.NAME",
                file=file,
                line=line,
                field="location_found",
            )
        match = _OONI_MATCH.get(rec["pattern_type"].strip().casefold())
        if match is None:
            raise InputError(
                f"unknown pattern type {rec['pattern_type']!r}; use full, prefix, contains, regexp",
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
            "note": rec.get("notes") or rec.get("source") or "",
        }
        out.append(_make(raw, file=file, line=line, field_names=_OONI_COLUMNS))
    return out


def load_fingerprint_file(path: str) -> list[Fingerprint]:
    """Fingerprints from one user file: YAML by suffix, else OONI CSV."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read fingerprints: {exc}", file=path) from None
    if path.endswith((".yaml", ".yml")):
        return _load_yaml(text, path)
    return _load_ooni_csv(text, path)


@functools.lru_cache(maxsize=1)
def _default_entries() -> tuple[Fingerprint, ...]:
    ref = importlib.resources.files("netcheck") / "data" / "fingerprints.yaml"
    return tuple(_load_yaml(ref.read_text(encoding="utf-8"), str(ref)))


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
