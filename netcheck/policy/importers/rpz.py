"""A DNS RPZ zone file as an effective configuration: what the resolver does to a URL's host.

In: a zone file (parsed by dnspython, so a malformed zone is refused the way a resolver would).
Out: ``RpzConfig``. The owner name, relative to the zone origin, is the trigger: ``example.com``
triggers that name only, ``*.example.com`` its subdomains; an exact trigger beats a wildcard and
a nearer wildcard beats a farther one. Actions: ``CNAME .`` NXDOMAIN, ``CNAME *.`` NODATA,
``CNAME rpz-passthru.`` allow, ``CNAME rpz-drop.`` drop, ``CNAME rpz-tcp-only.`` allow (over TCP),
A/AAAA/other CNAME rewrite (a sinkhole or walled garden: block). Names that no trigger covers are
answered normally (allow). IP, NSDNAME and NSIP triggers are kept out (they need resolution),
each with a warning naming its line. A zone with no trigger answers everything normally, and
``policy import`` refuses it (nothing to import); a ``$GENERATE`` over more than
``MAX_GENERATED`` names is refused when read.
"""

from __future__ import annotations

import contextlib
import re

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from netcheck.errors import InputError
from netcheck.netaddr import host_key, url_host
from netcheck.policy.importers import ConfigDecision, Conversion, EffectiveConfig, read_config
from netcheck.policy.match import is_glob
from netcheck.policy.model import Action

_SPECIAL = ("rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip")
_LINE_OF_ERROR = re.compile(r":(\d+):")
_RANGE = re.compile(r"^(\d{1,10})-(\d{1,10})(?:/(\d{1,10}))?$")
MAX_GENERATED = 100_000


class RpzConfig(EffectiveConfig):
    kind = "rpz"
    layer = "dns"

    def __init__(self, file: str) -> None:
        super().__init__(file)
        # trigger ("example.com" or "*.example.com") -> (action, rpz action word, line)
        self.triggers: dict[str, tuple[Action, str, int]] = {}
        self.skipped: list[str] = []
        self.outside: list[tuple[str, int]] = []  # owners outside the zone's origin, and line

    def decide(self, url: str) -> ConfigDecision:
        host = url_host(url)
        found = self.triggers.get(host)
        if found is None:
            labels = host.split(".")
            for i in range(1, len(labels)):
                found = self.triggers.get("*." + ".".join(labels[i:]))
                if found is not None:
                    break
        if found is None and host:
            found = self.triggers.get("*")  # a wildcard at the zone's apex: every name
        if found is None:
            return ConfigDecision(
                "allow", self.file, None, "no RPZ trigger: answered normally", True
            )
        action, word, line = found
        return ConfigDecision(action, self.file, line, f"RPZ {word} line {line}")

    def convert(self) -> Conversion:
        if not self.triggers and self.outside:
            owner, line = self.outside[0]
            raise InputError(
                f"{owner[:80]!r} is outside the zone's origin, and no trigger is inside it: "
                "nothing to import",
                file=self.file,
                line=line,
            )
        if not self.triggers:
            raise InputError(
                "no RPZ trigger (only SOA/NS records): nothing to import", file=self.file
            )
        # policy rules are first-match: put exact triggers first, then nearer wildcards first
        ordered = sorted(
            self.triggers.items(),
            key=lambda kv: (kv[0] == "*" or kv[0].startswith("*."), -kv[0].count(".")),
        )
        done = Conversion([], "allow", list(self.skipped))
        for trigger, (action, word, line) in ordered:
            wildcard = trigger == "*" or trigger.startswith("*.")
            if is_glob(trigger[2:] if trigger.startswith("*.") else trigger) and trigger != "*":
                # an RPZ owner name holding * ? [ elsewhere is a literal name, not a pattern
                done.notes.append(f"{self.file}:{line}: {trigger[:80]!r} left out: not a host name")
                continue
            done.add(
                self.file,
                line,
                id=f"line-{line}",
                description=word[:200] + (" (subdomains)" if wildcard else ""),
                match={"hosts": [trigger]},
                action=action,
                source=f"{self.file}:{line}",
            )
        return done


def load(path: str) -> RpzConfig:
    return parse(read_config(path, "RPZ zone"), path)


def parse(text: str, file: str) -> RpzConfig:
    _check_generate(text, file)
    try:
        zone = dns.zone.from_text(
            text, origin=_origin(text, file), relativize=True, check_origin=False, filename=file
        )
    except (dns.exception.DNSException, ValueError, UnicodeError, OverflowError) as exc:
        found = _LINE_OF_ERROR.search(str(exc))
        # an error at the end of a line is reported on the next one: name the last line instead
        line = min(int(found.group(1)), max(1, len(text.splitlines()))) if found else None
        message = str(exc).split(": ", 2)[-1] if found else str(exc)
        if line is None:  # dnspython's checks after reading a record name no line
            line = _first_failing_line(text, file, str(exc))
        message = _PLAIN.get(message.strip(), message)
        raise InputError(f"invalid RPZ zone: {message[:200]}", file=file, line=line) from None
    config = RpzConfig(file)
    lines, outside = _owner_lines(text, _origin(text))
    config.outside = outside
    for owner, line in outside:  # a warning in explain and check too: it changes answers
        config.notes.append(
            f"{file}:{line}: {owner[:80]!r} is outside the zone's origin "
            f"{_origin(text)}: a resolver ignores it, left out"
        )
    for name, node in zone.nodes.items():
        trigger = host_key(name.to_text())
        if trigger in ("@", "") or name == dns.name.empty:
            continue
        line = lines.get(name, 1)
        if any(part in trigger.split(".") for part in _SPECIAL):
            what = f"{trigger[:80]!r} is an IP or name-server trigger (it needs resolution)"
            config.skipped.append(f"{file}:{line}: {what}: left out")
            continue
        action = _action(node)
        if action is None:
            continue
        config.triggers[trigger] = (action[0], action[1], line)
    return config


