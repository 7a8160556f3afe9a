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
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


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
        super().__init__(file)
        self.blocks: list[AdRule] = []
        self.exceptions: list[AdRule] = []
        self.skipped: list[str] = []
        self.first_skip: tuple[int, str] | None = None  # line and reason of the first one

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
            nothing = "no network rule (||host^, |url, /regex/, host): nothing to import"
            if self.first_skip is not None:  # say what was wrong with the first line left out
                number, why = self.first_skip
                raise InputError(f"{why}; {nothing}", file=self.file, line=number)
            raise InputError(nothing, file=self.file)
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
        words = line.split()
        if len(words) > 1 and is_ip_literal(words[0]):
            rules, left_out = _hosts_line(words[1:], number, line)
        else:
            found = _rule(line, number, file)
            rules, left_out = (
                ([], [f"{found}: {line[:60]}"]) if isinstance(found, str) else ([found], [])
            )
        for why in left_out:
            config.skipped.append(f"{file}:{number}: {why}")
            config.first_skip = config.first_skip or (number, why)
        for rule in rules:
            if len(config.blocks) + len(config.exceptions) >= MAX_RULES:
                raise InputError(f"more than {MAX_RULES} rules", file=file, line=number)
            (config.exceptions if rule.exception else config.blocks).append(rule)
    return config


def _hosts_line(hosts: list[str], number: int, line: str) -> tuple[list[AdRule], list[str]]:
    """A hosts-file line inside an ad-block list (``0.0.0.0 a.com b.com``): each name blocks
    that host and its subdomains, as AdGuard Home reads it; ``localhost`` and other names
    without a domain (the hosts file's own entries) are left out, each with its reason."""
    rules, left_out = [], []
    for host in hosts:
        if host.startswith("#"):
            break
        problem = _host_problem(host)
        if problem is None and "." not in host.strip("."):
            problem = "a name without a domain (a hosts file's own entry)"
        if problem is not None:
            left_out.append(f"hosts entry {host[:60]!r} left out: {problem}")
            continue
        rules.append(AdRule(number, line, False, host.lower().strip("."), None))
    return rules, left_out


def _host_problem(host: str) -> str | None:
    """Why ``host`` is not a host name a rule can block (None if it is one)."""
    if not host.isascii() or not host.isprintable():
        return "not plain ASCII (a Unicode look-alike or a direction mark?); write it as xn--"
    labels = host.lower().strip(".").split(".")
    if not all(_LABEL.match(label) for label in labels):
        return "not a host name (an empty label, or one starting or ending with '-')"
    return None


def _rule(line: str, number: int, file: str) -> AdRule | str:
    """The rule of one line, or why it is left out."""
    text = line
    exception = line.startswith("@@")
    body = line[2:] if exception else line
    if len(body.split()) > 1:
        return "not a rule netcheck reads (blanks inside)"
    if body.startswith("/") and len(body) > 2 and (body.endswith("/") or "/$" in body[1:]):
        try:
            end = len(body) - 1 if body.endswith("/") else body.rindex("/$")
            return AdRule(number, text, exception, None, compile_regex(body[1:end]))
        except RegexProblem as exc:
            raise InputError(str(exc), file=file, line=number, field="/regex/") from None
    body = body.split("$", 1)[0]
    if not body.strip("|*^"):
        # a rule for every URL only makes sense with the $options netcheck drops
        return "not a rule netcheck reads (every URL, with $options)"
    if body.startswith("||"):
        rest = body[2:]
        host, sep, tail = rest.partition("^")
        name = re.split(r"[/^|$:]", rest, maxsplit=1)[0]
        if "*" not in name and name:
            problem = _host_problem(name)
            if problem is not None:
                return f"host {name[:60]!r}: {problem}"
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
    if not body.isascii() or not body.isprintable():
        return "not plain ASCII (a Unicode look-alike or a direction mark?)"
    if _HOST_CHARS.match(body.lower()) and "." in body.strip(".") and "*" not in body:
        problem = _host_problem(body)
        if problem is not None:
            return f"host {body[:60]!r}: {problem}"
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
