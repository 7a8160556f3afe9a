"""An ad-block list (AdGuard / Adblock Plus syntax, as Pi-hole and AdGuard Home read it).

In: a list file. Out: ``AdblockConfig``. Network rules only: ``||host^`` blocks the host and its
subdomains, ``||host/path`` and ``|https://...`` block URLs by prefix, ``/regex/`` by regular
expression, ``@@`` makes any of these an exception, and an exception always wins over a block.
A bare ``host`` line or a hosts-style ``0.0.0.0 host`` line blocks that host and its subdomains
(AdGuard Home's reading). Comments (``!``, ``#``, ``[Adblock Plus 2.0]``) and cosmetic rules
(``##``, ``#@#``, ``#?#``, ``#$#``) are ignored; ``$options`` are dropped (the rule is taken as
applying to every request, the way a blocked page load experiences it).

Every pattern runs on RE2 (``policy.regex``): a ``/regex/`` RE2 cannot run (a backreference,
lookaround) is an ``InputError`` at its line. A list with no network rule at all blocks nothing,
and ``policy import`` refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netcheck.errors import InputError
from netcheck.netaddr import host_key, is_ip_literal, url_host
from netcheck.policy.importers import ConfigDecision, Conversion, EffectiveConfig, read_config
from netcheck.policy.match import host_matches
from netcheck.policy.regex import RegexProblem, UserRegex, compile_regex

MAX_RULES = 2_000_000
_COSMETIC = ("##", "#@#", "#?#", "#$#", "#%#", "$$")
_HOST_CHARS = re.compile(r"^[a-z0-9*.-]+$")


@dataclass(frozen=True)
class AdRule:
    line: int
    text: str
    exception: bool
    host: str | None  # ||host^ form: host and subdomains
    regex: UserRegex | None  # every other form, on the URL (run by RE2: linear time)

    def matches(self, url: str, host: str) -> bool:
        if self.host is not None:
            return host_matches("." + self.host, host)
        assert self.regex is not None
        return self.regex.search(url)


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

    def convert(self) -> Conversion:
        # exceptions win over blocks whatever their order: they go first in a first-match policy
        if not self.blocks and not self.exceptions:
            raise InputError(
                "no network rule (||host^, |url, /regex/, host): nothing to import", file=self.file
            )
        done = Conversion([], "allow", list(self.skipped))
        for rule in [*self.exceptions, *self.blocks]:
            if rule.host is not None:
                match: dict[str, list[str]] = {"hosts": ["." + rule.host]}
            else:
                assert rule.regex is not None
                match = {"url_regex": [rule.regex.pattern]}
            done.add(
                self.file,
                rule.line,
                id=f"line-{rule.line}",
                description=rule.text[:200],
                match=match,
                action="allow" if rule.exception else "block",
                source=f"{self.file}:{rule.line}",
            )
        return done


def load(path: str) -> AdblockConfig:
    return parse(read_config(path, "ad-block list"), path)


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
            config.skipped.append(f"{file}:{number}: not a rule netcheck reads: {line[:60]}")
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
    if len(words) == 2:  # a hosts-file line inside an ad-block list: address, then the host
        if not is_ip_literal(words[0]):
            return None
        body = words[1]
    if body.startswith("/") and body.endswith("/") and len(body) > 2:
        try:
            return AdRule(number, text, exception, None, compile_regex(body[1:-1]))
        except RegexProblem as exc:
            raise InputError(str(exc), file=file, line=number, field="/regex/") from None
    body = body.split("$", 1)[0]
    if not body.strip("|*^"):
        return None  # a rule for every URL only makes sense with the $options netcheck drops
    if body.startswith("||"):
        rest = body[2:]
        host, sep, tail = rest.partition("^")
        host = host_key(host)
        plain = _HOST_CHARS.match(host) and "*" not in host and not host.startswith(".")
        if sep and not tail.strip("|") and plain and host.strip(".-"):
            return AdRule(number, text, exception, host, None)
        return AdRule(
            number,
            text,
            exception,
            None,
            _compiled(r"^[a-z][a-z0-9+.-]*://([^/]*\.)?" + _pattern(rest), number, file),
        )
    if body.startswith("|"):
        regex = _compiled("^" + _pattern(body[1:]), number, file)
        return AdRule(number, text, exception, None, regex)
    if _HOST_CHARS.match(body.lower()) and "." in body.strip(".") and "*" not in body:
        return AdRule(number, text, exception, body.lower().strip("."), None)
    return AdRule(number, text, exception, None, _compiled(_pattern(body), number, file))


def _compiled(pattern: str, number: int, file: str) -> UserRegex:
    """A pattern built from a rule's wildcards: RE2 runs it unless the rule is too long."""
    try:
        return compile_regex(pattern)
    except RegexProblem as exc:
        raise InputError(str(exc), file=file, line=number, field="rule") from None


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
