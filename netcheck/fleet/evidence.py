"""Signed batches: records in, a header an Ed25519 key signs and a chain an auditor can check.

In: a probe's records (``Result`` JSON objects), its sequence number, the hash of its previous
batch and its private key. Out: a ``SignedBatch`` — the header text exactly as signed, the
signature, and each record as canonical JSON text — and, on the collector's side, the same
checks run backwards (``open_batch``).

What is signed and why:
- each record is hashed as **canonical JSON** (keys sorted, no spaces, UTF-8): parsing and
  re-serialising a record gives the same bytes, so an exported record can be checked alone;
- the **header** lists those hashes in order, with the probe id, the sequence number (1, 2, ...),
  the SHA-256 of the previous batch's header (64 zeros for the first) and the count of records the
  agent had to drop from its spool; the header's UTF-8 bytes are what the key signs;
- the batch's identity is the SHA-256 of its header bytes. Removing, reordering or inserting a
  batch breaks the chain; changing, removing, reordering or inserting a record breaks its batch's
  hash list. The collector stores the header text and signature as received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from netcheck.errors import InputError

GENESIS = "0" * 64
VERSION = 1
#: what one batch may carry (the collector refuses larger ones with 413)
MAX_RECORDS = 5_000
MAX_RECORD_BYTES = 1024 * 1024


class BatchError(Exception):
    """A batch that cannot be accepted; ``status`` is the HTTP status the collector answers."""

    def __init__(self, status: int, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.line = line


def canonical(obj: Any) -> str:
    """The one serialisation every hash is taken over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


# --- keys -----------------------------------------------------------------------------------------


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def load_public(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise BatchError(400, f"not an Ed25519 public key: {exc}") from None


def key_fingerprint(public: str) -> str:
    """A short, stable name for a public key (what an auditor compares with the enrollment log)."""
    return "SHA256:" + sha256_hex(base64.b64decode(public))[:32]


def save_private(key: Ed25519PrivateKey, path: Path) -> None:
    """Write the key readable by its owner only (0600), created so: never world-readable."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())


#: a PEM Ed25519 key is 119 bytes; this only stops a file that is not one
MAX_KEY_BYTES = 16 * 1024


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        with path.open("rb") as fh:
            pem = fh.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read the probe's key: {exc.strerror or exc}", file=str(path)
        ) from None
    if len(pem) > MAX_KEY_BYTES:
        raise InputError("not a probe key: larger than 16 KiB", file=str(path))
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:  # TypeError: encrypted with a passphrase
        why = str(exc).split(". See https://")[0]
        raise InputError(f"cannot read the probe's key: {why}", file=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("the probe's key is not an Ed25519 key", file=str(path))
    return key


# --- batches -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedBatch:
    header: str  # the exact text that was signed
    signature: str  # base64
    records: tuple[str, ...]  # canonical JSON, one per record, in the header's order

    @property
    def sha256(self) -> str:
        return sha256_hex(self.header)

    def to_wire(self) -> bytes:
        body = {"header": self.header, "signature": self.signature, "records": list(self.records)}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Header:
    probe: str
    seq: int
    prev: str
    records: tuple[str, ...]  # SHA-256 of each record's canonical JSON
    dropped: int
    sent_at: str


def sign_batch(
    key: Ed25519PrivateKey,
    *,
    probe: str,
    seq: int,
    prev: str,
    records: list[dict[str, Any]],
    sent_at: str,
    dropped: int = 0,
) -> SignedBatch:
    texts = tuple(canonical(r) for r in records)
    header = canonical(
        {
            "v": VERSION,
            "probe": probe,
            "seq": seq,
            "prev": prev,
            "sent_at": sent_at,
            "dropped": dropped,
            "records": [sha256_hex(t) for t in texts],
        }
    )
    signature = base64.b64encode(key.sign(header.encode("utf-8"))).decode("ascii")
    return SignedBatch(header, signature, texts)


def parse_header(text: str) -> Header:
    """The header's fields, checked for shape (not for signature or chain)."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise BatchError(400, "the batch header is not JSON") from None
    if not isinstance(raw, dict) or raw.get("v") != VERSION:
        raise BatchError(400, f"the batch header is not version {VERSION}")
    probe, seq, prev = raw.get("probe"), raw.get("seq"), raw.get("prev")
    hashes, dropped, sent_at = raw.get("records"), raw.get("dropped", 0), raw.get("sent_at", "")
    if not isinstance(probe, str) or not probe:
        raise BatchError(400, "the batch header has no probe id")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BatchError(400, "the batch header's seq is not a positive integer")
    if not isinstance(prev, str) or len(prev) != 64:
        raise BatchError(400, "the batch header's prev is not a SHA-256")
    if not isinstance(hashes, list) or not all(isinstance(h, str) and len(h) == 64 for h in hashes):
        raise BatchError(400, "the batch header's records are not a list of SHA-256")
    if not isinstance(dropped, int) or isinstance(dropped, bool) or dropped < 0:
        raise BatchError(400, "the batch header's dropped is not a count")
    if len(hashes) > MAX_RECORDS:
        raise BatchError(413, f"more than {MAX_RECORDS} records in one batch")
    return Header(probe, seq, prev, tuple(hashes), dropped, str(sent_at))


def check_signature(public: str, header: str, signature: str) -> bool:
    try:
        sig = base64.b64decode(signature, validate=True)
        load_public(public).verify(sig, header.encode("utf-8"))
    except (InvalidSignature, ValueError, TypeError, BatchError):
        return False
    return True


def open_batch(body: Any) -> tuple[Header, str, str, list[str]]:
    """A wire body (parsed JSON) → (header, header text, signature, record texts), checking
    that every record hashes to its place in the header. Signature and chain are the caller's."""
    if not isinstance(body, dict):
        raise BatchError(400, "the batch is not a JSON object")
    header_text, signature, records = body.get("header"), body.get("signature"), body.get("records")
    if not isinstance(header_text, str) or not isinstance(signature, str):
        raise BatchError(400, "the batch has no header or signature")
    if not isinstance(records, list) or not all(isinstance(r, str) for r in records):
        raise BatchError(400, "the batch's records are not a list of JSON texts")
    header = parse_header(header_text)
    if len(records) != len(header.records):
        raise BatchError(422, f"{len(records)} records for {len(header.records)} in the header")
    for number, (text, want) in enumerate(zip(records, header.records, strict=True), start=1):
        if len(text) > MAX_RECORD_BYTES:
            raise BatchError(413, "a record is larger than 1 MiB", line=number)
        if not hmac.compare_digest(sha256_hex(text), want):
            raise BatchError(422, "the record does not match its hash in the header", line=number)
    return header, header_text, signature, records