_PLAIN = {
    "A DNS name is > 255 octets long.": "a name longer than 255 bytes",
    "rdataset type is not compatible with a CNAME node": (
        "a name with a CNAME has other records too (a CNAME must be alone; RPZ actions are CNAMEs)"
    ),
}


def _first_failing_line(text: str, file: str, message: str) -> int | None:
    """The first line at which the zone fails with ``message``, for the errors dnspython
    raises without a line: the shortest failing prefix, found by bisection (log n parses)."""
    lines = text.splitlines()

    def fails(n: int) -> bool:
        try:
            dns.zone.from_text(
                "\n".join(lines[:n]) + "\n",
                origin=_origin(text),
                relativize=True,
                check_origin=False,
                filename=file,
            )
        except (dns.exception.DNSException, ValueError, UnicodeError, OverflowError) as exc:
            return message in str(exc)
        return False

    low, high = 1, len(lines)
    if not fails(high):
        return None
    while low < high:
        mid = (low + high) // 2
        if fails(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _check_generate(text: str, file: str) -> None:
    """Refuse a ``$GENERATE`` that would make more names than a zone file may hold: dnspython
    would otherwise build every one of them."""
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split()
        if not words or words[0].upper() != "$GENERATE":
            continue
        found = _RANGE.match(words[1]) if len(words) > 1 else None
        if found is None:
            raise InputError("$GENERATE needs a range start-stop[/step]", file=file, line=number)
        start, stop, step = int(found[1]), int(found[2]), int(found[3] or 1)
        if step < 1:
            raise InputError(
                f"$GENERATE step {step}: a step must be 1 or more", file=file, line=number
            )
        if stop < start:
            raise InputError(
                f"$GENERATE range {start}-{stop} ends before it starts", file=file, line=number
            )
        if (stop - start) // step + 1 > MAX_GENERATED:
            raise InputError(
                f"$GENERATE makes more than {MAX_GENERATED} names", file=file, line=number
            )


def _action(node: dns.node.Node) -> tuple[Action, str] | None:
    for rdataset in node.rdatasets:
        if rdataset.rdtype == dns.rdatatype.CNAME:
            target = rdataset[0].target.to_text()
            if target == ".":
                return "block", "NXDOMAIN (CNAME .)"
            if target == "*.":
                return "block", "NODATA (CNAME *.)"
            if target.startswith("rpz-passthru"):
                return "allow", "PASSTHRU"
            if target.startswith("rpz-drop"):
                return "block", "DROP"
            if target.startswith("rpz-tcp-only"):
                return "allow", "TCP-ONLY"
            return "block", f"rewrite (CNAME {target})"
        if rdataset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            return "block", f"rewrite ({dns.rdatatype.to_text(rdataset.rdtype)} {rdataset[0]})"
    if node.rdatasets and all(
        r.rdtype in (dns.rdatatype.SOA, dns.rdatatype.NS) for r in node.rdatasets
    ):
        return None
    if node.rdatasets:
        return "block", "rewrite"
    return None


def _origin(text: str, file: str | None = None) -> str:
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "$ORIGIN":
            if file is not None:
                try:
                    dns.name.from_text(words[1])
                except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
                    raise InputError(
                        f"bad $ORIGIN {words[1][:80]!r}: {exc}", file=file, line=number
                    ) from None
            return words[1]
    return "rpz."


def _owner_lines(text: str, origin: str) -> tuple[dict[dns.name.Name, int], list[tuple[str, int]]]:
    """Owner name (relative to the zone's origin, as dnspython keys its nodes) -> first line it
    appears on (dnspython keeps no line numbers), read as the zone file is: ``$ORIGIN`` changes
    the origin of the names after it, a line starting with a blank repeats the previous owner,
    lines inside ``( )`` continue a record, ``\\065`` escapes and Unicode (IDNA) names are
    read by dnspython itself. Also (name, line) for each owner outside the zone, which dnspython
    leaves out without a word."""
    zone = dns.name.from_text(origin)
    current = zone
    out: dict[dns.name.Name, int] = {}
    outside: list[tuple[str, int]] = []
    depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split(";", 1)[0]
        starts_record = depth == 0
        depth = max(0, depth + body.count("(") - body.count(")"))
        words = body.split()
        if not starts_record or not words or raw[0] in " \t":
            continue
        if words[0].upper() == "$ORIGIN" and len(words) > 1:
            with contextlib.suppress(dns.exception.DNSException, ValueError, UnicodeError):
                current = dns.name.from_text(words[1], origin=current)
            continue
        if words[0].startswith("$"):
            continue
        try:
            name = dns.name.from_text(words[0], origin=current)
        except (dns.exception.DNSException, ValueError, UnicodeError):
            continue  # dnspython refuses the zone, naming the line
        if not name.is_subdomain(zone):
            if not any(n == number for _, n in outside):
                outside.append((words[0], number))
            continue
        out.setdefault(name.relativize(zone), number)
    return out, outside
