"""The Parquet archive: each stored batch as ``records/date=YYYY-MM-DD/network=LABEL/*.parquet``.

In: batches committed to the collector's database and not yet archived. Out: one Parquet file
per (batch, date) under the hive partitions ``date`` (UTC day of ``measured_at``) and ``network``
(the label the probe was enrolled with — never what a record claims), with the flat columns
``netcheck report`` reads (``report.fastjson.COLUMN_TYPES``) plus ``batch_seq``, ``batch_index``
and ``record`` (the canonical JSON). Files are written to a temporary name, fsynced and renamed,
so a reader never sees half a file and a restart simply writes a batch again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from netcheck.report import fastjson
from netcheck.server.store import Store, fsync_dir


def archive_pending(store: Store) -> int:
    """Archive every stored batch not archived yet; the number of batches written."""
    pending = store.query("SELECT probe, seq FROM batches WHERE archived = 0 ORDER BY rowid")
    for probe, seq in pending:
        archive_batch(store, probe, seq)
    return len(pending)


def archive_batch(store: Store, probe: str, seq: int) -> None:
    rows = store.query(
        "SELECT idx, body, network FROM records WHERE probe = ? AND seq = ? AND body IS NOT NULL "
        "ORDER BY idx",
        (probe, seq),
    )
    if rows:
        table = fastjson.table_from_lines([body.encode("utf-8") for _, body, _ in rows])
        network = rows[0][2]
        # the enrolled label, never what a record claims; also in the file, so a reader that
        # opens one file (not the hive dataset) still knows it
        table = table.drop_columns(["file_index", "line"])
        table = table.set_column(
            table.schema.get_field_index("network"), "network", pa.array([network] * len(rows))
        )
        table = table.append_column("batch_seq", pa.array([seq] * len(rows), pa.int64()))
        table = table.append_column("batch_index", pa.array([r[0] for r in rows], pa.int32()))
        table = table.append_column("record", pa.array([r[1] for r in rows], pa.string()))
        days = pc.utf8_slice_codeunits(table.column("measured_at"), 0, 10)
        for day in sorted(set(days.to_pylist())):
            part = table.filter(pc.equal(days, day))
            folder = store.archive / f"date={day}" / f"network={network}"
            _write(part, folder, f"{probe}-{seq:08d}.parquet")
    store.mark_archived(probe, seq)


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
