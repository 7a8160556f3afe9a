"""Trust anchors: which roots count as public, and which as local (corporate) ones.

In: the ``--ca-bundle`` and ``--local-ca`` paths the user gave (or none). Out: a frozen ``Trust``
naming the PEM files, and cached ``cryptography`` anchor sets (``public_anchors``,
``local_anchors``, ``anchor_stores``) that ``tls.py`` verifies chains against offline.

Two anchor sets, because an agency network usually *is* a corporate network: an intercepting proxy
re-signs every site with a corporate CA that staff machines trust. A chain that verifies against
the public bundle is the real site; one that verifies only against the local anchors is
interception, which the classifier must tell apart from "unknown authority" (blocking).

Default local anchors are the OS store's certificates that are neither in the public bundle nor
among the distribution's own copies of the public roots (Debian ships those under
``/usr/share/ca-certificates/mozilla``). The second filter matters: a distribution's store lags
certifi by years, and roots Mozilla has since removed (old DigiCert, Entrust...) would otherwise be
taken for a corporate CA, and every site still chaining to them for interception.

Anchor files are parsed once per process (cached on path, size and mtime), not once per target.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import Store

from netcheck.errors import InputError

OS_STORE = "/etc/ssl/certs/ca-certificates.crt"
#: where distributions keep their unmodified copy of the public roots (Debian, Ubuntu)
DISTRO_PUBLIC_DIRS: tuple[str, ...] = ("/usr/share/ca-certificates/mozilla",)
#: a trust file larger than this is not a CA bundle (certifi is ~300 KB)
MAX_BUNDLE_BYTES = 16 * 1024 * 1024

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class Trust:
    """The trust configuration of one run; hashable, so anchor sets can be cached on it."""

    public_ca: str
    local_ca: str | None = None  # None: what the OS store adds to the public roots
    os_store: str = OS_STORE
    distro_public_dirs: tuple[str, ...] = DISTRO_PUBLIC_DIRS


def load_trust(
    ca_bundle: str | None,
    local_ca: str | None,
    *,
    os_store: str = OS_STORE,
    distro_public_dirs: tuple[str, ...] = DISTRO_PUBLIC_DIRS,
) -> Trust:
    """Check the user's anchor files now (so a bad path fails at the edge), return a ``Trust``.

    Raises ``InputError`` naming the file and option when a file is unreadable or holds no
    PEM certificate. A missing or unreadable OS store is not an error: it only means no local
    anchors by default.
    """
    public = ca_bundle if ca_bundle is not None else certifi.where()
    _require_certs(public, "--ca-bundle")
    if local_ca is not None:
        _require_certs(local_ca, "--local-ca")
    trust = Trust(public, local_ca, os_store, distro_public_dirs)
    local_anchors(trust)  # parse the OS store now, not on the first target
    return trust


def public_anchors(trust: Trust) -> tuple[x509.Certificate, ...]:
    return _certs_in(trust.public_ca)


def local_anchors(trust: Trust) -> tuple[x509.Certificate, ...]:
    """The user's ``--local-ca``, or the OS store minus every publicly shipped root."""
    if trust.local_ca is not None:
        return _certs_in(trust.local_ca)
    public = {_sha256(c) for c in public_anchors(trust)}
    for folder in trust.distro_public_dirs:
        public |= {_sha256(c) for c in _certs_in_dir(folder)}
    return tuple(c for c in _certs_in_optional(trust.os_store) if _sha256(c) not in public)


@functools.lru_cache(maxsize=16)
def anchor_stores(trust: Trust) -> tuple[Store | None, Store | None]:
    """(public, local) verification stores; None where the set is empty (Store refuses that)."""
    return _store(public_anchors(trust)), _store(local_anchors(trust))


def _store(certs: tuple[x509.Certificate, ...]) -> Store | None:
    return Store(list(certs)) if certs else None


def _sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _require_certs(path: str, option: str) -> None:
    try:
        certs = _certs_in(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path, field=option) from exc
    if not certs:
        raise InputError("no PEM certificate found", file=path, field=option)


def _certs_in_optional(path: str) -> tuple[x509.Certificate, ...]:
    try:
        return _certs_in(path)
    except OSError:
        return ()


def _certs_in_dir(folder: str) -> tuple[x509.Certificate, ...]:
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ()
    found: list[x509.Certificate] = []
    for name in names:
        found.extend(_certs_in_optional(str(Path(folder, name))))
    return tuple(found)


def _certs_in(path: str) -> tuple[x509.Certificate, ...]:
    st = os.stat(path)
    return _parse_pem_file(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _parse_pem_file(path: str, size: int, mtime_ns: int) -> tuple[x509.Certificate, ...]:
    # size and mtime are part of the key so an edited file is read again, not served stale.
    with open(path, "rb") as fh:
        data = fh.read(MAX_BUNDLE_BYTES + 1)
    if len(data) > MAX_BUNDLE_BYTES:
        return ()
    certs: list[x509.Certificate] = []
    for block in _PEM_BLOCK.findall(data):
        # One by one, so a single odd root (OS stores carry a few) does not void the whole file;
        # the negative-serial deprecation warning on old roots is noise for the user.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                certs.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return tuple(certs)
