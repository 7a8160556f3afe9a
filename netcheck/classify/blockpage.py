"""Block-page recognition: vendor fingerprints, generic cues, and pages that only look blocked.

In: what one HTTP response showed (headers, a decoded body excerpt, title, Location) or one DNS
answer address. Out: vendor ``Match`` es, a ``CueScore`` for generic block wording, and a
lookalike label for real pages that must not be called block pages. Pure: no sockets.

Fingerprints ship as data (``netcheck/data/fingerprints.yaml``); more can be loaded with
``--fingerprints FILE`` in OONI's ``fingerprints_http.csv`` / ``fingerprints_dns.csv`` format
or in netcheck's YAML format. A fingerprint of ``kind: block`` proves a block by itself; one of
``kind: identity`` (``Via: ... (squid/5.7)``, a product name) only names who blocked once other
evidence shows a block, because those products also pass real pages through.

Vendors recognised by the shipped set:

=================  ==============================================================================
vendor id          what is matched
=================  ==============================================================================
squid              ``X-Squid-Error: ERR_ACCESS_DENIED``, deny template text (en, es), footer
                   "Generated ... (squid/5.7)", ``Server: squid``, ``Via: ... (squid/...)``
fortiguard         "FortiGuard Web Filtering", "Web Page Blocked!", redirects to ports
                   8008-8015, ``/fgtauth``
paloalto           redirect to ``/php/urlblock.php?args=``, "blocked in accordance with company
                   policy"
zscaler            "Website blocked" + "Zscaler", ``Server: Zscaler``
cisco-umbrella     DNS answers 146.112.61.104-110, block.opendns.com, "This site is blocked"
cisco-wsa          "Based on your organization's access policies", ``Via: ... Cisco-WSA``
forcepoint         ``blockpage.cgi``, "Content blocked by your organization" (Websense)
bluecoat           ``cfru=`` redirects, ``policy_denied``, "Blue Coat"
sophos             "Sophos Web Appliance" / "SophosLabs" with block wording
sonicwall          "This site has been blocked by the network administrator"
checkpoint         ``/UserCheck/`` redirects, "Check Point" with block wording
kerio              "Kerio Control" with deny wording, ``fwdeny`` redirects
netsweeper         ``webadmin/deny``
skyhigh            "McAfee Web Gateway" / "Skyhigh" with "URL Blocked"
pfsense            pfBlockerNG DNSBL page, DNS answer 10.10.10.1 (identity only)
barracuda          "Barracuda Web Security" with block wording
watchguard         "Request denied by WatchGuard"
untangle           "Untangle" with block wording
=================  ==============================================================================
"""

from __future__ import annotations

import csv
import functools
import html
import importlib.resources
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netcheck.errors import InputError
from netcheck.netaddr import parse_ip
from netcheck.pagetext import extract_title as body_title

MATCH_KINDS = ("contains", "regex", "prefix", "full")
_MAX_SCAN = 64 * 1024  # chars of a body scanned: block pages are small; bounds regex work


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
            return self._regex.search(value[:_MAX_SCAN]) is not None
        text, pat = value.casefold(), self.pattern.casefold()
        if self.match == "full":
            return text.strip() == pat
        if self.match == "prefix":
            return text.startswith(pat)
        return pat in text[:_MAX_SCAN]


@dataclass(frozen=True)
class Fingerprints:
    http: tuple[Fingerprint, ...]
    dns: tuple[Fingerprint, ...]


@dataclass(frozen=True)
class Match:
    fingerprint: str
    vendor: str
    scope: str
    where: str  # short excerpt of what matched, for the evidence sentence
    kind: str = "block"


@dataclass(frozen=True)
class CueScore:
    score: int
    phrases: tuple[str, ...]
    language: str | None
    threshold: int

    @property
    def strong(self) -> bool:
        return self.score >= self.threshold


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


# --- matching ----------------------------------------------------------------------------------


def _excerpt(value: str, fp: Fingerprint) -> str:
    if fp.scope.startswith("header:") or fp.scope == "location":
        text = value
    elif fp._regex is not None:
        found = fp._regex.search(value[:_MAX_SCAN])
        text = found.group(0) if found else value
    else:
        start = value.casefold().find(fp.pattern.casefold())
        text = value[start : start + len(fp.pattern)] if start >= 0 else value
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def match_http(
    fps: Fingerprints,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: str | None = None,
    title: str | None = None,
    location: str | None = None,
) -> list[Match]:
    """Every HTTP fingerprint that matches, block kinds first, in fingerprint order."""
    if location is None:
        location = next((v for k, v in headers if k.casefold() == "location"), None)
    found: list[Match] = []
    for fp in fps.http:
        values: list[str]
        if fp.scope == "body":
            values = [body] if body else []
        elif fp.scope == "title":
            values = [title] if title else []
        elif fp.scope == "location":
            values = [location] if location else []
        else:
            name = fp.scope[len("header:") :].casefold()
            values = [v for k, v in headers if k.casefold() == name]
        for value in values:
            if fp.matches(value):
                found.append(Match(fp.id, fp.vendor, fp.scope, _excerpt(value, fp), fp.kind))
                break
    return sorted(found, key=lambda m: m.kind != "block")


def match_dns(fps: Fingerprints, ip: str) -> Match | None:
    """The DNS fingerprint an answer address matches (block kinds preferred), or None."""
    addr = parse_ip(ip)
    candidates = {ip.strip(), str(addr)} if addr is not None else {ip.strip()}
    best: Match | None = None
    for fp in fps.dns:
        if any(fp.matches(c) for c in candidates):
            m = Match(fp.id, fp.vendor, "dns", ip, fp.kind)
            if fp.kind == "block":
                return m
            best = best or m
    return best


