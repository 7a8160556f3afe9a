"""The failure vocabulary: one flat string per way a step can fail, and one mapping function.

Strings follow OONI's ``df-007-errors`` where OONI has a word for it; the few netcheck adds are
marked below. Measurement code calls ``failure_from_exception`` at every step boundary, so that
every lower-level exception (OSError, ssl, httpx, httpcore, dnspython, asyncio) ends up as one of
``ALL_FAILURES`` and never escapes as an exception. ``tests/test_failures.py`` checks that each
string here is produced by at least one test against a real local server.
"""

from __future__ import annotations

import asyncio
import errno
import ssl

import dns.exception
import dns.resolver
import httpcore
import httpx

# --- OONI df-007 -------------------------------------------------------------------------------
CONNECTION_REFUSED = "connection_refused"
CONNECTION_RESET = "connection_reset"
CONNECTION_ABORTED = "connection_aborted"
EOF_ERROR = "eof_error"
GENERIC_TIMEOUT = "generic_timeout_error"
HOST_UNREACHABLE = "host_unreachable"
NETWORK_UNREACHABLE = "network_unreachable"
DNS_NXDOMAIN = "dns_nxdomain_error"
DNS_NO_ANSWER = "dns_no_answer"
DNS_REFUSED = "dns_refused_error"
DNS_SERVFAIL = "dns_servfail_error"
DNS_NON_RECOVERABLE = "dns_non_recoverable_failure"
DNS_TEMPORARY = "dns_temporary_failure"
DNS_BOGON = "dns_bogon_error"
DNS_WRONG_QUERY_ID = "dns_reply_with_wrong_query_id"
SSL_INVALID_HOSTNAME = "ssl_invalid_hostname"
SSL_UNKNOWN_AUTHORITY = "ssl_unknown_authority"
SSL_INVALID_CERTIFICATE = "ssl_invalid_certificate"
SSL_FAILED_HANDSHAKE = "ssl_failed_handshake"
HTTP_REQUEST_FAILED = "http_request_failed"
HTTP_UNEXPECTED_STATUS = "http_unexpected_status_code"
UNKNOWN_FAILURE = "unknown_failure"

# --- netcheck additions (OONI has no single word for these) ------------------------------------
#: the server kept redirecting past the hop limit (10)
HTTP_TOO_MANY_REDIRECTS = "http_too_many_redirects"
#: an explicit proxy refused the request itself (CONNECT answered with a non-2xx status)
HTTP_PROXY_REFUSED = "http_proxy_refused"
#: the response could not be parsed as HTTP (garbage, header section over the cap)
HTTP_INVALID_RESPONSE = "http_invalid_response"
#: the DNS reply could not be parsed as a DNS message
DNS_INVALID_REPLY = "dns_invalid_reply"

OONI_FAILURES = frozenset(
    {
        CONNECTION_REFUSED,
        CONNECTION_RESET,
        CONNECTION_ABORTED,
        EOF_ERROR,
        GENERIC_TIMEOUT,
        HOST_UNREACHABLE,
        NETWORK_UNREACHABLE,
        DNS_NXDOMAIN,
        DNS_NO_ANSWER,
        DNS_REFUSED,
        DNS_SERVFAIL,
        DNS_NON_RECOVERABLE,
        DNS_TEMPORARY,
        DNS_BOGON,
        DNS_WRONG_QUERY_ID,
        SSL_INVALID_HOSTNAME,
        SSL_UNKNOWN_AUTHORITY,
        SSL_INVALID_CERTIFICATE,
        SSL_FAILED_HANDSHAKE,
        HTTP_REQUEST_FAILED,
        HTTP_UNEXPECTED_STATUS,
        UNKNOWN_FAILURE,
    }
)
NETCHECK_FAILURES = frozenset(
    {HTTP_TOO_MANY_REDIRECTS, HTTP_PROXY_REFUSED, HTTP_INVALID_RESPONSE, DNS_INVALID_REPLY}
)
ALL_FAILURES = OONI_FAILURES | NETCHECK_FAILURES
#: OONI words netcheck never writes: bogons are a classification, not a step failure; an
#: unexpected status is recorded as the status itself; a client's ECONNABORTED is a reset to us
NEVER_EMITTED = frozenset({DNS_BOGON, HTTP_UNEXPECTED_STATUS, CONNECTION_ABORTED})
#: what the probe can write in a step's ``failure``
EMITTED = ALL_FAILURES - NEVER_EMITTED
#: the catch-all, for exceptions no test can provoke from a peer; checked by a mapping test
FALLBACK = frozenset({UNKNOWN_FAILURE})

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
