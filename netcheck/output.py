"""Where results go: JSON Lines on disk (appended, flushed per record), a table for people.

In: ``Result`` records. Out: lines in a ``.jsonl`` file, JSON on stdout, a rich table.
Reading goes the other way: ``read_results`` validates every line against the model and names
the file, line and field of the first bad one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from netcheck.errors import InputError
from netcheck.models import Result

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


def read_results(path: str) -> Iterator[Result]:
    """Yield the records of a JSON Lines file; the first bad line raises ``InputError``."""
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc.msg}", file=path, line=number) from None
            try:
                yield Result.model_validate(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "record"
                raise InputError(err["msg"], file=path, line=number, field=where) from None


def exit_code(results: Iterable[Result]) -> int:
    """0 when nothing is blocked or degraded, 1 otherwise (2 is for tool errors, at the edge)."""
    return 1 if any(r.verdict in ("blocked", "degraded") for r in results) else 0


def summary_table(results: Iterable[Result]) -> Table:
    table = Table(title="netcheck", show_lines=False, expand=False)
    for name in ("service", "function", "url", "verdict", "technique", "vendor", "evidence"):
        table.add_column(name, overflow="fold")
    ordered = sorted(results, key=lambda r: (r.target.service, r.target.function, r.target.url))
    for r in ordered:
        verdict = r.verdict + (" (intercepted)" if r.intercepted else "")
        table.add_row(
            r.target.service,
            r.target.function + (" *" if r.target.official else ""),
            r.target.url,
            f"[{VERDICT_STYLE.get(r.verdict, '')}]{verdict}[/]",
            r.technique or "",
            r.vendor or "",
            r.evidence,
        )
    return table


def print_summary(results: list[Result], console: Console) -> None:
    console.print(summary_table(results))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    console.print(f"{len(results)} targets: {parts}.  (* = official channel)")