# --- generic cues --------------------------------------------------------------------------------

_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,2000}>")


def _drop_scripts(text: str) -> str:
    """Remove <script>/<style> blocks in one linear pass (a regex would go quadratic on
    hostile pages full of unclosed tags)."""
    out, pos = [], 0
    while (m := _BLOCK_OPEN.search(text, pos)) is not None:
        out.append(text[pos : m.start()])
        closing = re.compile("</" + m.group(1), re.IGNORECASE).search(text, m.end())
        close = text.find(">", closing.end()) if closing is not None else -1
        if close < 0:
            return " ".join(out)
        out.append(" ")
        pos = close + 1
    out.append(text[pos:])
    return "".join(out)


def fold(text: str) -> str:
    """Lowercase, strip accents and markup, unify apostrophes, collapse whitespace."""
    text = html.unescape(_TAG.sub(" ", _drop_scripts(text[:_MAX_SCAN])))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'").casefold()
    return " ".join(text.split())


def extract_title(body: str | None) -> str | None:
    return body_title(body, scan=_MAX_SCAN)


@dataclass(frozen=True)
class _Cue:
    phrase: str
    weight: int
    lang: str
    regex: re.Pattern[str]


@functools.lru_cache(maxsize=1)
def _cues() -> tuple[int, int, tuple[_Cue, ...]]:
    ref = importlib.resources.files("netcheck") / "data" / "cues.yaml"
    data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    cues = []
    for raw in data["cues"]:
        phrase = fold(str(raw["phrase"]))
        regex = re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)")
        cues.append(_Cue(phrase, int(raw["weight"]), str(raw["lang"]), regex))
    # longest first, so a phrase inside a longer matched phrase is not counted twice
    cues.sort(key=lambda c: -len(c.phrase))
    return int(data["threshold"]), int(data["weak_cap"]), tuple(cues)


def generic_cues(body: str | None, title: str | None = None) -> CueScore:
    """Score vendor-neutral block wording in the title and body text."""
    threshold, weak_cap, cues = _cues()
    text = fold((title or "") + " \n " + (body or ""))
    taken: list[tuple[int, int]] = []
    phrases: list[str] = []
    by_lang: dict[str, int] = {}
    score = weak = 0
    for cue in cues:
        counted = False
        for m in cue.regex.finditer(text):
            span = m.span()
            if not any(span[0] < end and start < span[1] for start, end in taken):
                taken.append(span)  # one free occurrence is enough to count the phrase
                counted = True
                break
        if counted:
            phrases.append(cue.phrase)
            if cue.weight <= 1:
                weak += cue.weight
            else:
                score += cue.weight
            by_lang[cue.lang] = by_lang.get(cue.lang, 0) + cue.weight
    language = max(by_lang, key=lambda k: by_lang[k]) if by_lang else None
    return CueScore(score + min(weak, weak_cap), tuple(phrases), language, threshold)


# --- lookalikes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Condition:
    text: re.Pattern[str] | None
    raw: re.Pattern[str] | None
    header: str | None
    header_regex: re.Pattern[str] | None
    statuses: tuple[int, ...]
    status_min: int | None


@functools.lru_cache(maxsize=1)
def _lookalikes() -> tuple[tuple[str, str, tuple[_Condition, ...]], ...]:
    ref = importlib.resources.files("netcheck") / "data" / "cues.yaml"
    data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    rules = []
    for rule in data["lookalikes"]:
        conds = []
        for c in rule["any"]:
            flags = re.IGNORECASE | re.DOTALL
            conds.append(
                _Condition(
                    text=re.compile(c["text"], flags) if "text" in c else None,
                    raw=re.compile(c["raw"], flags) if "raw" in c else None,
                    header=str(c["header"]).casefold() if "header" in c else None,
                    header_regex=re.compile(c.get("regex", "."), flags) if "header" in c else None,
                    statuses=tuple(int(s) for s in c.get("status", ())),
                    status_min=int(c["status_min"]) if "status_min" in c else None,
                )
            )
        rules.append((str(rule["label"]), str(rule["description"]), tuple(conds)))
    return tuple(rules)


def _holds(
    c: _Condition, status: int | None, headers: Sequence[tuple[str, str]], raw: str, text: str
) -> bool:
    if c.statuses and status not in c.statuses:
        return False
    if c.status_min is not None and (status is None or status < c.status_min):
        return False
    if c.text is not None and not c.text.search(text):
        return False
    if c.raw is not None and not c.raw.search(raw):
        return False
    if c.header is not None and c.header_regex is not None:
        values = [v for k, v in headers if k.casefold() == c.header]
        if not any(c.header_regex.search(v) for v in values):
            return False
    return True


def lookalike(
    status: int | None,
    headers: Sequence[tuple[str, str]],
    body: str | None,
    title: str | None,
) -> str | None:
    """The label of a real page that merely looks blocked (consent, login, CDN...), or None."""
    raw = (body or "")[:_MAX_SCAN]
    text = fold((title or "") + " \n " + raw)
    for label, _description, conds in _lookalikes():
        if any(_holds(c, status, headers, raw, text) for c in conds):
            return label
    return None


def lookalike_description(label: str) -> str:
    """The plain-words description of a lookalike label, for evidence sentences."""
    for name, description, _conds in _lookalikes():
        if name == label:
            return description
    return label
