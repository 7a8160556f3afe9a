"""Addresses and host names: is this answer a bogon, is it inside an allowed range, which host.

In: IP address strings (as recorded in DNS answers, TCP steps, redirect hosts), CIDR specs from
``--allow-net``, URLs and host names. Out: booleans, parsed networks, and host names in the one
form every stage compares (``host_key``). Pure, no sockets.

Host case has one rule, ``host_key``: strip spaces and the trailing dot, then ``str.lower()``,
which is what ``urlsplit().hostname`` does. Not ``casefold()``: it maps "ß" to "ss" where IDNA
does not, so two stages could disagree about one name.

A *bogon* here is any address that cannot be the public address of an internet service:
private, loopback, link-local, CGNAT, multicast, reserved, documentation and benchmarking ranges.
A resolver that answers a public name with one of these is sinkholing it. ``allow_nets`` marks
ranges whose answers are legitimate on this network (the lab's 198.18.0.0/15, an agency's own
reverse proxies on 10.x), so they are not called sinkholes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeAlias
from urllib.parse import urljoin, urlsplit

from netcheck.errors import InputError

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_BOGON_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.168.0.0/16",
        "198.18.0.0/15",  # RFC 2544 benchmarking: special-purpose, the lab allows it explicitly
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes 255.255.255.255
    )
)
_BOGON_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "100::/64",  # discard-only
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)


def parse_ip(text: str) -> IPAddress | None:
    """The address in ``text`` (IPv4-mapped IPv6 unwrapped to IPv4), or None if it is not one."""
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_ip_literal(host: str) -> bool:
    """True when a URL host is an address rather than a name."""
    return parse_ip(host) is not None


def is_bogon(ip: str) -> bool:
    """True when ``ip`` is in a range no public service can answer from; False for non-addresses."""
    addr = parse_ip(ip)
    if addr is None:
        return False
    if isinstance(addr, ipaddress.IPv4Address):
        return any(addr in net for net in _BOGON_V4)
    return any(addr in net for net in _BOGON_V6)


def parse_cidr(spec: str) -> IPNetwork:
    """Parse one ``--allow-net`` value: a CIDR (host bits tolerated) or a single address."""
    text = spec.strip()
    if not text:
        raise InputError("empty network; expected a CIDR such as 10.0.0.0/8", field="--allow-net")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise InputError(
            f"{spec!r} is not a network; expected a CIDR such as 10.0.0.0/8 ({exc})",
            field="--allow-net",
        ) from None


def in_nets(ip: str, nets: Iterable[str | IPNetwork]) -> bool:
    """True when ``ip`` lies inside any of ``nets`` (strings are parsed with ``parse_cidr``)."""
    addr = parse_ip(ip)
    if addr is None:
        return False
    for net in nets:
        parsed = parse_cidr(net) if isinstance(net, str) else net
        if addr.version == parsed.version and addr in parsed:
            return True
    return False


def is_sinkhole_address(ip: str, allow_nets: Iterable[str | IPNetwork] = ()) -> bool:
    """A bogon that the operator did not declare legitimate with ``--allow-net``."""
    return is_bogon(ip) and not in_nets(ip, allow_nets)


# --- host names and URLs ------------------------------------------------------------------------


def host_key(name: str | None) -> str:
    """``name`` as every stage compares it: stripped, without the trailing dot, lower case."""
    return (name or "").strip().rstrip(".").lower()


def url_host(url: str, base: str | None = None) -> str:
    """The host of ``url`` (resolved against ``base``) as ``host_key`` gives it; "" when the
    URL is malformed or has no host."""
    try:
        return host_key(urlsplit(urljoin(base, url) if base else url).hostname)
    except ValueError:
        return ""


def url_scheme(url: str) -> str:
    """The scheme of ``url`` in lower case; "" when the URL is malformed."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def http_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an http(s) address a flag or config names (a collector, a
    webhook, a speed test), or None: a scheme http/https, a host, a port from 1 to 65535, no
    white space or control characters (an unquoted space, a NUL, a line break)."""
    try:
        parts = urlsplit(url)
        port, host = parts.port, parts.hostname
    except ValueError as exc:
        return f"not a URL ({exc}): {url[:80]!r}"
    if parts.scheme not in ("http", "https"):
        return f"not an http(s) URL: {url[:80]!r}"
    if not host or port == 0 or any(c.isspace() or not c.isprintable() for c in url):
        return f"not an http(s) URL with a host: {url[:80]!r}"
    return None


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, the port defaulting by scheme. Raises
    ``ValueError`` on a malformed URL (a bad port)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, host_key(parts.hostname), parts.port or (443 if scheme == "https" else 80)


def host_problem(host: str) -> str | None:
    """Why ``host`` (as ``urlsplit`` gives it) is not an address or a DNS name a resolver
    could be asked for, or None. Without this an empty label, a label over 63 bytes or a
    broken ``xn--`` label went to the resolver, failed there, and came back as a verdict
    ("blocked: DNS filter") about a name nobody could have reached."""
    if ":" in host:  # only an IPv6 literal has colons here; urlsplit checked its brackets
        return None if is_ip_literal(host) else "not an IPv6 address"
    name = host.removesuffix(".")
    try:
        # the IDNA form is what goes on the wire (and what TLS compares): fullwidth letters
        # map to ASCII, a label IDNA cannot encode is refused here
        wire = name if name.isascii() else name.encode("idna").decode("ascii")
    except UnicodeError:
        return "not a valid international host name"
    labels = wire.split(".")
    if not name or any(not label for label in labels):
        return "an empty label in the host name"
    if len(wire) > 253 or any(len(label) > 63 for label in labels):
        return "host name too long (a label over 63, or the name over 253 characters)"
    if labels[-1].isdigit() and not is_ip_literal(name):
        return "not an IPv4 address and not a host name"
    for label in labels:
        if label.lower().startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return f"label {label[:63]!r} is not valid punycode"
    return None
