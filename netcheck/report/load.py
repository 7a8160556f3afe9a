"""Results on disk → one flat table, without building a ``Result`` per record.

In: paths — ``.jsonl`` files, folders searched recursively for ``*.jsonl``, or folders holding a
Parquet dataset (``*.parquet`` under hive partitions such as ``date=2026-11-28/``, as
``ingest.write_dataset`` writes). Out: a pandas ``DataFrame`` with one row per record and the
columns in ``COLUMNS`` (low-cardinality strings are categoricals), or ``errors.InputError``
naming the file and line of the first unreadable record.

JSON Lines are read as raw bytes (lines capped at ``fastjson.MAX_LINE_BYTES``). Each line's
``sha256`` is the SHA-256 of its exact bytes without the line terminator, so an auditor can
check a record with ``sha256sum`` on the stored line. ``fastjson`` decodes the lines with msgspec
into structs holding only the fields reports read (the steps' evidence is skipped while
scanning, never built into Python objects). Files are cut into shares of about ``TASK_BYTES``
that worker processes (``workers``, default one per core) decode, each sending back an Arrow
IPC stream; required fields and verdicts are then checked on the whole table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from netcheck.errors import InputError
from netcheck.models import VERDICTS
from netcheck.report import fastjson

MAX_FILES = 1_000_000
TASK_BYTES = 24 * 1024 * 1024  # one worker task: small enough to keep a worker's memory low
POOL_MIN_BYTES = 16 * 1024 * 1024  # below this, starting processes costs more than it saves

_STR = pa.string()
_FIELD_OF = {
    "probe_id": "probe.id",
    "network": "probe.network",
    "started_at": "probe.started_at",
    "url": "target.url",
    "service": "target.service",
    "function": "target.function",
    "official": "target.official",
    "category": "target.category",
}
CATEGORICAL = (
    "probe_id",
    "network",
    "started_at",
    "url",
    "service",
    "function",
    "category",
    "verdict",
    "technique",
    "vendor",
    "date",
    "file",
)
COLUMNS = (
    "id",
    "sha256",
    "file",
    "line",
    "probe_id",
    "network",
    "started_at",
    "measured_at",
    "ts",
    "date",
    "url",
    "service",
    "function",
    "official",
    "category",
    "verdict",
    "technique",
    "vendor",
    "intercepted",
    "evidence",
    "tcp_ms",
    "goodput_mbps",
)
_REQUIRED = ("id", "measured_at", "verdict", "probe_id", "url", "service", "function")


def load(paths: Sequence[str], *, workers: int | None = None) -> pd.DataFrame:
    """Read every record under ``paths`` into one table (see the module docstring)."""
    jsonl, datasets = discover(paths)
    tables: list[pa.Table] = []
    if jsonl:
        tables.append(read_jsonl(jsonl, workers=workers))
    tables.extend(read_dataset(d) for d in datasets)
    if not tables:
        return to_frame(read_jsonl([]))
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    return to_frame(table)


def discover(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split ``paths`` into JSON Lines files and Parquet dataset folders."""
    jsonl: list[str] = []
    datasets: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if path.suffix == ".parquet":
                datasets.append(str(path))
            else:
                jsonl.append(str(path))
        elif path.is_dir():
            found, parquet = _walk(raw)
            if parquet:
                datasets.append(str(path))
            elif not found:
                raise InputError("no .jsonl or .parquet files in this folder", file=raw)
            jsonl.extend(found)
        else:
            raise InputError("no such file or folder", file=raw)
        if len(jsonl) > MAX_FILES:
            raise InputError(f"more than {MAX_FILES} result files", file=raw)
    return jsonl, datasets


def _walk(folder: str) -> tuple[list[str], bool]:
    """``*.jsonl`` files under ``folder`` (sorted), and whether it holds any ``*.parquet``.
    One ``os.walk``: a fleet tree has a folder per probe and day, and two ``rglob`` walks of
    30,000 folders cost seconds."""
    found: list[str] = []
    parquet = False
    for where, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".jsonl"):
                found.append(os.path.join(where, name))
            elif name.endswith(".parquet"):
                parquet = True
    return sorted(found), parquet


# --- JSON Lines ----------------------------------------------------------------------------------


