"""The lab's certificates: a "public" CA the fake internet's sites use, and a "corporate" CA the
agency's intercepting proxy signs with.

In: a directory and the host names the fake internet serves. Out: PEM files in that directory —
``public-ca.pem`` (what the probe gets as ``--ca-bundle``), ``corporate-ca.pem`` + its key (what
squid's ssl_bump signs with, and what the probe gets as ``--local-ca``), and one leaf certificate
and key per served host under ``leaves/`` (plus, for the hosts a scenario names in ``narrow_certs``,
a second leaf ``<host>.narrow.pem`` that lists the host's own name only). Keys are ECDSA P-256:
generating a few dozen takes milliseconds, so the lab makes them fresh on every ``lab up`` and never
ships a private key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PUBLIC_CA_NAME = "netcheck lab Public Root CA"
CORPORATE_CA_NAME = "Ministerio Lab Inspeccion TLS CA"


@dataclass(frozen=True)
class Pki:
    """Where the lab's certificate files are."""

    public_ca: Path
    public_ca_key: Path
    corporate_ca: Path
    corporate_ca_key: Path
    leaves: Path

    def leaf(self, host: str, narrow: bool = False) -> tuple[Path, Path]:
        """(certificate chain, key) for one served host; ``narrow``: the leaf that lists the
        host's own name only (a publicly trusted certificate without the service's wildcard)."""
        stem = f"{host}.narrow" if narrow else host
        return self.leaves / f"{stem}.pem", self.leaves / f"{stem}.key"


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _make_ca(common_name: str, org: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(common_name, org)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    names: list[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0], "netcheck lab site"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def build(directory: Path, hosts: dict[str, list[str]], narrow: Iterable[str] = ()) -> Pki:
    """Write both CAs and one leaf per host; ``hosts`` maps a host to the names its cert covers;
    each host in ``narrow`` also gets a leaf for its own name alone."""
    leaves = directory / "leaves"
    leaves.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        public_ca=directory / "public-ca.pem",
        public_ca_key=directory / "public-ca.key",
        corporate_ca=directory / "corporate-ca.pem",
        corporate_ca_key=directory / "corporate-ca.key",
        leaves=leaves,
    )
    public, public_key = _make_ca(PUBLIC_CA_NAME, "netcheck lab")
    corporate, corporate_key = _make_ca(CORPORATE_CA_NAME, "Ministerio Lab")
    pki.public_ca.write_bytes(_cert_pem(public))
    pki.public_ca_key.write_bytes(_key_pem(public_key))
    pki.corporate_ca.write_bytes(_cert_pem(corporate))
    pki.corporate_ca_key.write_bytes(_key_pem(corporate_key))
    leaves_to_make = [
        (host, [host] + [n for n in names if n != host], False)
        for host, names in sorted(hosts.items())
    ]
    leaves_to_make += [(host, [host], True) for host in sorted(set(narrow))]
    for host, names, is_narrow in leaves_to_make:
        cert, key = _make_leaf(names, public, public_key)
        chain_path, key_path = pki.leaf(host, narrow=is_narrow)
        chain_path.write_bytes(_cert_pem(cert) + _cert_pem(public))
        key_path.write_bytes(_key_pem(key))
    for path in (pki.public_ca_key, pki.corporate_ca_key, *leaves.glob("*.key")):
        path.chmod(0o640)
    return pki
