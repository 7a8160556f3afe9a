"""The Parquet archive: stored batches as ``records/date=YYYY-MM-DD/network=LABEL/*.parquet``.

In: batches committed to the collector's database and not yet archived. Out: Parquet files
under the hive partitions ``date`` (UTC day of ``measured_at``) and ``network`` (the label the
probe was enrolled with — never what a record claims), with the flat columns ``netcheck report``
reads (``report.fastjson.COLUMN_TYPES``; its ``sha256`` is the record's hash as its probe signed
it) plus ``batch_seq``, ``batch_index``, ``batch_sha256`` (the signed batch, the signature
reference) and ``record`` (the text the probe signed).

The archiver runs beside the collector and gathers what arrived since its last pass into one
file per partition (many small files per batch would make months of data slow to scan). A pass
is an *archive job* recorded in the database before any file is written: batches ``first_rowid``
to ``last_rowid`` that were not archived. Its files are named after the job and written to a
temporary name, fsynced and renamed; then the batches are marked archived and the job done, in
one transaction. A collector killed mid-job redoes the same job on its next start, writing the
same files again: nothing is archived twice, nothing is lost (the database already holds it).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from netcheck.report import fastjson
from netcheck.server.store import Store, fsync_dir

log = logging.getLogger("netcheck.server")

EVERY = 1.0  # seconds between passes
MAX_BATCHES = 20_000  # batches one job takes at most


def archive_pending(store: Store) -> int:
    """Finish any job a kill interrupted, then archive what is waiting; batches archived."""
    done = 0
    for job, first, last in store.query(
        "SELECT id, first_rowid, last_rowid FROM archive_jobs WHERE done = 0 ORDER BY id"
    ):
        done += _run_job(store, job, first, last)
    while True:
        job = _new_job(store)
        if job is None:
            return done
        done += _run_job(store, *job)


def _new_job(store: Store) -> tuple[int, int, int] | None:
    with store._lock:
        row = store.db.execute(
            "SELECT min(rowid), max(rowid) FROM (SELECT rowid FROM batches WHERE archived = 0 "
            "ORDER BY rowid LIMIT ?)",
            (MAX_BATCHES,),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        cur = store.db.execute(
            "INSERT INTO archive_jobs (first_rowid, last_rowid) VALUES (?, ?)", row
        )
        return int(cur.lastrowid or 0), int(row[0]), int(row[1])


def _run_job(store: Store, job: int, first: int, last: int) -> int:
    rows = store.query(
        "SELECT r.seq, r.idx, r.body, r.network, r.probe, b.sha256 FROM batches b JOIN records r "
        "ON r.probe = b.probe AND r.seq = b.seq WHERE b.rowid BETWEEN ? AND ? AND b.archived = 0 "
        "AND r.body IS NOT NULL ORDER BY b.rowid, r.idx",
        (first, last),
    )
    if rows:
        table = fastjson.table_from_lines([r[2].encode("utf-8") for r in rows])
        table = table.drop_columns(["file_index", "line"])
        # the enrolled label, never what a record claims; in the file too, so a reader that opens
        # one file (not the hive dataset) still knows it
        networks = pa.array([r[3] for r in rows], pa.string())
        table = table.set_column(table.schema.get_field_index("network"), "network", networks)
        table = table.append_column("batch_seq", pa.array([r[0] for r in rows], pa.int64()))
        table = table.append_column("batch_index", pa.array([r[1] for r in rows], pa.int32()))
        # the signature reference: the batch whose signed header lists this record's sha256
        table = table.append_column("batch_sha256", pa.array([r[5] for r in rows], pa.string()))
        table = table.append_column("record", pa.array([r[2] for r in rows], pa.string()))
        days = pc.utf8_slice_codeunits(table.column("measured_at"), 0, 10)
        keys = pc.binary_join_element_wise(days, networks, "\x00")
        for key in sorted(set(keys.to_pylist())):
            day, network = key.split("\x00")
            part = table.filter(pc.equal(keys, key))
            folder = store.archive / f"date={day}" / f"network={network}"
            _write(part, folder, f"job-{job:08d}.parquet")
    with store._lock:
        store.db.execute("BEGIN IMMEDIATE")
        cur = store.db.execute(
            "UPDATE batches SET archived = 1 WHERE rowid BETWEEN ? AND ? AND archived = 0",
            (first, last),
        )
        store.db.execute("UPDATE archive_jobs SET done = 1 WHERE id = ?", (job,))
        store.db.execute("COMMIT")
    return cur.rowcount


def _write(table: pa.Table, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    pq.write_table(table, tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, folder / name)
    fsync_dir(folder)


class Archiver:
    """A thread that archives every ``EVERY`` seconds, and once more when stopped."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="archiver", daemon=True)

    def start(self) -> Archiver:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(EVERY):
            self._pass()

    def _pass(self) -> None:
        try:
            archive_pending(self.store)
        except Exception:  # noqa: BLE001 - the database holds it all: retry on the next pass
            log.exception("archiving")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self._pass()
