"""Host and URL matching, and whether one pattern's matches contain another's.

In: host patterns as written in policies and imported configs; host names and URLs. Out: booleans.

- ``example.com``   that host only
- ``.example.com``  the domain and every subdomain (squid's dot-domain)
- ``*.example.com`` subdomains only (``*`` crosses dots, like RPZ's and most lists' wildcards)
- any other pattern with ``* ? [..]`` is a shell glob on the whole host name
Everything is case-insensitive and a trailing dot is ignored. ``covers`` is conservative: when
it says True, every host the inner pattern matches is matched by the outer one; it may say False
for some covered cases (which makes shadowing reports safe: never a false alarm).

``HostSet`` answers ``host_matches`` for a whole list of patterns at once, in one set lookup per
label of the host rather than one comparison per pattern: a rule imported from an acl of
100,000 domains is checked as fast as a rule of one.
"""

from __future__ import annotations

import fnmatch
import functools
import re

from netcheck.netaddr import host_key

_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    return any(c in _GLOB_CHARS for c in pattern)


@functools.lru_cache(maxsize=8192)  # more than a policy's MAX_PATTERNS
def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def host_matches(pattern: str, host: str) -> bool:
    """Does ``host`` fall under ``pattern``? (Both are normalised here.)"""
    pattern = host_key(pattern)
    host = host_key(host)
    if not host:
        return False
    if pattern.startswith(".") and not is_glob(pattern):
        domain = pattern[1:]
        return host == domain or host.endswith(pattern)
    if is_glob(pattern):
        return _glob_regex(pattern).match(host) is not None
    return host == pattern


def url_matches(pattern: str, url: str) -> bool:
    return _glob_regex(pattern).match(url) is not None


def suffix_kind(pattern: str) -> tuple[str, str] | None:
    """('exact'|'dot'|'sub', domain) for the three plain shapes, None for a general glob."""
    if pattern == "*":
        return ("any", "")
    if pattern.startswith("*.") and not is_glob(pattern[2:]):
        return ("sub", pattern[2:])
    if is_glob(pattern):
        return None
    if pattern.startswith("."):
        return ("dot", pattern[1:])
    return ("exact", pattern)


def _under(name: str, domain: str) -> bool:
    """``name`` is ``domain`` or below it."""
    return name == domain or name.endswith("." + domain)


def covers(outer: str, inner: str) -> bool:
    """Every host ``inner`` matches is matched by ``outer`` (conservative)."""
    outer, inner = host_key(outer), host_key(inner)
    if outer == inner:
        return True
    o, i = suffix_kind(outer), suffix_kind(inner)
    if o is None or i is None:
        # a general glob covers an exact host it matches; anything else is left undecided
        return i is not None and i[0] == "exact" and host_matches(outer, i[1])
    okind, odom = o
    ikind, idom = i
    if okind == "any":
        return True
    if ikind == "any":
        return False
    if okind == "exact":
        return ikind == "exact" and idom == odom
    if okind == "dot":
        return _under(idom, odom)
    # okind == "sub": strictly below odom
    if ikind == "exact":
        return idom != odom and _under(idom, odom)
    if ikind == "dot":
        return idom != odom and _under(idom, odom)
    return _under(idom, odom)


class HostSet:
    """A list of host patterns, matched as ``any(host_matches(p, host) for p in patterns)``."""

    __slots__ = ("exact", "dot", "sub", "globs")

    def __init__(self, patterns: list[str]) -> None:
        self.exact: set[str] = set()
        self.dot: set[str] = set()
        self.sub: set[str] = set()
        self.globs: list[str] = []  # "*" and every other shell glob
        for raw in patterns:
            pattern = host_key(raw)
            shape = suffix_kind(pattern)
            if shape is None or shape[0] == "any":
                self.globs.append(pattern)
            else:
                {"exact": self.exact, "dot": self.dot, "sub": self.sub}[shape[0]].add(shape[1])

    def domains(self) -> set[str]:
        """Every domain a matching host ends with, or an empty set when a glob may match any."""
        return set() if self.globs else self.exact | self.dot | self.sub

    def matches(self, host: str) -> bool:
        host = host_key(host)
        if not host:
            return False
        if host in self.exact or host in self.dot:
            return True
        labels = host.split(".")
        for k in range(1, len(labels)):
            suffix = ".".join(labels[k:])
            if suffix in self.dot or suffix in self.sub:
                return True
        return any(_glob_regex(pattern).match(host) is not None for pattern in self.globs)
