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


def _direct(exc: BaseException) -> str | None:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, dns.exception.Timeout)):
        return GENERIC_TIMEOUT
    if isinstance(exc, (httpx.TimeoutException, httpcore.TimeoutException)):
        return GENERIC_TIMEOUT
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return DNS_NXDOMAIN
    if isinstance(exc, dns.resolver.NoAnswer):
        return DNS_NO_ANSWER
    if isinstance(exc, dns.resolver.NoNameservers):
        return DNS_SERVFAIL
    if isinstance(exc, dns.exception.FormError | dns.exception.SyntaxError):
        return DNS_INVALID_REPLY
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            return SSL_INVALID_HOSTNAME
        if code in (18, 19, 20, 21, 2):  # self-signed, untrusted chain, no issuer
            return SSL_UNKNOWN_AUTHORITY
        return SSL_INVALID_CERTIFICATE
    if isinstance(exc, ssl.SSLEOFError):
        return EOF_ERROR
    if isinstance(exc, ssl.SSLError):
        reason = (getattr(exc, "reason", "") or "").upper()
        if "RESET" in reason:
            return CONNECTION_RESET
        return SSL_FAILED_HANDSHAKE
    if isinstance(exc, (ConnectionRefusedError,)):
        return CONNECTION_REFUSED
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return CONNECTION_RESET
    if isinstance(exc, ConnectionAbortedError):
        return CONNECTION_RESET
    if isinstance(exc, asyncio.IncompleteReadError):
        return EOF_ERROR
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    if isinstance(exc, (httpx.RemoteProtocolError, httpcore.RemoteProtocolError)):
        text = str(exc).lower()
        if "without sending" in text or "peer closed" in text or "incomplete" in text:
            return EOF_ERROR
        return HTTP_INVALID_RESPONSE
    if isinstance(exc, (httpx.TooManyRedirects,)):
        return HTTP_TOO_MANY_REDIRECTS
    if isinstance(exc, (httpx.DecodingError, httpx.LocalProtocolError)):
        return HTTP_REQUEST_FAILED
    if isinstance(exc, (httpx.ProxyError, httpcore.ProxyError)):
        return HTTP_PROXY_REFUSED
    if isinstance(exc, (httpx.ReadError, httpcore.ReadError, httpx.WriteError)):
        return CONNECTION_RESET if "reset" in str(exc).lower() else EOF_ERROR
    if isinstance(exc, (httpx.ConnectError, httpcore.ConnectError)):
        return None  # follow __cause__/__context__ to the OSError; else unknown
    if isinstance(exc, EOFError):
        return EOF_ERROR
    return None
