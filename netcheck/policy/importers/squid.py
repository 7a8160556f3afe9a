"""squid.conf as an effective configuration: what ``http_access`` decides for a URL.

In: a squid.conf path (``acl`` values in ``"quoted files"`` are read relative to it). Out:
``SquidConfig`` whose ``decide(url)`` follows squid 5: ``acl`` lines add values to a name;
``http_access`` lines are read top to bottom; the ACLs on one line are ANDed, ``!`` negates one;
the first line that fully matches decides; when none does, the answer is the opposite of the
last line's action (deny when there is no ``http_access`` at all).

What squid sees of a request: for ``https://`` it first sees only ``CONNECT host:443`` (so
``url_regex`` meets ``host:443`` and path rules meet an empty path); only when ``ssl_bump`` bumps
the tunnel does it then see ``GET https://host/path`` and check ``http_access`` again. Client-side
ACLs (``src``, ``proxy_auth``, ``time``...) are taken to match any client; ``dst`` matches only
IP-literal hosts (netcheck does not resolve names). ``ssl_bump`` lines are evaluated with the same
ACLs, skipping ``peek``/``stare`` steps: the first ``bump``, ``splice`` or ``terminate`` decides.
"""

from __future__ import annotations

import functools
import glob
import ipaddress
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from netcheck.errors import InputError
from netcheck.netaddr import host_key
from netcheck.policy.importers import ConfigDecision, Conversion, EffectiveConfig, read_config
from netcheck.policy.model import Action
from netcheck.policy.regex import RegexProblem, compile_regex
from netcheck.textfile import read_text

MAX_VALUES = 500_000
MAX_INCLUDE_DEPTH = 16  # squid's own limit
MAX_FILES = 1000  # the config, include files and acl files
ACCESS_ACTIONS = ("allow", "deny")
BUMP_ACTIONS = (
    "peek",
    "stare",
    "splice",
    "bump",
    "terminate",
    "client-first",
    "server-first",
    "none",
)
DEST_TYPES = ("dstdomain", "ssl::server_name", "dstdom_regex", "url_regex", "urlpath_regex")
CLIENT_TYPES = (
    "src",
    "srcdomain",
    "srcdom_regex",
    "arp",
    "eui64",
    "proxy_auth",
    "proxy_auth_regex",
    "ident",
    "ident_regex",
    "external",
    "time",
    "myip",
    "myportname",
    "localport",
    "maxconn",
    "max_user_ip",
    "browser",
    "referer_regex",
    "req_header",
    "note",
    "at_step",
    "ssl_error",
    "user_cert",
    "ca_cert",
    "random",
    "tag",
)


@dataclass(frozen=True)
class Value:
    text: str
    line: int
    ignore_case: bool = False
    file: str = ""  # the squid.conf or include file of ``line`` ("" = the config itself)


@dataclass
class Acl:
    name: str
    type: str
    line: int  # first definition
    values: list[Value] = field(default_factory=list)


@dataclass(frozen=True)
class Term:
    acl: str
    negated: bool


@dataclass(frozen=True)
class AccessLine:
    action: str
    terms: tuple[Term, ...]
    line: int
    file: str  # the squid.conf, or the include file the line is in


@dataclass(frozen=True)
class Request:
    method: str
    host: str
    port: int
    url: str  # as squid matches url_regex: "host:443" for CONNECT
    path: str


