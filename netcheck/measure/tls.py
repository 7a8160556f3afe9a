"""The TLS stage: one handshake with SNI, then an offline verdict on the chain the server sent.

In: an IP and port (``measure_tls``) or an already open stream such as a proxy CONNECT tunnel
(``measure_tls_over``), the SNI to send, the run's ``Trust``, a deadline. Out: a ``TlsStep`` with
the negotiated version and ALPN, the chain's facts (leaf first), ``trusted_public``,
``trusted_local``, ``hostname_matches`` and a ``failure`` string or None.

Why one unverified handshake and an offline check, rather than letting ``ssl`` verify: a verifying
handshake stops at the first problem and hides the certificate, and the certificate is the
evidence (whose CA, which names). So the handshake runs with CERT_NONE and the chain is verified
afterwards with ``cryptography.x509.verification``, twice: against the public anchors and against
the local (corporate) ones. The name is checked on its own, so "trusted CA, wrong name" (an SNI
filter's stock certificate) is told apart from "unknown CA" (a self-signed block page).

The handshake is driven by hand over memory BIOs instead of ``start_tls``: the same code then works
on a direct connection and inside a tunnel, and a peer that closes (EOF) is distinguishable from
one that resets, which asyncio's ssl protocol reports alike.

Failure when the handshake fails: connection_reset, eof_error, generic_timeout_error,
ssl_failed_handshake (alert, garbage). When it succeeds, ``failure`` is set from the chain:
leaf expired or not yet valid, or unparsable -> ssl_invalid_certificate (Go's verifier, hence
OONI, checks validity first too); trusted by either set but wrong name -> ssl_invalid_hostname;
trusted by neither -> ssl_unknown_authority; trusted locally only and the right name -> None
(interception: the step worked, the classifier flags it).
"""

from __future__ import annotations

import _ssl
import asyncio
import contextlib
import functools
import hashlib
import ssl
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from netcheck import failures
from netcheck.certnames import as_ip, ascii_name, name_matches
from netcheck.measure.errmap import failure_from_exception
from netcheck.measure.tcp import open_tcp
from netcheck.measure.trust import Trust, anchor_stores
from netcheck.models import CertFacts, Steps, TlsStep

#: bytes asked of the stream per read while handshaking
READ_CHUNK = 16 * 1024
#: certificates kept from what a server sends (real chains are 2-4; the rest is noise or abuse)
MAX_CHAIN = 10
#: how long closing may take before the connection is aborted instead
CLOSE_GRACE = 1.0

_DEFAULT_ALPN = ("h2", "http/1.1")


@dataclass(frozen=True)
class ChainAssessment:
    """What the offline check concluded about a presented chain (see ``assess_chain``)."""

    chain: list[CertFacts] = field(default_factory=list)
    trusted_public: bool | None = None
    trusted_local: bool | None = None
    hostname_matches: bool | None = None
    failure: str | None = None


# --- the measurement ---------------------------------------------------------------------------


