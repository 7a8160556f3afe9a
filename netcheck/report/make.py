"""From result files to one report: the library call behind ``netcheck report``.

In: result paths, an optional policy file, the audience, the format, the language, an output
path. Out: the report text (single-document formats) or the files written (folder formats:
audit ``csv``, and ``parquet``, which writes the audit tables plus the records as a
hive-partitioned dataset under ``records/``). Bad combinations raise ``InputError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from netcheck.errors import InputError
from netcheck.policy.loader import PolicyDoc, load_policy
from netcheck.report import AUDIENCES, audit, comms, ingest, it
from netcheck.report.judge import judge
from netcheck.report.load import load

FORMATS: dict[str, tuple[str, ...]] = {
    "comms": ("html", "md"),
    "audit": ("csv", "parquet", "html"),
    "it": ("prom", "json"),
}
FOLDER_FORMATS = ("csv", "parquet")


def load_table(
    paths: Sequence[str], policy_file: str | None, *, workers: int | None = None
) -> tuple[pd.DataFrame, PolicyDoc | None]:
    policy = load_policy(policy_file) if policy_file else None
    frame = load(paths, workers=workers)
    return (judge(frame, policy) if policy is not None else frame), policy


def check_choice(audience: str, fmt: str | None) -> str:
    if audience not in FORMATS:
        raise InputError(
            f"unknown audience {audience!r}; choose {', '.join(AUDIENCES)}", field="--audience"
        )
    fmt = fmt or FORMATS[audience][0]
    if fmt not in FORMATS[audience]:
        raise InputError(
            f"--audience {audience} has formats {', '.join(FORMATS[audience])}, not {fmt!r}",
            field="--format",
        )
    return fmt


def text_report(
    frame: pd.DataFrame, policy: PolicyDoc | None, audience: str, fmt: str, lang: str
) -> str:
    if audience == "comms":
        built = comms.build(frame, policy, lang)
        return comms.render_html(built) if fmt == "html" else comms.render_markdown(built)
    if audience == "audit":
        return audit.render_html(frame, audit.aggregate(frame), policy, lang)
    return it.prometheus_text(frame) if fmt == "prom" else it.it_json(frame, policy)


def write_report(
    frame: pd.DataFrame,
    policy: PolicyDoc | None,
    audience: str,
    fmt: str,
    lang: str,
    out: Path | None,
) -> list[Path] | str:
    """The files written, or the text when ``out`` is None (single-document formats only)."""
    fmt = check_choice(audience, fmt)
    if fmt in FOLDER_FORMATS:
        if out is None:
            raise InputError(f"--format {fmt} writes a folder: give --out FOLDER", field="--out")
        tables = audit.aggregate(frame)
        if fmt == "csv":
            return audit.write_csv(tables, out)
        written = audit.write_parquet(tables, out)
        return [*written, ingest.write_dataset(frame, out / "records")]
    text = text_report(frame, policy, audience, fmt, lang)
    if out is None:
        return text
    it.write_atomic(out, text)
    return [out]
