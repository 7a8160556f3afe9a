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
- a file without a single record is refused: a report or check of nothing is not an answer.
Blank lines and ``\\r\\n`` endings are accepted and keep line numbers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

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


def default_out_path(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("results") / f"netcheck-{stamp}.jsonl"


class JsonlWriter:
    """Appends one record per line and flushes it to disk at once.

    Opened in append mode: an existing file keeps every line it had.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[str] = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot write results: {exc.strerror}", file=str(path), field="--out"
            ) from None

    def write(self, result: Result) -> None:
        self._fh.write(dump_line(result) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def dump_line(result: Result) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


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
    """One stored line → a ``Result``, or ``InputError`` naming the field that is wrong."""
    try:
        return Result.model_validate_json(line)
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
