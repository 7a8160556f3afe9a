"""Signed batches and offline verification: every kind of tampering is named (pure, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcheck.fleet.evidence import (
    GENESIS,
    BatchError,
    canonical,
    check_signature,
    new_key,
    open_batch,
    public_b64,
    sign_batch,
)
from netcheck.fleet.verify import Batch, check
from tests.fleet.support import record


def chain(n_batches: int, per_batch: int) -> tuple[str, str, list[Batch]]:
    key = new_key()
    prev, batches = GENESIS, []
    for seq in range(1, n_batches + 1):
        recs = [record("lab") for _ in range(per_batch)]
        signed = sign_batch(key, probe="p1", seq=seq, prev=prev, records=recs, sent_at="t")
        batch = Batch("p1", seq, signed.header, signed.signature)
        batch.records = [(None, (_sha(json.loads(t)),)) for t in signed.records]
        batches.append(batch)
        prev = signed.sha256
    return "p1", public_b64(key), batches


def _sha(obj: object) -> str:
    from netcheck.fleet.evidence import sha256_hex

    return sha256_hex(canonical(obj))


def run(probe: str, public: str, batches: list[Batch]) -> str | None:
    return check(iter([(probe, public, batches)])).problem


def test_an_untouched_chain_verifies() -> None:
    report = check(iter([chain(3, 4)]))
    assert report.problem is None
    assert (report.probes, report.batches, report.records) == (1, 3, 12)


def test_changed_removed_reordered_inserted_records_are_named() -> None:
    probe, public, batches = chain(2, 4)
    changed = [*batches[1].records]
    changed[2] = (None, ("0" * 64,))
    b = batches[1]
    assert "record 3: changed" in run(
        probe, public, [batches[0], Batch(probe, 2, b.header, b.signature, changed)]
    )
    assert "record 4: removed" in run(
        probe, public, [batches[0], Batch(probe, 2, b.header, b.signature, b.records[:3])]
    )
    swapped = [b.records[1], b.records[0], *b.records[2:]]
    assert "record 1: reordered" in run(
        probe, public, [batches[0], Batch(probe, 2, b.header, b.signature, swapped)]
    )
    extra = [*b.records[:2], (None, ("1" * 64,)), *b.records[2:]]
    assert "record 3: inserted" in run(
        probe, public, [batches[0], Batch(probe, 2, b.header, b.signature, extra)]
    )


def test_removed_batch_forged_header_and_foreign_key_are_named() -> None:
    probe, public, batches = chain(3, 2)
    assert "batch 2 removed" in run(probe, public, [batches[0], batches[2]])
    forged = batches[1].header.replace('"seq":2', '"seq":2 ')
    b = batches[1]
    assert "signature does not match" in run(
        probe, public, [batches[0], Batch(probe, 2, forged, b.signature, b.records), batches[2]]
    )
    _, other, _ = chain(1, 1)
    assert "signature does not match" in run(probe, other, batches)


def test_open_batch_refuses_a_record_that_does_not_match_its_hash() -> None:
    key = new_key()
    signed = sign_batch(key, probe="p", seq=1, prev=GENESIS, records=[record("x")], sent_at="t")
    body = json.loads(signed.to_wire())
    header, text, sig, records = open_batch(body)
    assert check_signature(public_b64(key), text, sig)
    assert header.seq == 1
    body["records"][0] = body["records"][0].replace("youtube", "yootube")
    with pytest.raises(BatchError) as caught:
        open_batch(body)
    assert caught.value.status == 422
    assert caught.value.line == 1


def test_key_file_is_private(tmp_path: Path) -> None:
    from netcheck.fleet.evidence import load_private, save_private

    key = new_key()
    save_private(key, tmp_path / "k" / "probe.key")
    assert (tmp_path / "k" / "probe.key").stat().st_mode & 0o777 == 0o600
    assert public_b64(load_private(tmp_path / "k" / "probe.key")) == public_b64(key)