def read_jsonl(files: Sequence[str], *, workers: int | None = None) -> pa.Table:
    """Decode ``files`` in shares of about ``TASK_BYTES``, in worker processes when it pays."""
    sizes = [_size(name) for name in files]
    tasks: list[tuple[int, list[str]]] = []
    share: list[str] = []
    first = total = 0
    for index, (name, size) in enumerate(zip(files, sizes, strict=True)):
        if share and total + size > TASK_BYTES:
            tasks.append((first, share))
            share, first, total = [], index, 0
        share.append(name)
        total += size
    if share:
        tasks.append((first, share))
    n = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if n == 1 or sum(sizes) < POOL_MIN_BYTES:
        parts = [fastjson.read_table(fastjson.read_files(task)) for task in tasks]
    else:
        # pyarrow's first conversion from Python objects costs half a second (it looks for
        # pandas): pay it once here, before the fork, rather than once in every worker
        pa.array([""])
        # workers send Arrow IPC streams, not Python objects: the parent only maps the buffers
        with ProcessPoolExecutor(max_workers=n) as pool:
            parts = [fastjson.read_table(data) for data in pool.map(fastjson.read_files, tasks)]
    table = pa.concat_tables(parts) if parts else fastjson.SCHEMA.empty_table()
    return _finish(table, files)


def _size(name: str) -> int:
    try:
        return os.stat(name).st_size
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=name) from None


def _finish(table: pa.Table, files: Sequence[str]) -> pa.Table:
    """Name each row's file and check the required fields and the verdicts."""
    names = pa.array(list(files) or [""], _STR)
    index = table.schema.get_field_index("file_index")
    table = table.set_column(index, "file", pc.take(names, table.column("file_index")))
    for column in _REQUIRED:
        missing = pc.is_null(table.column(column))
        if pc.any(missing).as_py():
            row = pc.index(missing, True).as_py()
            raise InputError(
                "not a netcheck result: missing",
                file=table.column("file")[row].as_py(),
                line=table.column("line")[row].as_py(),
                field=_FIELD_OF.get(column, column),
            )
    bad = pc.invert(pc.is_in(table.column("verdict"), pa.array(VERDICTS)))
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise InputError(
            f"unknown verdict {table.column('verdict')[row].as_py()!r}",
            file=table.column("file")[row].as_py(),
            line=table.column("line")[row].as_py(),
            field="verdict",
        )
    return table


# --- Parquet datasets ----------------------------------------------------------------------------


def read_dataset(path: str) -> pa.Table:
    """A hive-partitioned Parquet dataset written by ``ingest.write_dataset``."""
    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
        wanted = [c for c in COLUMNS if c in dataset.schema.names and c not in ("ts", "date")]
        table = dataset.to_table(columns=wanted)
        for i, field in enumerate(table.schema):
            if pa.types.is_dictionary(field.type):
                table = table.set_column(i, field.name, pc.cast(table[i], field.type.value_type))
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet dataset: {exc}", file=path) from None
    missing = [c for c in _REQUIRED + ("sha256",) if c not in table.column_names]
    if missing:
        raise InputError("not a netcheck dataset: missing", file=path, field=missing[0])
    return table


# --- to pandas -----------------------------------------------------------------------------------


def to_frame(table: pa.Table) -> pd.DataFrame:
    try:
        ts = pc.cast(table.column("measured_at"), pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"bad measured_at timestamp: {exc}", field="measured_at") from None
    table = table.append_column("ts", ts).append_column("date", _dates(ts))
    for name in COLUMNS:
        if name not in table.column_names:
            kind = pa.float64() if name in ("tcp_ms", "goodput_mbps") else _STR
            table = table.append_column(name, pa.nulls(len(table), kind))
    table = table.select(list(COLUMNS))
    for name in CATEGORICAL:
        i = table.column_names.index(name)
        if not pa.types.is_dictionary(table.schema.field(i).type):
            table = table.set_column(i, name, pc.dictionary_encode(table.column(name)))
    frame = table.to_pandas()
    for name in ("official", "intercepted"):
        frame[name] = frame[name].fillna(False).astype(bool)
    return frame


def _dates(ts: pa.ChunkedArray) -> pa.DictionaryArray:
    """UTC dates as a dictionary of "YYYY-MM-DD" strings: formatting only the distinct days is
    what makes this cheap (``strftime`` over a million timestamps takes over a second)."""
    days = pc.dictionary_encode(pc.cast(ts, pa.date32()).combine_chunks())
    text = pc.strftime(pc.cast(days.dictionary, pa.timestamp("s")), format="%Y-%m-%d")
    return pa.DictionaryArray.from_arrays(days.indices, text)
