"""Benchmark figures written where the docs read them, so no figure is pasted by hand.

Use in a bench script::

    from bench._figures import published

    with published("speed"):
        print(...)          # printed as usual, and kept

On a clean exit the printed text goes to ``docs/benchmarks/<name>.txt`` with the command that
made it, the date and the machine's core count; the benchmarks page includes those files.
A run that fails writes nothing, so a stale figure is never replaced by a broken one.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "benchmarks"


class _Tee(io.TextIOBase):
    def __init__(self, out: io.TextIOBase, copy: io.StringIO) -> None:
        self.out, self.copy = out, copy

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


@contextlib.contextmanager
def published(name: str) -> Iterator[None]:
    """Tee stdout inside the block; on success write it to ``docs/benchmarks/<name>.txt``."""
    copy = io.StringIO()
    real = sys.stdout
    sys.stdout = _Tee(real, copy)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = real
    command = " ".join(["python", *(_relative(a) for a in sys.argv)])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    header = f"$ {command}\n# {stamp}, {os.cpu_count()} cores\n"
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.txt").write_text(header + copy.getvalue(), encoding="utf-8")


def _relative(arg: str) -> str:
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return arg
