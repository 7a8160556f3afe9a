"""Results on disk: the one JSON Lines reader and writer, and a table for people.

In: ``Result`` records (writing) or ``.jsonl`` paths (reading). Out: lines appended to a
``.jsonl`` file and flushed per record; JSON on stdout; a rich table; and, reading back, the
records, or one ``InputError`` naming the file, line and field of the first bad one.

Every reader of results files goes through here: ``read_results`` builds a full ``Result`` per
line (``classify``, ``check``); the report loader (``report.fastjson``) decodes only the fields
reports read but takes its bytes, limits and checks from ``read_file``/``first_text_problem``
(``read_results`` reads through ``textfile.read_lines``). The limits and checks, for both:

- a file is at most ``MAX_FILE_BYTES``, a line at most ``MAX_LINE_BYTES``;
- bytes must be UTF-8 text without NUL bytes (a Parquet or gzip file passed by mistake is named
  as binary at its first bad line, not decoded into nonsense);
- each line is one JSON object; nesting beyond the JSON parser's limit is refused at its line;
- ``schema_version`` must be one this netcheck reads and ``measured_at`` an ISO 8601 UTC time
  (``models.Result`` validates both; the report loader checks the same on whole columns);
- ``read_results`` is as strict as the report loader on the fields that loader reads, and more:
  no ``1`` for ``true``, no NaN or infinity, ``schema_version`` present, no key given twice, no
  control character in a field tables print (``parse_line``);
- a file without a single record is refused: a report or check of nothing is not an answer.
Blank lines and ``\\r\\n`` endings are accepted and keep line numbers.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from netcheck.errors import InputError
from netcheck.models import Result
from netcheck.textfile import read_lines

if TYPE_CHECKING:  # rich loads when a table is drawn, not in the report loader's workers
    from rich.console import Console
    from rich.table import Table

MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
MAX_LINE_BYTES = 8 * 1024 * 1024
_CHECK_CHUNK = 8 * 1024 * 1024  # UTF-8 is checked a chunk at a time: memory stays bounded

VERDICT_STYLE = {
    "accessible": "green",
    "blocked": "bold red",
    "degraded": "yellow",
    "unreachable": "magenta",
    "inconclusive": "dim",
}


#: ``--out``'s default folder: the one folder netcheck makes itself (a named one must exist)
DEFAULT_FOLDER = Path("results")


def default_out_path(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return DEFAULT_FOLDER / f"netcheck-{stamp}.jsonl"


class JsonlWriter:
    """Appends one record per line, each written whole and synced to disk at once.

    The file is opened (or created) here, before anything is measured, in append mode: an
    existing file keeps every line it had. Its folder must exist, except the default
    ``results/``, which is made. A write that fails (disk full, read-only, an I/O error) takes
    back the part of the line it wrote and raises ``InputError`` naming ``--out``; ``close``
    raises it again, so a caller's ``finally: writer.close()`` reports it as one line even when
    the write's own exception left a task group wrapped in an ``ExceptionGroup``. A file this
    writer created and never wrote a record to is removed again then.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed: InputError | None = None
        self._wrote = False
        folder = path.parent
        try:
            if folder == DEFAULT_FOLDER:
                folder.mkdir(exist_ok=True)
            elif not folder.exists():
                raise self._error(f"the folder {folder} does not exist")
            self._created = not path.exists()
            _appendable(path)
            # O_NONBLOCK: a named pipe nobody reads fails at once (ENXIO) instead of hanging
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
            self._fd: int | None = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise self._error(_reason(exc)) from None
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(self._fd, True)

    def _error(self, reason: str) -> InputError:
        return InputError(f"cannot write the results: {reason}", file=str(self.path), field="--out")

    def write(self, result: Result) -> None:
        if self.failed is not None or self._fd is None:
            raise self.failed or self._error("the file is closed")
        data = memoryview((dump_line(result) + "\n").encode("utf-8"))
        fd = self._fd
        before = os.fstat(fd)
        try:
            while data:
                data = data[os.write(fd, data) :]
            _sync(fd)
        except OSError as exc:
            if stat.S_ISREG(before.st_mode):  # no half line left for a reader to trip on
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before.st_size)
            self.failed = self._error(_reason(exc))
            raise self.failed from None
        self._wrote = True

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError as exc:
                self.failed = self.failed or self._error(_reason(exc))
        if self.failed is None:
            return
        if self._created and not self._wrote:
            with contextlib.suppress(OSError):
                self.path.unlink()
        raise self.failed


