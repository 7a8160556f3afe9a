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
        self.file = file
        # trigger ("example.com" or "*.example.com") -> (action, rpz action word, line)
        self.triggers: dict[str, tuple[Action, str, int]] = {}
        self.skipped: list[str] = []

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
    except dns.exception.DNSException as exc:
        found = _LINE_OF_ERROR.search(str(exc))
        # an error at the end of a line is reported on the next one: name the last line instead
        line = min(int(found.group(1)), max(1, len(text.splitlines()))) if found else None
        message = str(exc).split(": ", 2)[-1] if found else str(exc)
        raise InputError(f"invalid RPZ zone: {message[:200]}", file=file, line=line) from None
    except (ValueError, UnicodeError, OverflowError) as exc:  # dnspython's own checks, no line
        raise InputError(f"invalid RPZ zone: {str(exc)[:200]}", file=file) from None
    config = RpzConfig(file)
    lines = _owner_lines(text)
    for name, node in zone.nodes.items():
        trigger = host_key(name.to_text())
        if trigger in ("@", "") or name == dns.name.empty:
            continue
        line = lines.get(trigger, 0)
        if any(part in trigger.split(".") for part in _SPECIAL):
            what = f"{trigger[:80]!r} is an IP or name-server trigger (it needs resolution)"
            config.skipped.append(f"{file}:{line}: {what}: left out")
            continue
        action = _action(node)
        if action is None:
            continue
        config.triggers[trigger] = (action[0], action[1], line)
    return config


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
        if step < 1 or (stop - start) // step + 1 > MAX_GENERATED:
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


def _owner_lines(text: str) -> dict[str, int]:
    """Relative owner name -> first line it appears on (dnspython keeps no line numbers)."""
    out: dict[str, int] = {}
    origin = host_key(_origin(text))
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw or raw[0] in " \t;$(":
            continue
        owner = raw.split(";", 1)[0].split()[0].lower() if raw.split() else ""
        if owner.endswith("."):
            owner = owner.rstrip(".")
            owner = owner.removesuffix("." + origin) if owner != origin else "@"
        out.setdefault(owner.rstrip("."), number)
    return out
