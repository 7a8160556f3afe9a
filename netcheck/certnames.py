"""Does a certificate name cover a host name? One rule, RFC 6125 as browsers apply it.

Pure: the TLS stage uses it to judge the leaf against the SNI, the classifier to check the
catalogue's expected names against the SANs a probe recorded.
"""

from __future__ import annotations

import ipaddress


def name_matches(pattern: str, server_name: str) -> bool:
    """Does one SAN entry cover ``server_name``? RFC 6125 rules, as browsers apply them.

    A wildcard is only the whole left-most label, stands for exactly one label, and needs two
    labels after it (``*.com`` covers nothing). IP names match IP SANs only, exactly.
    """
    ip = as_ip(server_name)
    if ip is not None:
        return as_ip(pattern) == ip
    name, pattern = ascii_name(server_name), ascii_name(pattern)
    if not name or not pattern:
        return False
    if pattern == name:
        return True
    head, _, rest = pattern.partition(".")
    if head != "*" or rest.count(".") < 1:
        return False
    name_head, _, name_rest = name.partition(".")
    return bool(name_head) and name_rest == rest


def ascii_name(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


def as_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
