"""JSON Lines folders → a hive-partitioned Parquet dataset, the fleet's compact layout.

In: the results table (``load.load``), optionally with the ``judge`` columns. Out: a folder
``<out>/date=YYYY-MM-DD/part-*.parquet``, one flat row per record (the columns of
``load.COLUMNS``, plus the finding columns when present), which ``load.load`` reads back with
column projection. The partition key is ``date`` (UTC date of ``measured_at``): an auditor's
question is almost always about a period, so a period reads only its partitions.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from netcheck.errors import InputError


def write_dataset(frame: pd.DataFrame, out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError("the Parquet dataset goes into a folder; this is a file", file=str(out))
    flat = frame.drop(columns=["ts"]).assign(date=frame["date"].astype(str))
    table = pa.Table.from_pandas(flat, preserve_index=False)
    # plain strings: a dictionary per row group (paths, start times) would outweigh the data
    table = table.cast(
        pa.schema(
            [
                pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in table.schema
            ]
        )
    )
    try:
        ds.write_dataset(
            table,
            out,
            format="parquet",
            partitioning=ds.partitioning(
                pa.schema([("date", table.schema.field("date").type)]), flavor="hive"
            ),
            existing_data_behavior="delete_matching",
            basename_template="part-{i}.parquet",
            min_rows_per_group=64 * 1024,
        )
    except OSError as exc:
        raise InputError(f"cannot write the Parquet dataset: {exc}", file=str(out)) from None
    return out