class SquidConfig(EffectiveConfig):
    kind = "squid"
    layer = "proxy"

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.acls: dict[str, Acl] = _predefined()
        self.access: list[AccessLine] = []
        self.bump: list[AccessLine] = []
        self._count = 0
        # the client address ``src`` ACLs are checked against; None = any client matches
        self.client: str | None = None

    # --- decisions ------------------------------------------------------------------------------

    def decide(self, url: str) -> ConfigDecision:
        try:
            parts = urlsplit(url)
            host = host_key(parts.hostname or "")
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InputError(f"not a URL: {url[:80]!r}", field="URL") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme != "https":
            return self._check(Request("GET", host, port, f"http://{parts.netloc}{path}", path), "")
        connect = Request("CONNECT", host, port, f"{host}:{port}", "")
        first = self._check(connect, "CONNECT ")
        if first.action == "block":
            return first
        bump = self._bump_action(connect)
        if bump is None:
            return first
        if bump.action == "terminate":
            return ConfigDecision(
                "block", bump.file, bump.line, f"squid ssl_bump terminate line {bump.line}"
            )
        return self._check(
            Request("GET", host, port, f"https://{parts.netloc}{path}", path), "bumped GET "
        )

    def _check(self, req: Request, what: str) -> ConfigDecision:
        for line in self.access:
            hit = self._line_matches(line, req)
            if hit is not None:
                action: Action = "allow" if line.action == "allow" else "block"
                detail = f"{what}{hit}".strip()
                how = f"squid http_access {line.action} line {line.line}"
                how += f" ({detail})" if detail else ""
                return ConfigDecision(action, line.file, line.line, how)
        if not self.access:
            return ConfigDecision(
                "block", self.file, None, "squid default: no http_access lines", True
            )
        last = self.access[-1]
        action = "block" if last.action == "allow" else "allow"
        how = f"squid default: no http_access line matched; opposite of line {last.line}"
        return ConfigDecision(action, last.file, last.line, how, True)

    def _bump_action(self, req: Request) -> AccessLine | None:
        for line in self.bump:
            if line.action in ("peek", "stare"):
                continue
            if self._line_matches(line, req) is not None:
                return (
                    line
                    if line.action in ("bump", "terminate", "client-first", "server-first")
                    else None
                )
        return None

    def _line_matches(self, line: AccessLine, req: Request) -> str | None:
        """None when the line does not match; else a note naming what matched."""
        note = ""
        for term in line.terms:
            acl = self.acls.get(term.acl)
            if acl is None:
                return None
            value = _acl_match(acl, req, self.client)
            matched = value is not None
            if matched == term.negated:
                return None
            if not note and not term.negated and value is not None and acl.type in DEST_TYPES:
                where = f"{value.file}:{value.line}" if value.file else f"line {value.line}"
                note = f"acl {acl.name} {acl.type} {value.text}, {where}"
        return note

    # --- policy conversion ---------------------------------------------------------------------

    def convert(self) -> Conversion:
        from netcheck.policy.importers.squidpolicy import convert

        return convert(self)


def _acl_match(acl: Acl, req: Request, client: str | None) -> Value | None:
    kind = acl.type
    if kind == "src" and client is not None:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return None
        for value in acl.values:
            if any(address in net for net in src_networks(value.text)):
                return value
        return None
    if kind in CLIENT_TYPES:
        return acl.values[0] if acl.values else Value("any", acl.line)
    for value in acl.values:
        if _value_match(kind, value, req):
            return value
    return None


def _value_match(kind: str, value: Value, req: Request) -> bool:
    text = value.text
    if kind in ("dstdomain", "ssl::server_name"):
        pattern = text.lower()
        if pattern.startswith("."):
            return req.host == pattern[1:] or req.host.endswith(pattern)
        return req.host == pattern
    if kind in ("dstdom_regex", "url_regex", "urlpath_regex"):
        subject = {"dstdom_regex": req.host, "url_regex": req.url, "urlpath_regex": req.path}[kind]
        return compile_regex(text, value.ignore_case).search(subject)
    if kind == "method":
        return req.method == text
    if kind == "port":
        low, high = port_range(text)
        return low <= req.port <= high
    if kind == "dst":
        try:
            return ipaddress.ip_address(req.host) in dst_network(text)
        except ValueError:  # a host name: netcheck does not resolve
            return False
    return True  # an ACL type netcheck does not model: assume it holds for any request


