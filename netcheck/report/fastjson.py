"""JSON Lines result files → Arrow columns of the fields a report reads, decoded with msgspec.

In: a list of ``.jsonl`` paths and the index of the first one in the caller's file list. Out:
``read_files`` returns an Arrow IPC stream (bytes) of one table with the columns of
``COLUMN_TYPES`` — one row per non-blank line, ``file_index`` and ``line`` (1-based) locating it
— or, for bad input, an ``InputFailure`` tuple that the parent turns back into ``InputError``
(``InputError`` takes keyword arguments, which pickling between processes would drop).

Why msgspec: ``Record`` declares only the fields the report needs, so the decoder skips the
steps' evidence (DNS answers, certificate chains, headers, bodies) while scanning, without
building a Python object for it, and checks the type of every field it keeps. The structs are
``gc=False``: they hold no cycles, and a million tracked objects would make the collector run
over and over. Each line's ``sha256`` is the SHA-256 of its exact bytes without the line ending.

A leading UTF-8 byte-order mark is dropped. A file is first read the fast way (split on ``\\n``,
every line decoded by ``map``); a file with ``\\r\\n`` endings, blank lines or a line that does not
decode is read again a line at a time, which either accepts it (blank lines are skipped) or raises
``InputError`` naming the file, the line and, for a wrong-typed field, the field's path
(``probe.id``, ``steps.tcp[0].runtime_ms``). The bytes, their limits (``MAX_FILE_BYTES``,
``MAX_LINE_BYTES``) and the text checks (UTF-8, no NUL bytes) are ``netcheck.output``'s, shared with
``output.read_results``; JSON nested beyond msgspec's limit is refused at its line. Required fields,
verdicts, ``schema_version`` and ``measured_at`` are checked afterwards, on whole columns, by
``load``.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Callable
from operator import attrgetter, methodcaller
from typing import Any

import msgspec
import pyarrow as pa

from netcheck import output
from netcheck.errors import InputError
from netcheck.models import service_figure

MAX_LINE_BYTES = output.MAX_LINE_BYTES
MAX_FILE_BYTES = output.MAX_FILE_BYTES

InputFailure = tuple[str, str | None, int | None, str | None]  # message, file, line, field


class Probe(msgspec.Struct, gc=False):
    id: str | None = None
    network: str | None = None
    started_at: str | None = None


class Target(msgspec.Struct, gc=False):
    url: str | None = None
    service: str | None = None
    function: str | None = None
    official: bool | None = None
    category: str | None = None


class TcpStep(msgspec.Struct, gc=False):
    failure: str | None = None
    runtime_ms: float | None = None


class Steps(msgspec.Struct, gc=False):
    tcp: list[TcpStep] | None = None


class Bandwidth(msgspec.Struct, gc=False):
    service_mbps: float | None = None
    goodput_mbps: float | None = None


def _goodput(b: Bandwidth | None) -> float | None:
    return None if b is None else service_figure(b)


class BrowserFailed(msgspec.Struct, gc=False):
    host: str | None = None
    type: str | None = None
    technique: str | None = None
    vendor: str | None = None
    party: str | None = None


class Browser(msgspec.Struct, gc=False):
    """``run --browser``'s section: only what the page missed (``requests`` and ``hosts``,
    the bulk of the section, are skipped while scanning)."""

    loaded: bool | None = None
    failed: list[BrowserFailed] | None = None


#: distinct failures kept per record in ``browser_failed``: a sentence names a few hosts
MAX_BROWSER_FAILED = 24
_ENCODE = msgspec.json.Encoder().encode


def _browser_failed(b: Browser | None) -> str | None:
    """``browser.failed[]`` as a short JSON array of ``[type, host, technique, vendor, party]``
    (distinct, in order, at most ``MAX_BROWSER_FAILED``); ``"[]"`` when the page missed
    nothing, None without a browser section."""
    if b is None:
        return None
    seen = dict.fromkeys((f.type, f.host, f.technique, f.vendor, f.party) for f in b.failed or ())
    return _ENCODE(list(seen)[:MAX_BROWSER_FAILED]).decode()


class Record(msgspec.Struct, gc=False):
    """The slice of ``models.Result`` that reports read; every other field is skipped."""

    schema_version: str | None = None
    id: str | None = None
    measured_at: str | None = None
    verdict: str | None = None
    technique: str | None = None
    vendor: str | None = None
    intercepted: bool | None = None
    evidence: str | None = None
    bandwidth: Bandwidth | None = None  # run --bandwidth: the service's measured goodput
    browser: Browser | None = None  # run --browser: what the page missed
    probe: Probe | None = None
    target: Target | None = None
    steps: Steps | None = None


_STR = pa.string()
COLUMN_TYPES: dict[str, pa.DataType] = {
    "schema_version": _STR,
    "id": _STR,
    "measured_at": _STR,
    "verdict": _STR,
    "technique": _STR,
    "vendor": _STR,
    "intercepted": pa.bool_(),
    "evidence": _STR,
    "goodput_mbps": pa.float64(),
    "browser_failed": _STR,
    "probe_id": _STR,
    "network": _STR,
    "started_at": _STR,
    "url": _STR,
    "service": _STR,
    "function": _STR,
    "official": pa.bool_(),
    "category": _STR,
    "tcp_ms": pa.float64(),
    "sha256": _STR,
    "file_index": pa.int32(),
    "line": pa.int32(),
}
SCHEMA = pa.schema(list(COLUMN_TYPES.items()))
_DECODER = msgspec.json.Decoder(Record)
_HEX = methodcaller("hexdigest")
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def read_files(task: tuple[int, list[str]]) -> bytes | InputFailure:
    """One worker's share: ``(index of files[0] in the whole list, files)`` → IPC stream."""
    first, files = task
    collecting = gc.isenabled()
    gc.disable()  # the tuples built here hold no cycles; a collection would only walk them
    try:
        columns = _Columns()
        for offset, name in enumerate(files):
            columns.add_file(name, first + offset)
        table = columns.table()
    except InputError as exc:
        return (exc.message, exc.file, exc.line, exc.field)
    finally:
        if collecting:
            gc.enable()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def read_table(data: bytes | InputFailure) -> pa.Table:
    """The parent's side of ``read_files``: the table, or the worker's ``InputError``."""
    if isinstance(data, tuple):
        message, file, line, field = data
        raise InputError(message, file=file, line=line, field=field)
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


