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
tmg                Microsoft Forefront TMG / ISA Server error 12202 (the proxy denies the URL)
=================  ==============================================================================

Vendors common in public administrations, each matched by its product name within 3000
characters of block wording in any of the lexicon's languages (the name alone is identity
only), plus the hosts their pages live on where those are public: iboss, lightspeed,
contentkeeper, olfeo, netspark, iserv, smoothwall, securly (``securly.com/...block``),
goguardian (``blocked.goguardian.com``), meraki (``network-auth.com/...block``), comodo
(Xcitium/Comodo Dome), trendmicro, symantec-wss (``*.threatpulse.net``), netskope
(``*.goskope.com``), cloudflare-gateway, dnsfilter, cleanbrowsing, kaspersky, eset, huawei, h3c.

Generic wording is scored by ``lexicon`` (41 languages) and page shape by ``pagecues``.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from netcheck.classify.fingerprints import (
    MAX_SCAN,
    Fingerprint,
    Fingerprints,
    load_fingerprint_file,
    load_fingerprints,
    vendor_id,
)
from netcheck.classify.fingerprints import vendor_name as _loader_vendor_name
from netcheck.classify.lexicon import CueScore, fold, generic_cues, title_says_blocked
from netcheck.classify.lookalikes import lookalike, lookalike_description, lookalike_match
from netcheck.netaddr import parse_ip
from netcheck.pagetext import extract_title as body_title

__all__ = [
    "CueScore",
    "Fingerprint",
    "Fingerprints",
    "Match",
    "fold",
    "generic_cues",
    "load_fingerprint_file",
    "load_fingerprints",
    "lookalike",
    "lookalike_description",
    "lookalike_match",
    "match_dns",
    "match_http",
    "title_says_blocked",
    "vendor_id",
    "vendor_name",
]

_MAX_SCAN = MAX_SCAN


@dataclass(frozen=True)
class Match:
    fingerprint: str
    vendor: str
    scope: str
    where: str  # short excerpt of what matched, for the evidence sentence
    kind: str = "block"


# --- matching ----------------------------------------------------------------------------------


def _excerpt(value: str, fp: Fingerprint, span: tuple[int, int]) -> str:
    if fp.scope.startswith("header:") or fp.scope == "location":
        text = value
    else:
        lowered = value[:_MAX_SCAN].lower()
        # the original's letters where lowering kept the length, else the lowered text
        source = value if len(lowered) == len(value[:_MAX_SCAN]) else lowered
        text = source[span[0] : span[1]]
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
    """Every HTTP fingerprint that matches, block kinds first, in fingerprint order. The body
    is lowered once for all fingerprints."""
    if location is None:
        location = next((v for k, v in headers if k.casefold() == "location"), None)
    lowered: dict[str, str] = {}
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
            low = lowered.get(value)
            if low is None:
                low = lowered[value] = value[:_MAX_SCAN].lower()
            span = fp.search(value, low)
            if span is not None:
                found.append(Match(fp.id, fp.vendor, fp.scope, _excerpt(value, fp, span), fp.kind))
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


@functools.lru_cache(maxsize=1)
def _shipped_names() -> dict[str, str]:
    ref = importlib.resources.files("netcheck") / "data" / "fingerprints.yaml"
    names = yaml.safe_load(ref.read_text(encoding="utf-8")).get("vendor_names") or {}
    return {str(k): str(v) for k, v in names.items()}


def vendor_name(vendor: str) -> str:
    """The product name people know for a vendor id, for evidence sentences."""
    return _shipped_names().get(vendor) or _loader_vendor_name(vendor)


def a_vendor(vendor: str) -> str:
    """The vendor's name after "a" or "an" ("an Iranian national filter")."""
    name = vendor_name(vendor)
    vowel = name[:1] in "AEIOaeio" or (name[:1] in "Uu" and not name[:2].isupper())
    return f"{'an' if vowel else 'a'} {name}"


def extract_title(body: str | None) -> str | None:
    return body_title(body, scan=_MAX_SCAN)