@functools.lru_cache(maxsize=4096)
def src_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The address blocks a ``src`` value names, as squid reads it: ``all``, an address,
    ``addr/prefix`` or ``addr/netmask`` (host bits are masked off, as squid does), or a range
    ``addr1-addr2``. Raises ``ValueError`` for anything else (``10.0.0.0/99``, a host name)."""
    if spec == "all":
        return (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    low, dash, high = spec.partition("-")
    if not dash:
        return (ipaddress.ip_network(spec, strict=False),)
    if "/" in high:
        raise ValueError("a range with a mask is not read by netcheck; write the range alone")
    first, last = ipaddress.ip_address(low), ipaddress.ip_address(high)
    if first.version != last.version or int(first) > int(last):
        raise ValueError(f"{low} is not before {high}")
    return tuple(ipaddress.summarize_address_range(first, last))


# --- parsing ------------------------------------------------------------------------------------

#: the ACLs squid 5 defines before it reads squid.conf (``squid.conf.documented``: "ACLs all,
#: manager, localhost, to_localhost, and CONNECT are predefined"); Debian's default squid.conf
#: uses localhost, manager and CONNECT without defining them
PREDEFINED = (
    ("all", "src", (("all", False),)),
    (
        "manager",
        "url_regex",
        (("^cache_object://", True), ("^[^:]+://[^/]+/squid-internal-mgr/", False)),
    ),
    ("localhost", "src", (("127.0.0.1/32", False), ("::1", False))),
    (
        "to_localhost",
        "dst",
        (("127.0.0.0/8", False), ("0.0.0.0/32", False), ("::1/128", False), ("::/128", False)),
    ),
    ("CONNECT", "method", (("CONNECT", False),)),
)


def _predefined() -> dict[str, Acl]:
    return {
        name: Acl(name, kind, 0, [Value(text, 0, ignore_case) for text, ignore_case in values])
        for name, kind, values in PREDEFINED
    }


# a word squid reads: a "quoted" one whole (a '#' inside it is no comment), else up to a blank
_WORD = re.compile(r'"[^"]*"|\S+')


def _without_comment(line: str) -> str:
    """``line`` up to the word that starts with ``#``: squid reads the rest of the line as a
    comment (Debian's squid.conf: ``acl localnet src 10.0.0.0/8  # RFC 1918 ...``)."""
    if "#" not in line:
        return line
    for word in _WORD.finditer(line):
        if word.group().startswith("#"):
            return line[: word.start()].rstrip()
    return line


def load(path: str) -> SquidConfig:
    config = parse(read_config(path, "squid config"), path)
    if not config.access:
        raise InputError(
            "no http_access line: not a squid config (squid would deny every request)", file=path
        )
    return config


def parse(text: str, file: str) -> SquidConfig:
    config = SquidConfig(file)
    for where, number, line in _lines(config, text, file, ()):
        try:
            # shlex only matters for quotes (and is slow on an acl line of 300,000 values)
            words = shlex.split(line, posix=False) if '"' in line or "'" in line else line.split()
        except ValueError as exc:
            raise InputError(f"cannot split line: {exc}", file=where, line=number) from None
        directive = words[0].lower()
        if directive == "acl":
            _acl(config, words, number, where)
        elif directive in ("http_access", "ssl_bump"):
            _access(config, directive, words, number, where)
    return config


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line's number, line) as squid reads them: blanks and ``#`` comments skipped, each
    line stripped, a line ending in ``\\`` joined to the next (backslash removed, the next
    line's leading blanks dropped, as squid's parser does)."""
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            first = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line = _without_comment(pending + line)
        pending = ""
        if line:
            yield first, line
    if _without_comment(pending).strip():
        yield first, _without_comment(pending)


def _lines(
    config: SquidConfig, text: str, file: str, chain: tuple[str, ...]
) -> Iterator[tuple[str, int, str]]:
    """(file, line number, line) of ``text`` and of the files its ``include`` lines name, in
    the order squid reads them (``chain``: the real paths of the files including this one)."""
    chain = (*chain, os.path.realpath(file))
    for number, line in _logical_lines(text):
        words = line.split()
        if words[0].lower() != "include":
            yield file, number, line
            continue
        if len(words) < 2:
            raise InputError("include needs a file", file=file, line=number, field="include")
        for pattern in words[1:]:
            for included in _included(config, pattern, file, number, chain):
                body = read_config(included, "squid include file")
                yield from _lines(config, body, included, chain)


def _included(
    config: SquidConfig, pattern: str, file: str, number: int, chain: tuple[str, ...]
) -> list[str]:
    """The files an ``include`` names (a glob; relative to the including file's folder), each
    checked: depth, count, cycles. Naming nothing is a warning: those rules are not read."""
    if len(chain) > MAX_INCLUDE_DEPTH:
        raise InputError(
            f"includes nested deeper than {MAX_INCLUDE_DEPTH}",
            file=file,
            line=number,
            field="include",
        )
    full = os.path.join(os.path.dirname(file), pattern)  # an absolute pattern stays as given
    found = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
    found = [path for path in found if os.path.exists(path)]
    if not found:
        config.notes.append(
            f"{file}:{number}: include {pattern} names no file: the rules there are not read"
        )
        return []
    for path in found:
        real = os.path.realpath(path)
        if real in chain:
            raise InputError(
                f"{path} includes itself (an include cycle)",
                file=file,
                line=number,
                field="include",
            )
        if not os.path.isfile(path):  # a fifo or a device would never end
            raise InputError(
                f"{path} is not a readable file", file=file, line=number, field="include"
            )
        config.files.append(real)
        if len(config.files) > MAX_FILES:
            raise InputError(
                f"more than {MAX_FILES} files read", file=file, line=number, field="include"
            )
    return found


def _access(config: SquidConfig, directive: str, words: list[str], number: int, file: str) -> None:
    if len(words) < 2:
        raise InputError(f"{directive} needs an action", file=file, line=number, field=directive)
    action = words[1].lower()
    allowed = ACCESS_ACTIONS if directive == "http_access" else BUMP_ACTIONS
    if action not in allowed:
        raise InputError(
            f"{directive} action must be one of {', '.join(allowed)}, not {words[1]!r}",
            file=file,
            line=number,
            field=directive,
        )
    terms = tuple(Term(w.lstrip("!"), w.startswith("!")) for w in words[2:])
    for term in terms:
        if term.acl not in config.acls:
            raise InputError(
                f"acl {term.acl!r} is not defined above", file=file, line=number, field=directive
            )
    target = config.access if directive == "http_access" else config.bump
    target.append(AccessLine(action, terms, number, file))


def _acl(config: SquidConfig, words: list[str], number: int, file: str) -> None:
    if len(words) < 3:
        raise InputError("acl needs a name and a type", file=file, line=number, field="acl")
    name, kind = words[1], words[2].lower()
    acl = config.acls.get(name)
    if acl is None:
        acl = config.acls[name] = Acl(name, kind, number)
    elif acl.type != kind:
        raise InputError(
            f"acl {name!r} was defined as {acl.type} on line {acl.line}, not {kind}",
            file=file,
            line=number,
            field="acl",
        )
    ignore_case = False
    here = "" if file == config.file else file
    for word in words[3:]:
        if word in ("-i", "+i"):
            ignore_case = word == "-i"
            continue
        if word.startswith("-") and kind not in ("port",) and word in ("-n", "-m", "--"):
            continue
        if word.startswith('"') and word.endswith('"') and len(word) > 2:
            included = os.path.join(os.path.dirname(file), word[1:-1])
            if not os.path.isfile(included):  # a fifo or a device would never end
                raise InputError(
                    f"acl file {word} is not a readable file", file=file, line=number, field="acl"
                )
            config.files.append(os.path.realpath(included))
            lines = read_text(included, "acl file").splitlines()
            for sub, value in enumerate(lines, start=1):
                value = value.split("#", 1)[0].strip()
                if value:
                    _add(config, acl, Value(value, number, ignore_case, here), f"{included}:{sub}")
            continue
        _add(config, acl, Value(word, number, ignore_case, here), None)


def _add(config: SquidConfig, acl: Acl, value: Value, where: str | None) -> None:
    file = value.file or config.file
    config._count += 1
    if config._count > MAX_VALUES:
        raise InputError(f"more than {MAX_VALUES} acl values", file=file, line=value.line)
    problem = _value_problem(acl.type, value)
    if problem:
        raise InputError(
            f"{problem}{' (in ' + where + ')' if where else ''}",
            file=file,
            line=value.line,
            field=f"acl {acl.name}",
        )
    acl.values.append(value)


def _value_problem(kind: str, value: Value) -> str | None:
    """Why squid refuses to start on this acl value (None if it does not)."""
    text = value.text
    if kind in ("dstdom_regex", "url_regex", "urlpath_regex"):
        try:
            compile_regex(text, value.ignore_case)
        except RegexProblem as exc:
            return str(exc)
        return None
    try:
        if kind == "src":
            src_networks(text)
        elif kind == "dst":
            dst_network(text)
        elif kind == "port":
            port_range(text)
    except ValueError as exc:
        # squid itself refuses such a line; never read it as "every client" or "no request"
        what = {"src": "an address, network or range", "dst": "an address or network"}.get(
            kind, "a port or port range"
        )
        return f"{text[:80]!r} is not {what} for a {kind} acl ({exc})"
    return None


def dst_network(spec: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A ``dst`` value: an address or ``addr/prefix`` (host bits masked off, as squid does).
    Raises ``ValueError`` for anything else (``10.0.0.0/99``, ``abc``)."""
    return ipaddress.ip_network(spec, strict=False)


def port_range(spec: str) -> tuple[int, int]:
    """A ``port`` value: ``N`` or ``N-M``, each 0-65535. Raises ``ValueError`` otherwise."""
    low, dash, high = spec.partition("-")
    ends = (low, high) if dash else (low, low)
    if not all(e.isascii() and e.isdigit() and int(e) <= 65535 for e in ends):
        raise ValueError("a port is a number from 0 to 65535")
    first, last = int(ends[0]), int(ends[1])
    if first > last:
        raise ValueError(f"{first} is not before {last}")
    return first, last
