"""An ad-block list (AdGuard / Adblock Plus syntax, as Pi-hole and AdGuard Home read it).

In: a list file. Out: ``AdblockConfig``. Network rules only: ``||host^`` blocks the host and its
subdomains, ``||host/path`` and ``|https://...`` block URLs by prefix, ``/regex/`` by regular
expression, ``@@`` makes any of these an exception, and an exception always wins over a block.
A bare ``host`` line or a hosts-style ``0.0.0.0 host`` line blocks that host and its subdomains
(AdGuard Home's reading). Comments (``!``, ``#``, ``[Adblock Plus 2.0]``) and cosmetic rules
(``##``, ``#@#``, ``#?#``, ``#$#``) are ignored; ``$options`` are dropped (the rule is taken as
applying to every request, the way a blocked page load experiences it).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from netcheck.errors import InputError
from netcheck.netaddr import url_host
from netcheck.policy.importers import ConfigDecision, EffectiveConfig
from netcheck.policy.match import host_matches
from netcheck.policy.model import Action, Match, Rule
from netcheck.textfile import read_text

MAX_RULES = 2_000_000
_COSMETIC = ("##", "#@#", "#?#", "#$#", "#%#", "$$")
_HOST_CHARS = re.compile(r"^[a-z0-9*.-]+$")


@dataclass(frozen=True)
class AdRule:
    line: int
    text: str
    exception: bool
    host: str | None  # ||host^ form: host and subdomains
    regex: re.Pattern[str] | None  # every other form, on the URL

    def matches(self, url: str, host: str) -> bool:
        if self.host is not None:
            return host_matches("." + self.host, host)
        assert self.regex is not None
        return self.regex.search(url) is not None


class AdblockConfig(EffectiveConfig):
    kind = "adblock"
    layer = "browser"

    def __init__(self, file: str) -> None:
        self.file = file
        self.blocks: list[AdRule] = []
        self.exceptions: list[AdRule] = []
        self.skipped: list[str] = []

    def decide(self, url: str) -> ConfigDecision:
        host = url_host(url)
        for rule in self.exceptions:
            if rule.matches(url, host):
                return ConfigDecision(
                    "allow", self.file, rule.line, f"adblock exception {rule.text} line {rule.line}"
                )
        for rule in self.blocks:
            if rule.matches(url, host):
                return ConfigDecision(
                    "block", self.file, rule.line, f"adblock {rule.text} line {rule.line}"
                )
        return ConfigDecision("allow", self.file, None, "no rule of the list matches", True)

    def rules(self) -> tuple[list[Rule], Action, list[str]]:
        rules: list[Rule] = []
        for rule in [*self.exceptions, *self.blocks]:
            if rule.host is not None:
                match = Match(hosts=["." + rule.host])
            else:
                assert rule.regex is not None
                match = Match(url_regex=[rule.regex.pattern])
            rules.append(
                Rule(
                    id=f"line-{rule.line}",
                    description=rule.text[:200],
                    match=match,
                    action="allow" if rule.exception else "block",
                    source=f"{self.file}:{rule.line}",
                )
            )
        return rules, "allow", self.skipped


def load(path: str) -> AdblockConfig:
    return parse(read_text(path, "ad-block list"), path)


def parse(text: str, file: str) -> AdblockConfig:
    config = AdblockConfig(file)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if (
            not line
            or line.startswith(("!", "["))
            or (line.startswith("#") and not line.startswith("##"))
        ):
            continue
        if any(mark in line for mark in _COSMETIC):
            continue
        rule = _rule(line, number, file)
        if rule is None:
            config.skipped.append(f"{file}:{number} {line[:60]}")
            continue
        if len(config.blocks) + len(config.exceptions) >= MAX_RULES:
            raise InputError(f"more than {MAX_RULES} rules", file=file, line=number)
        (config.exceptions if rule.exception else config.blocks).append(rule)
    return config


def _rule(line: str, number: int, file: str) -> AdRule | None:
    text = line
    exception = line.startswith("@@")
    body = line[2:] if exception else line
    words = body.split()
    if len(words) == 2:
        try:
            ipaddress.ip_address(words[0])
            body = words[1]
        except ValueError:
            return None
    if body.startswith("/") and body.endswith("/") and len(body) > 2:
        try:
            return AdRule(number, text, exception, None, re.compile(body[1:-1]))
        except re.error as exc:
            raise InputError(f"bad regular expression: {exc}", file=file, line=number) from None
    body = body.split("$", 1)[0]
    if body.startswith("||"):
        rest = body[2:]
        host, sep, tail = rest.partition("^")
        if sep and not tail.strip("|") and _HOST_CHARS.match(host.lower()) and "*" not in host:
            return AdRule(number, text, exception, host.lower().rstrip("."), None)
        return AdRule(
            number,
            text,
            exception,
            None,
            re.compile(r"^[a-z][a-z0-9+.-]*://([^/]*\.)?" + _pattern(rest)),
        )
    if body.startswith("|"):
        return AdRule(number, text, exception, None, re.compile("^" + _pattern(body[1:])))
    if _HOST_CHARS.match(body.lower()) and "." in body and "*" not in body:
        return AdRule(number, text, exception, body.lower().rstrip("."), None)
    if not body:
        return None
    return AdRule(number, text, exception, None, re.compile(_pattern(body)))


def _pattern(body: str) -> str:
    """ABP wildcard syntax to a regex: ``*`` anything, ``^`` a separator or the end, ``|`` end."""
    end = body.endswith("|")
    body = body.rstrip("|")
    out = ""
    for char in body:
        if char == "*":
            out += ".*"
        elif char == "^":
            out += r"(?:[^\w.%-]|$)"
        else:
            out += re.escape(char)
    return out + ("$" if end else "")