async def measure_tls(
    ip: str,
    port: int,
    server_name: str,
    *,
    trust: Trust,
    timeout: float,
    t0: float,
    alpn: Sequence[str] = _DEFAULT_ALPN,
) -> TlsStep:
    """Connect to ip:port and handshake with SNI ``server_name``; ``timeout`` bounds both.

    ``t0_ms``/``runtime_ms`` time the handshake alone (the TCP stage times the connect); when the
    connect itself fails they time the connect and ``failure`` says why it failed. ``ip`` must be
    an IP literal (ValueError otherwise: resolving is the DNS stage's job).
    """
    deadline = asyncio.get_running_loop().time() + timeout
    start = time.monotonic()
    try:
        reader, writer = await open_tcp(ip, port, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        return TlsStep(
            ip=ip,
            port=port,
            server_name=server_name,
            proxy=None,
            trusted_public=None,
            trusted_local=None,
            failure=failure_from_exception(exc),
            t0_ms=(start - t0) * 1000,
            runtime_ms=(time.monotonic() - start) * 1000,
        )
    return await _handshake_step(
        reader, writer, server_name, ip, port, None, trust, deadline, t0, tuple(alpn)
    )


async def measure_tls_over(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    server_name: str,
    *,
    port: int,
    proxy: str | None,
    trust: Trust,
    timeout: float,
    t0: float,
    alpn: Sequence[str] = _DEFAULT_ALPN,
) -> TlsStep:
    """Handshake over an open stream (a CONNECT tunnel); the stream is closed afterwards."""
    deadline = asyncio.get_running_loop().time() + timeout
    return await _handshake_step(
        reader, writer, server_name, None, port, proxy, trust, deadline, t0, tuple(alpn)
    )


async def _handshake_step(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    server_name: str,
    ip: str | None,
    port: int,
    proxy: str | None,
    trust: Trust,
    deadline: float,
    t0: float,
    alpn: tuple[str, ...],
) -> TlsStep:
    start = time.monotonic()
    version: str | None = None
    selected: str | None = None
    assessment = ChainAssessment()
    try:
        async with asyncio.timeout_at(deadline):
            tls = await _handshake(reader, writer, server_name, alpn)
        version = tls.version()
        selected = tls.selected_alpn_protocol()
        assessment = assess_chain(_chain_der(tls), server_name, trust)
    except (OSError, EOFError, TimeoutError, ValueError) as exc:
        # ValueError: an SNI the ssl module refuses to encode; still data, not a crash.
        assessment = ChainAssessment(failure=failure_from_exception(exc))
    finally:
        await _close(writer, failed=version is None)
    return TlsStep(
        ip=ip,
        port=port,
        server_name=server_name,
        proxy=proxy,
        tls_version=version,
        alpn=selected,
        chain=assessment.chain,
        trusted_public=assessment.trusted_public,
        trusted_local=assessment.trusted_local,
        hostname_matches=assessment.hostname_matches,
        failure=assessment.failure,
        t0_ms=(start - t0) * 1000,
        runtime_ms=(time.monotonic() - start) * 1000,
    )


@functools.lru_cache(maxsize=8)
def _client_context(alpn: tuple[str, ...]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # verified offline afterwards, see the module docstring
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


async def _handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    server_name: str,
    alpn: tuple[str, ...],
) -> ssl.SSLObject:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sni = server_name.rstrip(".") or None
    tls = _client_context(alpn).wrap_bio(incoming, outgoing, server_hostname=sni)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            # Send our alert if there is one; the peer's view of the failure is not our concern.
            with contextlib.suppress(OSError):
                writer.write(outgoing.read())
            raise
        await _flush(writer, outgoing)
        data = await reader.read(READ_CHUNK)
        if not data:
            raise EOFError("peer closed the connection during the TLS handshake")
        incoming.write(data)
    await _flush(writer, outgoing)  # TLS 1.3: our Finished is still in the BIO
    return tls


async def _flush(writer: asyncio.StreamWriter, outgoing: ssl.MemoryBIO) -> None:
    data = outgoing.read()
    if data:
        writer.write(data)
        await writer.drain()


async def _close(writer: asyncio.StreamWriter, *, failed: bool) -> None:
    # A graceful close waits for unsent bytes to drain, which a black-hole peer never allows and
    # which would outlive the deadline: after a failure, or with bytes still queued, abort.
    if failed or writer.transport.get_write_buffer_size():
        writer.transport.abort()
        return
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()


def _chain_der(tls: ssl.SSLObject) -> list[bytes]:
    # Python 3.13 made get_unverified_chain public (DER bytes); 3.10-3.12 have it on the private
    # _sslobj (certificate objects with public_bytes). Without either, the leaf alone.
    getter = getattr(tls, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        leaf = tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    ders: list[bytes] = []
    for item in (getter() or [])[:MAX_CHAIN]:
        ders.append(item if isinstance(item, bytes) else item.public_bytes(_ssl.ENCODING_DER))
    return ders


def note_cert_names(steps: Steps, expected: Sequence[str]) -> Steps:
    """``steps`` with every handshake's ``cert_names_missing`` filled: the names of ``expected``
    (the target's ``expect.cert_names``) that its leaf does not list. A fact about the
    certificate, recorded for the reader; the classifier never blocks on it alone."""
    if not expected or not steps.tls:
        return steps
    noted = [
        t.model_copy(
            update={
                "cert_names_missing": [
                    n for n in expected if not any(name_matches(s, n) for s in t.chain[0].sans)
                ]
            }
        )
        if t.chain
        else t
        for t in steps.tls
    ]
    return steps.model_copy(update={"tls": noted})


# --- the offline verdict on a chain -------------------------------------------------------------


def assess_chain(
    ders: Sequence[bytes], server_name: str, trust: Trust, *, now: datetime | None = None
) -> ChainAssessment:
    """Verify a presented chain (DER, leaf first) against both anchor sets; pure, no I/O.

    Never raises on hostile input: bytes cryptography cannot parse give ssl_invalid_certificate.
    """
    now = now or datetime.now(UTC)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. negative serials: still worth reporting on
            certs = [x509.load_der_x509_certificate(der) for der in ders]
            facts = [_facts(cert, der) for cert, der in zip(certs, ders, strict=True)]
    except Exception:  # noqa: BLE001 - any parser complaint about peer bytes is a bad cert
        return ChainAssessment(failure=failures.SSL_INVALID_CERTIFICATE)
    if not certs:
        return ChainAssessment(failure=failures.SSL_INVALID_CERTIFICATE)
    leaf, intermediates = certs[0], certs[1:]
    public_store, local_store = anchor_stores(trust)
    names = _san_names(leaf)
    matches = any(name_matches(pattern, server_name) for pattern in names)
    subject = _verification_subject(server_name if matches else None, names)
    trusted_public = _verifies(leaf, intermediates, public_store, subject, now)
    trusted_local = _verifies(leaf, intermediates, local_store, subject, now)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        failure: str | None = failures.SSL_INVALID_CERTIFICATE
    elif trusted_public or trusted_local:
        failure = None if matches else failures.SSL_INVALID_HOSTNAME
    else:
        failure = failures.SSL_UNKNOWN_AUTHORITY
    return ChainAssessment(facts, trusted_public, trusted_local, matches, failure)


def _facts(cert: x509.Certificate, der: bytes) -> CertFacts:
    return CertFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_san_names(cert),
        sha256=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


def _san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [*dns, *ips]


def _verification_subject(server_name: str | None, sans: list[str]) -> DNSName | IPAddress | None:
    # Trust is judged apart from the name: when the name does not match, verify as if we had
    # asked for a name the leaf does cover, so only the chain decides "trusted".
    candidates = [server_name] if server_name is not None else sans
    for candidate in candidates:
        ip = as_ip(candidate)
        try:
            if ip is not None:
                return IPAddress(ip)
            return DNSName(ascii_name(candidate).replace("*", "wildcard", 1))
        except ValueError:
            continue
    return None


def _verifies(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    store: Store | None,
    subject: DNSName | IPAddress | None,
    now: datetime,
) -> bool:
    if store is None or subject is None:
        return False
    builder = PolicyBuilder().store(store).time(now)
    policies = _extension_policies()
    if policies is not None:
        builder = builder.extension_policies(ca_policy=policies[0], ee_policy=policies[1])
    try:
        builder.build_server_verifier(subject).verify(leaf, intermediates)
    except Exception:  # noqa: BLE001 - VerificationError, or a policy the cert breaks: untrusted
        return False
    return True


@functools.lru_cache(maxsize=1)
def _extension_policies() -> tuple[Any, Any] | None:
    """CA/Browser-Forum defaults, except that leaf extension *criticality* is not judged.

    cryptography's web-PKI profile rejects e.g. a critical subjectAltName or extendedKeyUsage,
    which OpenSSL and browsers accept, and which test CAs, appliances and many corporate CAs
    emit. Trust here means "a browser on this network would accept the chain", so only the
    meaning is checked (an EKU, if present, must allow serverAuth). cryptography < 45 has no
    ExtensionPolicy: there the strict defaults apply.
    """
    try:
        from cryptography.x509.verification import Criticality, ExtensionPolicy
    except ImportError:
        return None
    ee = (
        ExtensionPolicy.webpki_defaults_ee()
        .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _check_server_auth)
    )
    return ExtensionPolicy.webpki_defaults_ca(), ee


def _check_server_auth(_policy: object, _cert: x509.Certificate, eku: object) -> None:
    if isinstance(eku, x509.ExtendedKeyUsage) and not (
        ExtendedKeyUsageOID.SERVER_AUTH in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    ):
        raise ValueError("extendedKeyUsage does not allow serverAuth")
