"""A collector's data folder as evidence: each probe's key and batches, read for ``verify``.

In: a data folder (``collector.sqlite3``). Out: ``(probe, public key, batches)`` for
``netcheck.fleet.verify.check``, each record's hash recomputed from the exact text stored (a
record the probe sent twice takes the hash of its first copy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from netcheck.errors import InputError
from netcheck.fleet.evidence import sha256_hex
from netcheck.fleet.verify import Batch, Report, check
from netcheck.server.store import Store


def verify_store(data: Path) -> Report:
    """Check every signature, chain and record stored in a collector's data folder."""
    report = check(from_store(data))
    if report.probes == 0:
        raise InputError("nothing to verify: no probe in this collector", file=str(data))
    return report


def from_store(data: Path) -> Iterator[tuple[str, str, list[Batch]]]:
    store = Store(data, readonly=True)
    try:
        by_sha: dict[str, tuple[str, ...]] = {}
        for p in store.probes():
            batches = []
            for seq, _sha, header, signature in store.batches(p["id"]):
                batch = Batch(p["id"], seq, header, signature)
                for idx, _sha, body, same_seq, same_idx in store.records_of(p["id"], seq):
                    if body is None:  # a repeat of an earlier record: its hash is that one's
                        digest = by_sha.get(f"{p['id']}:{same_seq}:{same_idx}", ())
                    else:
                        digest = (sha256_hex(body),)  # the exact text the probe signed
                        by_sha[f"{p['id']}:{seq}:{idx}"] = digest
                    batch.records.append((None, digest))
                batches.append(batch)
            yield p["id"], p["public_key"], batches
    finally:
        store.close()
