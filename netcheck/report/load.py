"""Results on disk → one flat table, without building a ``Result`` per record.

In: paths — ``.jsonl`` files, Parquet record files (``ingest.write_dataset``'s
``records/date=YYYY-MM-DD/*.parquet``), or folders searched recursively for both. Out: a pandas
``DataFrame`` with one row per record and the columns in ``COLUMNS`` (low-cardinality strings are
categoricals), or ``errors.InputError`` naming the file, line and field of the first unreadable
record.

Folders may hold more than records: a results folder often also holds the reports made from it
(``sample_results/reports/``: HTML, CSV, and Parquet tables of findings). Files that are neither
``.jsonl`` nor ``.parquet`` are skipped, and so are Parquet files without the record columns (a
findings or matrix table); a folder without any record stops with one line saying what to pass.
A record found twice (the ``.jsonl`` line and its Parquet copy under ``reports/``: same ``id``,
same ``sha256``) counts once, and so does a file named twice (``r.jsonl ./r.jsonl``, a hard link,
a folder and a file in it). Only regular files are read in a folder (a named pipe there would
block the report for ever); one named on the command line that is not a file is refused.

JSON Lines are read as raw bytes with ``output``'s limits and text checks. Each line's ``sha256``
is the SHA-256 of its exact bytes without the line terminator, so an auditor can check a record
with ``sha256sum`` on the stored line. ``fastjson`` decodes the lines with msgspec into structs
holding only the fields reports read (the steps' evidence is skipped while scanning, never built
into Python objects). Files are cut into shares of about ``TASK_BYTES`` that worker processes
(``workers``, default one per core) decode, each sending back an Arrow IPC stream. Then, on whole
columns (JSON Lines and Parquet alike): required fields present, verdicts and techniques known,
``measured_at`` an ISO 8601 UTC time (years 1 to 9999, up to nine fractional digits),
``schema_version`` one this netcheck reads, no text field longer than a line may be; a Parquet
file's columns must also have their kind (text, true/false, numbers), and its bad rows are named
by their position (``file.parquet:3`` is its third row). ``browser_failed`` is ``run
--browser``'s ``failed[]`` in short (``fastjson``: a JSON array of ``[type, host, technique,
vendor, party]``), None for a record without a browser.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from netcheck.errors import InputError
from netcheck.models import (
    SCHEMA_VERSIONS,
    TECHNIQUES,
    UTC_TIMESTAMP,
    VERDICTS,
    utc_timestamp_problem,
)
from netcheck.output import MAX_FILE_BYTES, MAX_LINE_BYTES
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
    "browser_failed",
    # from the collector's archive: the signed batch that lists the record (null for files)
    "batch_seq",
    "batch_sha256",
)
_KIND = {
    "batch_seq": pa.int64(),
    "tcp_ms": pa.float64(),
    "goodput_mbps": pa.float64(),
    "official": pa.bool_(),
    "intercepted": pa.bool_(),
}
_REQUIRED = ("id", "measured_at", "verdict", "probe_id", "url", "service", "function")


NOT_RECORDS = (
    "no result records here: pass the .jsonl files the probes wrote, a folder of them, "
    "or a records/ Parquet dataset from `netcheck report --format parquet`"
)


def load(paths: Sequence[str], *, workers: int | None = None) -> pd.DataFrame:
    """Read every record under ``paths`` into one table (see the module docstring)."""
    jsonl, parquet = discover(paths)
    return load_found(jsonl, parquet, named=paths, workers=workers)


def load_found(
    jsonl: Sequence[str],
    parquet: Sequence[str],
    *,
    named: Sequence[str] = (),
    workers: int | None = None,
) -> pd.DataFrame:
    """``discover``'s files → the table; a file in ``named`` (given by the user, not found in
    a folder) must hold at least one record."""
    tables: list[pa.Table] = []
    if jsonl:
        table = read_jsonl(jsonl, workers=workers)
        found = set(jsonl)
        _require_records(table, [p for p in named if p in found])
        tables.append(table)
    tables.extend(read_parquet(name) for name in parquet)
    if not tables:
        return to_frame(read_jsonl([]))
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    frame = to_frame(table)
    if parquet and frame["id"].nunique() < len(frame):
        frame = frame[~frame.duplicated(["id", "sha256"])].reset_index(drop=True)
    return frame


def discover(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split ``paths`` into JSON Lines files and Parquet record files (see the docstring)."""
    jsonl: list[str] = []
    parquet: list[str] = []
    seen: set[tuple[int, int]] = set()  # (device, inode): a file named twice counts once

    def first_time(name: str) -> bool:
        info = os.stat(name)
        key = (info.st_dev, info.st_ino)
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if path.suffix != ".parquet":
                if is_evidence_export(raw):
                    raise InputError(EXPORT_NOT_RECORDS, file=raw)
                if first_time(raw):
                    jsonl.append(raw)
            elif is_record_table(raw):
                if first_time(raw):
                    parquet.append(raw)
            else:
                raise InputError(f"a Parquet table, but not of records; {NOT_RECORDS}", file=raw)
        elif path.is_dir():
            found, tables = _walk(raw)
            records = [name for name in tables if is_record_table(name)]
            if not found and not records:
                raise InputError(NOT_RECORDS, file=raw)
            jsonl.extend(name for name in found if first_time(name))
            parquet.extend(name for name in records if first_time(name))
        elif os.path.exists(raw):
            raise InputError(
                "not a regular file or folder (a pipe or a device): save the results to a file",
                file=raw,
            )
        else:
            raise InputError("no such file or folder", file=raw)
        if len(jsonl) + len(parquet) > MAX_FILES:
            raise InputError(f"more than {MAX_FILES} result files", file=raw)
    return jsonl, parquet


