"""The agent's spool: results kept on disk until the collector has them.

In: ``Result`` records from a run (or from files carried by hand). Out: signed batches in the
outbox, in sequence order. Two stages, both fsynced:
- ``spool/*.jsonl``: each run's records as canonical JSON lines, appended and fsynced before the
  run is called done;
- ``outbox/<seq>.json``: a signed batch (``fleet.evidence``) made from the spool. Once signed, a
  batch never changes: a resend after a crash or a lost answer is the same bytes, which the
  collector recognises as already stored. The spool files it came from are removed only after the
  batch file and the new state (``last_seq``, ``last_hash``) are on disk.

Caps: at most ``max_bytes`` of spool and ``max_age`` seconds of age (oldest dropped first). What
is dropped is counted in the state and reported in the next batch header (``dropped``), so the
collector knows; nothing disappears silently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netcheck.agent.state import AgentState, write_atomic
from netcheck.errors import InputError
from netcheck.fleet.evidence import (
    MAX_RECORD_BYTES,
    MAX_RECORDS,
    SignedBatch,
    canonical,
    sign_batch,
)
from netcheck.models import utc_now
from netcheck.textfile import read_lines, read_text

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_AGE = 30 * 86400
BATCH_RECORDS = 500


class Spool:
    def __init__(
        self, folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_age: float = DEFAULT_MAX_AGE
    ) -> None:
        self.folder = folder
        self.spool_dir = folder / "spool"
        self.outbox_dir = folder / "outbox"
        self.max_bytes = max_bytes
        self.max_age = max_age
        for d in (self.spool_dir, self.outbox_dir):
            try:
                d.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                why = "not a folder" if d.exists() else (exc.strerror or str(exc))
                raise InputError(
                    f"cannot use the agent's {d.name} folder: {why}", file=str(d)
                ) from None

    # --- stage 1: records ---------------------------------------------------------------------

    def add(self, records: list[dict[str, Any]]) -> Path | None:
        if not records:
            return None
        name = f"{time.time_ns():020d}.jsonl"
        path = self.spool_dir / name
        with path.open("x", encoding="utf-8") as fh:
            for record in records:
                fh.write(canonical(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return path

    def files(self) -> list[Path]:
        return _entries(self.spool_dir, ".jsonl")

    def check(self) -> None:
        """Every spool file and outbox batch reads back, else ``InputError`` naming the file
        and line (exit 2) before anything is added: a file the agent did not write, or one
        damaged on disk, must not stop delivery midway or be signed into a batch the
        collector refuses. Nothing is moved or removed: the operator decides."""
        for path in self.files():
            for _ in _records(path):
                pass
        for path in self.outbox():
            load_batch(path)

    def pending_records(self) -> int:
        return sum(_count_lines(p) for p in self.files())

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files())

    def enforce_caps(self, state: AgentState, now: float | None = None) -> int:
        """Drop the oldest spool files past the caps; the records dropped (also in ``state``)."""
        now = time.time() if now is None else now
        files = self.files()
        total = sum(p.stat().st_size for p in files)
        dropped = 0
        for path in files:
            too_old = now - int(path.stem) / 1e9 > self.max_age
            if not too_old and total <= self.max_bytes:
                break
            total -= path.stat().st_size
            dropped += _count_lines(path)
            path.unlink()
        state.dropped += dropped
        state.dropped_total += dropped
        return dropped

    # --- stage 2: signed batches --------------------------------------------------------------

    def pack(self, state: AgentState, key: Any, folder: Path) -> list[Path]:
        """Sign the spool into outbox batches (``BATCH_RECORDS`` records each), in order."""
        made: list[Path] = []
        files = self.files()
        while files:
            records: list[dict[str, Any]] = []
            used: list[Path] = []
            for path in files:
                found = list(_records(path))
                if records and len(records) + len(found) > min(BATCH_RECORDS, MAX_RECORDS):
                    break
                records.extend(found)
                used.append(path)
            files = files[len(used) :]
            seq = state.last_seq + 1
            batch = sign_batch(
                key,
                probe=state.probe_id,
                seq=seq,
                prev=state.last_hash,
                records=records,
                sent_at=utc_now(),
                dropped=state.dropped,
            )
            path = self.outbox_dir / f"{seq:010d}.json"
            write_atomic(path, batch.to_wire().decode("utf-8"))
            state.last_seq, state.last_hash, state.dropped = seq, batch.sha256, 0
            state.save(folder)  # the batch and the chain's new head are on disk: spool can go
            for p in used:
                p.unlink()
            made.append(path)
        return made

    def outbox(self) -> list[Path]:
        return _entries(self.outbox_dir, ".json")


#: a spool line is one record (the collector takes at most ``MAX_RECORD_BYTES``)
MAX_LINE = MAX_RECORD_BYTES + 1024
#: a batch file holds at most ``BATCH_RECORDS`` records
MAX_BATCH_BYTES = BATCH_RECORDS * (MAX_RECORD_BYTES + 1024)


def _entries(folder: Path, suffix: str) -> list[Path]:
    """The files the agent wrote in ``folder``, in order; ``InputError`` for an entry it did
    not write (its names are digits: a time or a sequence number) or that is not a file."""
    found = sorted(folder.glob(f"*{suffix}"))
    for path in found:
        if not path.stem.isdigit() or not path.stem.isascii() or not path.is_file():
            why = "not a file" if not path.is_file() else "a name the agent never writes"
            raise InputError(
                f"not the agent's: {why} (move it out of {folder.name}/)", file=str(path)
            )
    return found


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one spool file; ``InputError`` naming the line that is not one."""
    lines = read_lines(str(path), "spool file", max_bytes=DEFAULT_MAX_BYTES, max_line=MAX_LINE)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            record = None
        if not isinstance(record, dict):
            raise InputError(
                "not a record (a JSON object on one line): the file was cut short or changed; "
                "move it out of spool/ to let delivery go on",
                file=str(path),
                line=number,
            )
        yield record


def load_batch(path: Path) -> SignedBatch:
    """A signed batch from the outbox; ``InputError`` naming the file when it is not one."""
    text = read_text(str(path), "outbox batch", max_bytes=MAX_BATCH_BYTES, allow_empty=False)
    try:
        raw = json.loads(text)
        batch = SignedBatch(raw["header"], raw["signature"], tuple(raw["records"]))
    except (ValueError, RecursionError, KeyError, TypeError):
        batch = None
    if batch is None or not all(
        isinstance(x, str) for x in (batch.header, batch.signature, *batch.records)
    ):
        raise InputError(
            "not a signed batch: the file was cut short or changed (the agent never rewrites "
            "one; move it out of outbox/ to let delivery go on)",
            file=str(path),
            line=1,
        )
    return batch


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())