def _appendable(path: Path) -> None:
    """An existing ``--out`` must look like results netcheck wrote: records are appended to
    it, so a file of anything else (a report, a config, a line cut short) would get a record
    glued to its last line. Only its first and last bytes are read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return  # a device, a pipe: the open says what it can do
    with path.open("rb") as fh:
        first = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
    if first != b"{" or last != b"\n":
        why = "does not start with a record" if first != b"{" else "its last line is cut short"
        raise InputError(
            f"not a results file netcheck wrote ({why}): records would be appended to it; "
            "give a new file",
            file=str(path),
            field="--out",
        )


def _sync(fd: int) -> None:
    """To the disk now: a crash loses no record. A pipe, a terminal or /dev/null cannot be
    synced (EINVAL), and need not be."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENXIO:
        return "a named pipe that nothing reads"
    return exc.strerror or str(exc)


def dump_line(result: Result) -> str:
    """One record as its line; NaN or infinity is a ``ValueError``: no JSON reader reads it."""
    return json.dumps(
        result.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


# --- reading -------------------------------------------------------------------------------------


def read_results(path: str) -> Iterator[Result]:
    """Yield the records of a JSON Lines file, a line at a time (memory stays within one line);
    the first bad line, or a file without records, raises ``InputError``."""
    count = 0
    lines = read_lines(path, "results file", max_bytes=MAX_FILE_BYTES, max_line=MAX_LINE_BYTES)
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield parse_line(line.rstrip("\r\n"), path, number)
            count += 1
    if not count:
        raise InputError("no records: the file is empty", file=path)


def parse_line(line: str | bytes, path: str, number: int) -> Result:
    """One stored line → a ``Result``, or ``InputError`` naming the field that is wrong.

    Strict, as the report loader is: a boolean is ``true``/``false`` (not ``1`` or ``"yes"``), a
    number is not NaN or infinite, ``schema_version`` is present, no key is given twice (JSON
    readers differ on which one wins) and the fields tables print hold no control character."""
    try:
        result = Result.model_validate_json(line, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        # a record from a newer netcheck says so first: its other fields may be the reason
        err = next((e for e in errors if e["loc"] == ("schema_version",)), errors[0])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "json_invalid":
            raise InputError(f"not JSON: {message}", file=path, line=number) from None
        where = field_path(err["loc"])
        raise InputError(
            f"not a netcheck result: {message}", file=path, line=number, field=where or None
        ) from None
    problem = _record_problem(line, result)
    if problem is not None:
        where, message = problem
        raise InputError(f"not a netcheck result: {message}", file=path, line=number, field=where)
    return result


#: C0 control characters but tab, line feed and carriage return: on a terminal, ESC starts
#: a colour or cursor command; in a CSV or HTML report they are noise or worse
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _record_problem(line: str | bytes, result: Result) -> tuple[str, str] | None:
    """What a valid model does not tell: a missing ``schema_version`` (the model's default is
    for records being made), a key given twice, a control character in a printed field."""
    if "schema_version" not in result.model_fields_set:
        return "schema_version", "missing"
    t, p = result.target, result.probe
    printed = {
        "target.url": t.url,
        "target.service": t.service,
        "target.function": t.function,
        "target.category": t.category,
        "target.hosts_note": t.hosts_note,
        "probe.id": p.id,
        "probe.network": p.network,
        "evidence": result.evidence,
        "vendor": result.vendor,
    }
    for name, value in printed.items():
        if value is not None and (found := _CONTROL.search(value)):
            return name, f"control character {found[0]!r} in a text field"
    try:  # the C scanner again, a hook per object: ~2 % of a classify (docs/record.md)
        json.loads(line, object_pairs_hook=_unique)
    except _DuplicateKeyError:
        return _duplicate(json.loads(line, object_pairs_hook=list)) or ("", "duplicate key")
    except (ValueError, RecursionError):  # read as valid by pydantic's parser: its word holds
        pass
    return None


class _DuplicateKeyError(Exception):
    pass


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKeyError
    return found


def _duplicate(value: object, where: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """The path and words for the first key an object gives twice, in JSON parsed with each
    object as its list of (key, value) pairs (arrays stay lists of values)."""
    if not isinstance(value, list):
        return None
    pairs = bool(value) and all(isinstance(v, tuple) for v in value)
    if pairs:
        seen: set[str] = set()
        for key, _ in value:
            if key in seen:
                return field_path((*where, key)), f"duplicate key {key!r}"
            seen.add(key)
    for key, item in value if pairs else enumerate(value):
        found = _duplicate(item, (*where, key))
        if found is not None:
            return found
    return None


def field_path(loc: Iterable[str | int]) -> str:
    """("steps", "tcp", 0, "runtime_ms") → "steps.tcp[0].runtime_ms"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def first_text_problem(data: bytes) -> tuple[int, str] | None:
    """The byte offset and reason of the first thing in a whole file that makes it not UTF-8
    text (a NUL byte, bad encoding), checking a chunk at a time (2 GiB is never decoded at
    once)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        return nul, "a NUL byte: binary data, not JSON Lines text"
    if data.isascii():
        return None
    view = memoryview(data)
    start = 0
    while start < len(data):
        end = min(len(data), start + _CHECK_CHUNK)
        # a chunk ends after a newline, so no character is cut in two
        cut = data.rfind(b"\n", start, end) + 1 if end < len(data) else end
        end = cut if cut > start else end
        try:
            str(view[start:end], "utf-8")
        except UnicodeDecodeError as exc:
            return start + exc.start, "not UTF-8 text"
        start = end
    return None


def read_file(name: str) -> bytes:
    """The whole file, capped at ``MAX_FILE_BYTES`` (the report loader's read)."""
    try:
        with open(name, "rb", buffering=0) as fh:
            # read(n) allocates n bytes up front: ask for what the file holds, not for the cap
            size = min(os.fstat(fh.fileno()).st_size, MAX_FILE_BYTES) + 1
            data = fh.read(size)
            if len(data) == size:  # grown since fstat, or at the cap
                data += fh.read(MAX_FILE_BYTES + 1 - size)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=name) from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"larger than {MAX_FILE_BYTES // 2**20} MiB", file=name)
    return data


# --- for people ----------------------------------------------------------------------------------


def exit_code(results: Iterable[Result]) -> int:
    """0 when nothing is blocked or degraded, 1 otherwise (2 is for tool errors, at the edge)."""
    return 1 if any(r.verdict in ("blocked", "degraded") for r in results) else 0


def summary_table(results: Iterable[Result]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="netcheck", show_lines=False, expand=False)
    for name in ("service", "function", "url", "verdict", "technique", "vendor", "evidence"):
        table.add_column(name, overflow="fold")
    ordered = sorted(results, key=lambda r: (r.target.service, r.target.function, r.target.url))
    for r in ordered:
        verdict = r.verdict + (" (intercepted)" if r.intercepted else "")
        # Text, not markup: a record's words (a block page's title...) may hold "[/]"
        table.add_row(
            Text(r.target.service),
            Text(r.target.function + (" *" if r.target.official else "")),
            Text(r.target.url),
            Text(verdict, style=VERDICT_STYLE.get(r.verdict, "")),
            Text(r.technique or ""),
            Text(r.vendor or ""),
            Text(r.evidence),
        )
    return table


def print_summary(results: list[Result], console: Console) -> None:
    console.print(summary_table(results))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    console.print(f"{len(results)} targets: {parts}.  (* = official channel)")
