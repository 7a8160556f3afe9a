"""The failure vocabulary: one flat string per way a step can fail. Vocabulary only.

Strings follow OONI's ``df-007-errors`` where OONI has a word for it; the few netcheck adds are
marked below. The measure stage maps exceptions to these strings (``netcheck.measure.errmap``);
classification, policy and reports read them, so this module imports nothing that does I/O.
``tests/conftest.py`` checks that each string the probe can emit is produced by at least one test
against a real local server.
"""

from __future__ import annotations

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
