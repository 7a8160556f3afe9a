"""``netcheck verify``: check a collector's evidence offline — signatures, chains, records.

In: the batches of each probe — from a file written by ``netcheck server export`` (``from_export``)
or from a collector's data folder (``netcheck.server.evidence``). Out: a ``Report`` — how many
probes, batches and records were checked, and the first problem found, named: which probe, batch and
record (and export line) was changed, removed, reordered or inserted, or which batch's signature or
chain link is wrong.

Trust: the public keys come from the same place as the records. An auditor compares each probe's
key fingerprint (printed in the report) with the enrollment log kept elsewhere; a collector that
rewrote everything, keys included, is caught that way, not by the signatures alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netcheck.errors import InputError
from netcheck.fleet.evidence import (
    GENESIS,
    MAX_RECORD_BYTES,
    BatchError,
    canonical,
    check_signature,
    key_fingerprint,
    load_public,
    parse_header,
    sha256_hex,
)
from netcheck.textfile import read_lines


@dataclass
class Batch:
    probe: str
    seq: int
    header: str
    signature: str
    #: (where, the hashes the record may have as signed)
    records: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)
    where: str = ""


@dataclass
class Report:
    probes: int = 0
    batches: int = 0
    records: int = 0
    keys: dict[str, str] = field(default_factory=dict)  # probe -> key fingerprint
    problem: str | None = None


def verify_export(path: Path) -> Report:
    """Check a file written by ``netcheck server export``."""
    if not os.path.isfile(path):
        why = "not a regular file" if os.path.exists(path) else "no such file"
        raise InputError(why, file=str(path))
    return check(from_export(path))


def check(source: Iterator[tuple[str, str, list[Batch]]]) -> Report:
    report = Report()
    for probe, public, batches in source:
        report.probes += 1
        if not public:
            first = batches[0].where if batches else ""
            report.problem = (
                f"probe {probe}: batches{first} but no probe line with its key (removed?)"
            )
            return report
        report.keys[probe] = key_fingerprint(public)
        problem = _check_probe(probe, public, batches, report)
        if problem is not None:
            report.problem = problem
            return report
    return report


def _check_probe(probe: str, public: str, batches: list[Batch], report: Report) -> str | None:
    prev = GENESIS
    for expected_seq, batch in enumerate(batches, start=1):
        name = f"probe {probe}, batch {batch.seq}{batch.where}"
        if batch.seq != expected_seq:
            missing = "removed" if batch.seq > expected_seq else "inserted or reordered"
            return f"probe {probe}: batch {expected_seq} {missing} (found batch {batch.seq} next)"
        if not check_signature(public, batch.header, batch.signature):
            return f"{name}: the signature does not match (header changed or forged)"
        try:
            header = parse_header(batch.header)
        except BatchError as exc:
            return f"{name}: {exc.message}"
        if header.probe != probe or header.seq != batch.seq:
            return f"{name}: the signed header names probe {header.probe}, batch {header.seq}"
        if header.prev != prev:
            return f"{name}: the chain is broken (prev is not the previous batch's hash)"
        problem = _check_records(name, list(header.records), batch.records)
        if problem is not None:
            return problem
        prev = sha256_hex(batch.header)
        report.batches += 1
        report.records += len(batch.records)
    return None


def _check_records(
    name: str, want: list[str], got: list[tuple[str | None, tuple[str, ...]]]
) -> str | None:
    for index, (where, hashes) in enumerate(got):
        place = f"{name}, record {index + 1}{where or ''}"
        if index >= len(want):
            return f"{place}: inserted (the signed batch lists {len(want)} records)"
        if want[index] in hashes:
            continue
        elsewhere = [want.index(h) for h in hashes if h in want]
        if elsewhere:
            return f"{place}: reordered (it is record {elsewhere[0] + 1} of the signed batch)"
        if len(got) > len(want):
            return f"{place}: inserted (not in the signed batch)"
        return f"{place}: changed (its hash is not the one signed)"
    if len(got) < len(want):
        return f"{name}, record {len(got) + 1}: removed (the signed batch lists {len(want)})"
    return None


# --- sources ----------------------------------------------------------------------------------


def _record_hashes(line: str, record: object) -> tuple[str, ...]:
    """What the record may hash to as signed: the exact text ``server export`` wrote (the last
    field of its line) and the record's canonical JSON (what agents sign; what remains when an
    auditor's tool re-serialised the file). A match with either proves the signed content."""
    marker = '"record": '
    raw = line.rstrip("\r\n")
    at = raw.find(marker)
    canon = sha256_hex(canonical(record))
    if at < 0 or not raw.endswith("}"):
        return (canon,)
    return (sha256_hex(raw[at + len(marker) : -1]), canon)