EXPORT_NOT_RECORDS = (
    "a collector's evidence export (netcheck server export), not records: check it with "
    "`netcheck verify`, and report the collector's archive (its records/ folder)"
)


def is_evidence_export(name: str) -> bool:
    """Whether a ``.jsonl`` file is ``netcheck server export``'s output: its first line is a
    ``probe`` line (records never have a ``type`` field)."""
    try:
        with open(name, "rb") as fh:
            head = fh.read(32)
    except OSError:
        return False
    return head.startswith((b'{"type": "probe"', b'{"type":"probe"'))


def _walk(folder: str) -> tuple[list[str], list[str]]:
    """``*.jsonl`` and ``*.parquet`` files under ``folder`` (sorted). One ``os.walk``: a fleet
    tree has a folder per probe and day, and two ``rglob`` walks of 30,000 folders cost seconds."""
    found: list[str] = []
    parquet: list[str] = []
    for where, _, names in os.walk(folder):
        for name in names:
            if not name.endswith((".jsonl", ".parquet")):
                continue
            full = os.path.join(where, name)
            if not _regular(full):  # a pipe would block the read forever, a socket fails it
                continue
            if name.endswith(".parquet"):
                parquet.append(full)
            elif not is_evidence_export(full):  # a collector's export beside the archive
                found.append(full)
    return sorted(found), sorted(parquet)


def _regular(name: str) -> bool:
    """Whether ``name`` is a regular file (a symbolic link is followed; a dangling one is kept,
    so that reading it names it)."""
    try:
        return stat.S_ISREG(os.stat(name).st_mode)
    except OSError:
        return True


def _require_records(table: pa.Table, named: Sequence[str]) -> None:
    """A file named on the command line must hold records (one found in a folder may be empty:
    a run that measured nothing yet)."""
    if not named:
        return
    present = set(pc.unique(table.column("file")).to_pylist())
    for name in named:
        if name not in present:
            raise InputError("no records: the file is empty", file=name)


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
    """Name each row's file and check the records (``check_records``)."""
    names = pa.array(list(files) or [""], _STR)
    index = table.schema.get_field_index("file_index")
    table = table.set_column(index, "file", pc.take(names, table.column("file_index")))

    def where(row: int) -> tuple[str, int]:
        return table.column("file")[row].as_py(), table.column("line")[row].as_py()

    versions = table.column("schema_version")
    fail_on(pc.is_null(versions), "not a netcheck result: missing", "schema_version", where)
    bad = pc.invert(pc.fill_null(pc.is_in(versions, pa.array(SCHEMA_VERSIONS)), True))
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        file, line = where(row)
        raise InputError(
            f"unknown schema_version {str(versions[row].as_py())[:20]!r}; this netcheck reads "
            + ", ".join(SCHEMA_VERSIONS),
            file=file,
            line=line,
            field="schema_version",
        )
    check_records(table, where)
    return table.drop_columns(["schema_version"])


