"""Exception -> failure string: the one place where a lower-level error becomes data.

In: any exception raised while measuring (OSError, ssl, httpx, httpcore, dnspython, asyncio).
Out: one string of ``netcheck.failures.ALL_FAILURES``. Measurement code calls
``failure_from_exception`` at every step boundary, so no exception escapes a step;
``tests/measure/test_failures.py`` checks the mapping.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Callable

import dns.exception
import dns.resolver
import httpcore
import httpx

from netcheck.failures import (
    CONNECTION_REFUSED,
    CONNECTION_RESET,
    DNS_INVALID_REPLY,
    DNS_NO_ANSWER,
    DNS_NXDOMAIN,
    DNS_SERVFAIL,
    EOF_ERROR,
    GENERIC_TIMEOUT,
    HOST_UNREACHABLE,
    HTTP_INVALID_RESPONSE,
    HTTP_PROXY_REFUSED,
    HTTP_REQUEST_FAILED,
    HTTP_TOO_MANY_REDIRECTS,
    NETWORK_UNREACHABLE,
    SSL_FAILED_HANDSHAKE,
    SSL_INVALID_CERTIFICATE,
    SSL_INVALID_HOSTNAME,
    SSL_UNKNOWN_AUTHORITY,
    UNKNOWN_FAILURE,
)

_ERRNO = {
    errno.ECONNREFUSED: CONNECTION_REFUSED,
    errno.ECONNRESET: CONNECTION_RESET,
    errno.ECONNABORTED: CONNECTION_RESET,
    errno.EPIPE: CONNECTION_RESET,
    errno.ETIMEDOUT: GENERIC_TIMEOUT,
    errno.EHOSTUNREACH: HOST_UNREACHABLE,
    errno.EHOSTDOWN: HOST_UNREACHABLE,
    errno.ENETUNREACH: NETWORK_UNREACHABLE,
    errno.ENETDOWN: NETWORK_UNREACHABLE,
    errno.EACCES: HOST_UNREACHABLE,  # a local firewall's reject (EACCES/EPERM on connect)
    errno.EPERM: HOST_UNREACHABLE,
}


def failure_from_exception(exc: BaseException) -> str:
    """Map any exception raised while measuring to one string of ``ALL_FAILURES``.

    The order matters: the most specific types are checked first, and wrapped causes
    (httpx -> httpcore -> OSError/ssl) are followed before giving up with ``unknown_failure``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _direct(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return UNKNOWN_FAILURE


def _certificate(exc: BaseException) -> str:
    code = getattr(exc, "verify_code", None)
    if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
        return SSL_INVALID_HOSTNAME
    if code in (18, 19, 20, 21, 2):  # self-signed, untrusted chain, no issuer
        return SSL_UNKNOWN_AUTHORITY
    return SSL_INVALID_CERTIFICATE


def _handshake(exc: BaseException) -> str:
    reason = (getattr(exc, "reason", "") or "").upper()
    return CONNECTION_RESET if "RESET" in reason else SSL_FAILED_HANDSHAKE


def _errno(exc: BaseException) -> str | None:
    return _ERRNO.get(exc.errno) if isinstance(exc, OSError) and exc.errno is not None else None


def _protocol(exc: BaseException) -> str:
    text = str(exc).lower()
    if "without sending" in text or "peer closed" in text or "incomplete" in text:
        return EOF_ERROR
    return HTTP_INVALID_RESPONSE


def _read_or_write(exc: BaseException) -> str:
    return CONNECTION_RESET if "reset" in str(exc).lower() else EOF_ERROR


def _follow_cause(exc: BaseException) -> None:
    """httpx's ConnectError says nothing itself: the OSError under it does (else unknown)."""


_Rule = str | Callable[[BaseException], str | None]

#: first match wins, so the most specific types come first: ssl errors are OSErrors, timeouts
#: are OSErrors, asyncio.IncompleteReadError is an EOFError
_RULES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], _Rule], ...] = (
    ((asyncio.TimeoutError, TimeoutError, dns.exception.Timeout), GENERIC_TIMEOUT),
    ((httpx.TimeoutException, httpcore.TimeoutException), GENERIC_TIMEOUT),
    (dns.resolver.NXDOMAIN, DNS_NXDOMAIN),
    (dns.resolver.NoAnswer, DNS_NO_ANSWER),
    (dns.resolver.NoNameservers, DNS_SERVFAIL),
    ((dns.exception.FormError, dns.exception.SyntaxError), DNS_INVALID_REPLY),
    (ssl.SSLCertVerificationError, _certificate),
    (ssl.SSLEOFError, EOF_ERROR),
    (ssl.SSLError, _handshake),
    (ConnectionRefusedError, CONNECTION_REFUSED),
    ((ConnectionResetError, BrokenPipeError, ConnectionAbortedError), CONNECTION_RESET),
    (asyncio.IncompleteReadError, EOF_ERROR),
    (OSError, _errno),
    ((httpx.RemoteProtocolError, httpcore.RemoteProtocolError), _protocol),
    (httpx.TooManyRedirects, HTTP_TOO_MANY_REDIRECTS),
    ((httpx.DecodingError, httpx.LocalProtocolError), HTTP_REQUEST_FAILED),
    ((httpx.ProxyError, httpcore.ProxyError), HTTP_PROXY_REFUSED),
    ((httpx.ReadError, httpcore.ReadError, httpx.WriteError), _read_or_write),
    ((httpx.ConnectError, httpcore.ConnectError), _follow_cause),
    (EOFError, EOF_ERROR),
)


def _direct(exc: BaseException) -> str | None:
    """The failure ``exc`` names by itself; None: look at what caused it."""
    for types, rule in _RULES:
        if isinstance(exc, types):
            return rule if isinstance(rule, str) else rule(exc)
    return None