class _Columns:
    """Decoded records and line locations of one share, turned into columns at the end."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.shas: list[str] = []
        self.files: list[int] = []
        self.lines: list[int] = []

    def add_file(self, name: str, index: int) -> None:
        # a leading byte-order mark (Windows editors add one) is dropped, as ``read_results``
        # drops it: the first line's sha256 is that of the record's bytes after it
        data = output.read_file(name).removeprefix(b"\xef\xbb\xbf")
        problem = _text_problem(data)
        if problem is not None:
            offset, message = problem
            raise InputError(message, file=name, line=data.count(b"\n", 0, offset) + 1)
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        records: list[Record] | None = None
        # the fast path keeps line n at index n-1: no \r to strip, no blank line to skip
        if b"\r" not in data and all(lines) and max(map(len, lines), default=0) <= MAX_LINE_BYTES:
            try:
                records = list(map(_DECODER.decode, lines))
            except (msgspec.DecodeError, RecursionError):
                records = None  # found and named (or accepted: a blank line) just below
        if records is not None:
            numbers: range | list[int] = range(1, len(records) + 1)
        else:
            records, numbers, lines = _read_slowly(name, data)
        self.records.extend(records)
        self.shas.extend(map(_HEX, map(hashlib.sha256, lines)))
        self.files.extend([index] * len(records))
        self.lines.extend(numbers)

    def table(self) -> pa.Table:
        # one C loop per field (``map`` of an ``attrgetter``): no per-record Python code, and
        # about a fifth faster than building a tuple per struct and transposing them with zip
        records = self.records
        columns: dict[str, list[Any]] = {
            name: list(map(attrgetter(name), records)) for name in _TOP_SCALARS
        }
        for name, fields, empty in (("probe", _PROBE, _NO_PROBE), ("target", _TARGET, _NO_TARGET)):
            structs = [s if s is not None else empty for s in map(attrgetter(name), records)]
            for column, field in fields:
                columns[column] = list(map(attrgetter(field), structs))
        columns["tcp_ms"] = list(map(_fastest_connect, map(attrgetter("steps"), records)))
        columns["goodput_mbps"] = list(map(_goodput, map(attrgetter("bandwidth"), records)))
        browsers = list(map(attrgetter("browser"), records))
        # most records have no browser section: one C pass finds that, no call per record
        columns["browser_failed"] = (
            list(map(_browser_failed, browsers)) if any(browsers) else browsers
        )
        columns["sha256"] = self.shas
        columns["file_index"] = self.files
        columns["line"] = self.lines
        arrays = [pa.array(columns[name], kind) for name, kind in COLUMN_TYPES.items()]
        return pa.Table.from_arrays(arrays, schema=SCHEMA)


_TOP_SCALARS = tuple(
    name
    for name in Record.__struct_fields__
    if name not in ("probe", "target", "steps", "bandwidth", "browser")
)
_PROBE = (("probe_id", "id"), ("network", "network"), ("started_at", "started_at"))
_TARGET = tuple((name, name) for name in Target.__struct_fields__)  # column, field
_NO_PROBE = Probe()
_NO_TARGET = Target()


def _text_problem(data: bytes) -> tuple[int, str] | None:
    """``output.first_text_problem``, with the common case (valid UTF-8) checked by Arrow's
    vectorised validation: about ten times faster than decoding in Python, with no copy."""
    if b"\x00" not in data and not data.isascii():
        offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
        whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
        try:
            whole.cast(pa.large_string())
            return None
        except pa.ArrowInvalid:
            pass  # located below
    return output.first_text_problem(data)


def _fastest_connect(steps: Steps | None) -> float | None:
    """The fastest successful TCP connect (ms), or None."""
    best: float | None = None
    for step in (steps.tcp if steps is not None else None) or ():
        ms = step.runtime_ms
        if step.failure is None and ms is not None and ms > 0 and (best is None or ms < best):
            best = ms
    return best


def _read_slowly(name: str, data: bytes) -> tuple[list[Record], list[int], list[bytes]]:
    """A line at a time: ``\\r\\n`` endings, blank lines, and the exact place of a bad line."""
    records: list[Record] = []
    numbers: list[int] = []
    kept: list[bytes] = []
    decode: Callable[[bytes], Record] = _DECODER.decode
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line or line.isspace():
            continue
        if len(line) > MAX_LINE_BYTES:
            raise InputError(f"line longer than {MAX_LINE_BYTES} bytes", file=name, line=number)
        try:
            records.append(decode(line))
        except msgspec.ValidationError as exc:
            message, field = _split_path(str(exc))
            raise InputError(
                f"not a netcheck result: {message}", file=name, line=number, field=field
            ) from None
        except msgspec.DecodeError as exc:
            raise InputError(f"not JSON: {exc}", file=name, line=number) from None
        except RecursionError:
            raise InputError("not JSON: nested too deeply", file=name, line=number) from None
        numbers.append(number)
        kept.append(line)
    return records, numbers, kept


def _split_path(message: str) -> tuple[str, str | None]:
    """msgspec's "Expected `str | null`, got `int` - at `$.probe.id`" → message, "probe.id"."""
    found = _AT.search(message)
    if found is None:
        return message, None
    return message[: found.start()], found["path"] or None


def table_from_lines(lines: list[bytes]) -> pa.Table:
    """Columns of record lines already in memory (the collector's archive): the same decoding
    and columns as ``read_files``, ``file_index`` 0 and ``line`` 1..n. A line that is not a
    record raises ``msgspec.ValidationError`` / ``DecodeError``: the collector validated it."""
    columns = _Columns()
    columns.records = list(map(_DECODER.decode, lines))
    columns.shas = list(map(_HEX, map(hashlib.sha256, lines)))
    columns.files = [0] * len(lines)
    columns.lines = list(range(1, len(lines) + 1))
    return columns.table()
