"""``netcheck server export``: every stored record exactly once, with the evidence to check it.

In: a collector data folder. Out: a JSON Lines file (written to a temporary name, then renamed):
one ``probe`` line per probe (id, network, public key, its fingerprint, enrollment and
revocation times), then per probe and batch a ``batch`` line (seq, sha256, the signed header
text, the signature) followed by its records in order — a ``record`` line (probe, seq, index,
the batch's sha256 as the signature reference, the network, and the record itself) or, for a
record the probe had already sent, a ``duplicate`` line pointing at the first copy.
``netcheck verify`` reads it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from netcheck.fleet.evidence import key_fingerprint
from netcheck.server.store import Store


def export(store: Store, out: Path) -> tuple[int, int]:
    """Write the export; (batches, records) written."""
    tmp = out.with_name(f".{out.name}.tmp")
    batches = records = 0
    with tmp.open("w", encoding="utf-8") as fh:
        probes = store.probes()
        for p in probes:
            line = {
                "type": "probe",
                "probe": p["id"],
                "network": p["network"],
                "public_key": p["public_key"],
                "key_fingerprint": key_fingerprint(p["public_key"]),
                "enrolled_at": p["enrolled_at"],
                "revoked_at": p["revoked_at"],
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        for p in probes:
            for seq, sha, header, signature in store.batches(p["id"]):
                batches += 1
                fh.write(
                    json.dumps(
                        {
                            "type": "batch",
                            "probe": p["id"],
                            "seq": seq,
                            "sha256": sha,
                            "header": header,
                            "signature": signature,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                for idx, _sha, body, same_seq, same_idx in store.records_of(p["id"], seq):
                    head = {
                        "probe": p["id"],
                        "seq": seq,
                        "index": idx,
                        "batch_sha256": sha,
                        "network": p["network"],
                    }
                    if body is None:
                        head.update(type="duplicate", same_as={"seq": same_seq, "index": same_idx})
                        fh.write(json.dumps(head, ensure_ascii=False) + "\n")
                        continue
                    records += 1
                    # the stored canonical text goes in as it is: nothing is re-serialised
                    prefix = json.dumps({"type": "record", **head}, ensure_ascii=False)[:-1]
                    fh.write(f'{prefix}, "record": {body}}}\n')
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return batches, records