def fail_on(
    mask: pa.ChunkedArray | pa.Array,
    message: str,
    field: str,
    where: Callable[[int], tuple[str, int | None]],
) -> None:
    """``InputError`` at ``where(row)`` of the first row ``mask`` flags, if any."""
    if pc.any(mask).as_py():
        file, line = where(pc.index(mask, True).as_py())
        raise InputError(message, file=file, line=line, field=field)


def timestamps(times: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """``measured_at`` strings → UTC microseconds. Records may carry up to nine fractional
    digits (the schema allows nanoseconds); the digits past the sixth are dropped first, since
    Arrow refuses to cast what would lose them."""
    trimmed = pc.replace_substring_regex(times, r"(\.\d{6})\d+", r"\1")
    return pc.cast(trimmed, pa.timestamp("us", tz="UTC"))


def check_records(table: pa.Table, where: Callable[[int], tuple[str, int | None]]) -> None:
    """Required fields present, verdicts known, ``measured_at`` a UTC time, text fields no longer
    than a line may be; else ``InputError`` at ``where(row)`` of the first bad row."""

    def fail(mask: pa.ChunkedArray | pa.Array, message: str, field: str) -> None:
        fail_on(mask, message, field, where)

    for column in _REQUIRED + ("sha256",):  # sha256: a Parquet file's own column
        field = _FIELD_OF.get(column, column)  # the record's own path (probe.id)
        fail(pc.is_null(table.column(column)), "not a netcheck result: missing", field)
    for column, known in (("verdict", VERDICTS), ("technique", TECHNIQUES)):
        if column not in table.column_names:  # a Parquet file may lack an optional column
            continue
        values = table.column(column)
        bad = pc.invert(pc.or_(pc.is_null(values), pc.is_in(values, pa.array(known))))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            file, line = where(row)
            shown = str(values[row].as_py())[:40]
            raise InputError(f"unknown {column} {shown!r}", file=file, line=line, field=column)
    times = table.column("measured_at")
    bad = pc.invert(pc.match_substring_regex(times, UTC_TIMESTAMP))
    if not pc.any(bad).as_py():
        try:  # the pattern passes 2026-13-45: the cast is what knows the calendar
            # year 0 casts, but is no date Python (or a report's strftime) knows
            bad = pc.less(pc.year(timestamps(times)), 1)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            flags = [utc_timestamp_problem(t) is not None for t in times.to_pylist()]
            bad = pa.array(flags)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        file, line = where(row)
        problem = utc_timestamp_problem(str(times[row].as_py())) or "not a UTC time"
        raise InputError(problem, file=file, line=line, field="measured_at")
    for name in table.column_names:
        kind = table.schema.field(name).type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            fail(
                pc.greater(pc.fill_null(pc.binary_length(table.column(name)), 0), MAX_LINE_BYTES),
                f"longer than {MAX_LINE_BYTES} bytes",
                _FIELD_OF.get(name, name),
            )


# --- Parquet datasets ----------------------------------------------------------------------------


def read_dataset(path: str) -> pa.Table:
    """Every record table under ``path`` (a folder as ``ingest.write_dataset`` writes, or one
    Parquet file), checked like JSON Lines."""
    if Path(path).is_dir():
        files = [name for name in _walk(path)[1] if is_record_table(name)]
    else:
        files = [path] if is_record_table(path) else []
    if not files:
        raise InputError(NOT_RECORDS, file=path)
    tables = [read_parquet(name) for name in files]
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def is_record_table(name: str, filesystem: pafs.FileSystem | None = None) -> bool:
    """Whether a Parquet file holds records (its footer names the record columns); a file that
    is not Parquet at all is an input error naming it. ``filesystem``: where ``name`` is, when
    not on a local (or mounted) file system (the Dask engine reads fsspec URLs). A footer whose
    column names are not UTF-8 is no Parquet file either (pyarrow decodes them in Python)."""
    try:
        size = os.stat(name).st_size if filesystem is None else filesystem.get_file_info(name).size
        if (size or 0) > MAX_FILE_BYTES:
            raise InputError(f"larger than {MAX_FILE_BYTES // 2**20} MiB", file=name)
        names = set(pq.read_schema(name, filesystem=filesystem).names)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable Parquet file: {_short(exc)}", file=name) from None
    return set(_REQUIRED + ("sha256",)) <= names


def read_parquet(
    name: str, filesystem: pafs.FileSystem | None = None, label: str | None = None
) -> pa.Table:
    """One Parquet record file → the ``COLUMNS`` it has, plain strings, checked. ``label``:
    how errors and the ``file`` column name it (default ``name``)."""
    path, name = name, label or name
    try:
        schema = pq.read_schema(path, filesystem=filesystem)
        wanted = [c for c in COLUMNS if c in schema.names and c not in ("ts", "date")]
        table = pq.read_table(path, columns=wanted, partitioning=None, filesystem=filesystem)
        # the pandas metadata the writer left would rebuild its categoricals over ours
        table = table.replace_schema_metadata(None)
        for i, field in enumerate(table.schema):
            if pa.types.is_dictionary(field.type):
                table = table.set_column(i, field.name, pc.cast(table[i], field.type.value_type))
        table.validate(full=True)  # strings are UTF-8, offsets in bounds: the file may be hostile
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read Parquet records: {_short(exc)}", file=name) from None
    table = _checked_types(table, name)
    # rows are named by their position in the file (1 = the first); a ``line`` column holds
    # the line of the .jsonl the record came from, which is another file
    check_records(table, lambda row: (name, row + 1))
    if "file" not in table.column_names:
        table = table.append_column("file", pa.array([name] * len(table), _STR))
    return table


def _checked_types(table: pa.Table, name: str) -> pa.Table:
    """Each ``COLUMNS`` column of a Parquet record file has its kind (text, true/false, a
    number; a column of nulls only passes), numbers cast to the loader's own types; the
    columns a record always has (``_REQUIRED``, ``sha256``) are text. Else ``InputError``."""
    for i, field in enumerate(table.schema):
        kind = field.type
        want = _KIND.get(field.name, pa.int64() if field.name == "line" else _STR)
        if field.name not in COLUMNS or pa.types.is_null(kind):
            ok = field.name not in _REQUIRED + ("sha256",) or not pa.types.is_null(kind)
        elif pa.types.is_string(want):
            ok = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        elif pa.types.is_boolean(want):
            ok = pa.types.is_boolean(kind)
        else:
            ok = pa.types.is_integer(kind) or pa.types.is_floating(kind)
            if ok and kind != want:
                try:  # 2.0 → 2 for an integer column; 2.5 is not a batch number
                    table = table.set_column(i, field.name, pc.cast(table.column(i), want))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    ok = False
        if not ok:
            raise InputError(
                f"not a netcheck record table: {field.name} is {kind}, not {want}",
                file=name,
                field=field.name,
            )
    return table


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


# --- to pandas -----------------------------------------------------------------------------------


def to_frame(table: pa.Table) -> pd.DataFrame:
    try:
        ts = timestamps(table.column("measured_at"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"bad measured_at timestamp: {exc}", field="measured_at") from None
    table = table.append_column("ts", ts).append_column("date", _dates(ts))
    for name in COLUMNS:
        kind = _KIND.get(name, _STR)
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(len(table), kind))
        elif pa.types.is_null(table.schema.field(name).type):  # a Parquet column of nulls only
            i = table.column_names.index(name)
            table = table.set_column(i, name, pa.nulls(len(table), kind))
    table = table.select(list(COLUMNS))
    for name in CATEGORICAL:
        i = table.column_names.index(name)
        if not pa.types.is_dictionary(table.schema.field(i).type):
            table = table.set_column(i, name, pc.dictionary_encode(table.column(name)))
    frame: pd.DataFrame = table.to_pandas()
    for name in ("official", "intercepted"):
        frame[name] = frame[name].fillna(False).astype(bool)
    return frame


def _dates(ts: pa.ChunkedArray) -> pa.DictionaryArray:
    """UTC dates as a dictionary of "YYYY-MM-DD" strings: formatting only the distinct days is
    what makes this cheap (``strftime`` over a million timestamps takes over a second)."""
    days = pc.dictionary_encode(pc.cast(ts, pa.date32()).combine_chunks())
    text = pc.strftime(pc.cast(days.dictionary, pa.timestamp("s")), format="%Y-%m-%d")
    return pa.DictionaryArray.from_arrays(days.indices, text)