#: an export line carries one record (at most ``MAX_RECORD_BYTES``) and its place
MAX_EXPORT_LINE = 2 * MAX_RECORD_BYTES
#: an export is read one line at a time; this only stops a file that never ends (a device)
MAX_EXPORT_BYTES = 1 << 40

_FIELDS: dict[str, tuple[tuple[str, type], ...]] = {
    "probe": (("probe", str), ("public_key", str)),
    "batch": (("probe", str), ("seq", int), ("header", str), ("signature", str)),
    "record": (("probe", str), ("seq", int), ("index", int)),
    "duplicate": (("probe", str), ("seq", int), ("index", int), ("same_as", dict)),
}


_KIND_NAMES = {str: "a string", int: "an integer", dict: "an object"}


def _export_line(path: Path, number: int, line: str) -> dict[str, Any]:
    """One export line, checked for the fields its type needs (``InputError`` naming the line
    and the field otherwise)."""
    try:
        item = json.loads(line)
    except (ValueError, RecursionError):
        raise InputError("not a netcheck export line", file=str(path), line=number) from None
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(kind, str) or kind not in _FIELDS:
        found = f"type {kind!r}" if isinstance(kind, str) else "no type"
        raise InputError(
            f"not a netcheck export line ({found[:80]})", file=str(path), line=number, field="type"
        )
    for name, want in _FIELDS[kind]:
        value = item.get(name)
        if not isinstance(value, want) or isinstance(value, bool):
            raise InputError(
                f"missing or not {_KIND_NAMES[want]} in a {kind} line",
                file=str(path),
                line=number,
                field=name,
            )
    if kind == "record" and "record" not in item:
        raise InputError(
            "a record line without its record", file=str(path), line=number, field="record"
        )
    if kind == "duplicate":
        same = item["same_as"]
        if not all(isinstance(same.get(k), int) for k in ("seq", "index")):
            raise InputError(
                "not {seq, index} of the first copy", file=str(path), line=number, field="same_as"
            )
    if kind == "probe":
        try:
            load_public(item["public_key"])
        except BatchError:
            raise InputError(
                "not an Ed25519 public key", file=str(path), line=number, field="public_key"
            ) from None
    checked: dict[str, Any] = item
    return checked


def from_export(path: Path) -> Iterator[tuple[str, str, list[Batch]]]:
    keys: dict[str, str] = {}
    batches: dict[str, list[Batch]] = {}
    hashes: dict[tuple[str, int, int], tuple[str, ...]] = {}
    current: Batch | None = None
    lines = read_lines(
        str(path), "netcheck export", max_bytes=MAX_EXPORT_BYTES, max_line=MAX_EXPORT_LINE
    )
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _export_line(path, number, line)
        kind = item["type"]
        where = f" (line {number})"
        if kind == "probe":
            keys[item["probe"]] = item["public_key"]
            batches.setdefault(item["probe"], [])
        elif kind == "batch":
            current = Batch(
                item["probe"], item["seq"], item["header"], item["signature"], where=where
            )
            batches.setdefault(item["probe"], []).append(current)
        elif current is None:
            raise InputError(f"a {kind} line before any batch line", file=str(path), line=number)
        elif kind == "record":
            found = _record_hashes(line, item["record"])
            hashes[(item["probe"], item["seq"], item["index"])] = found
            current.records.append((where, found))
        else:
            same = item["same_as"]
            found = hashes.get((item["probe"], same["seq"], same["index"]), ())
            current.records.append((where, found))
    if not batches:
        raise InputError("nothing to verify: no probe and no batch in the export", file=str(path))
    for probe, found_batches in batches.items():
        # a probe whose line (its key) was removed: its batches are checked, and fail, rather
        # than skipped as if they were not there
        yield probe, keys.get(probe, ""), found_batches
