"""From result files to one report: the library call behind ``netcheck report``.

In: result paths, an optional policy file, the audience, the format, the language, an output
path. Out: the report text (single-document formats) or the files written (folder formats:
audit ``csv``, and ``parquet``, which writes the audit tables plus the records as a
hive-partitioned dataset under ``records/``). Bad combinations raise ``InputError``.

What a report never does, because each one has lost someone's data:
- write over one of its inputs: ``--out`` is compared with every input (the paths given, every
  file found in a folder, the policy) by resolved path and by ``samefile`` (hard links,
  symbolic links, ``./`` spellings), and a folder ``--out`` may not hold inputs;
- replace an existing folder with a file, or a file with a folder;
- come from zero records (an empty or foreign file would replace a good report with "0
  mediciones");
- leave half a file: a document is written to a temporary file and renamed; folder formats are
  written into a temporary folder beside ``--out`` and each file is then renamed into place
  (a ``records/date=…`` partition is swapped whole).
Every check runs before the first byte is written; a write that fails all the same (a read-only
or full disk) is the one-line ``--out`` error, and removes the folders it made.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from netcheck.errors import InputError
from netcheck.policy.importers import FORMATS as CONFIG_FORMATS
from netcheck.policy.importers import EffectiveConfig, parse_config_spec
from netcheck.policy.loader import PolicyDoc, load_policy
from netcheck.report import AUDIENCES, audit, comms, ingest, it
from netcheck.report.judge import judge
from netcheck.report.load import NOT_RECORDS, discover, load_found

FORMATS: dict[str, tuple[str, ...]] = {
    "comms": ("html", "md"),
    "audit": ("csv", "parquet", "html"),
    "it": ("prom", "json"),
}
FOLDER_FORMATS = ("csv", "parquet")


def load_table(
    paths: Sequence[str],
    policy_file: str | None,
    *,
    workers: int | None = None,
    out: Path | None = None,
    fmt: str | None = None,
    configs: Sequence[str] = (),
) -> tuple[pd.DataFrame, PolicyDoc | None]:
    """The records under ``paths`` (judged when a policy is given; ``configs``, as
    ``[FORMAT:]PATH``, name the config lines that block). With ``out``, first checks that
    writing ``fmt`` there cannot touch an input (see the module docstring)."""
    if configs and not policy_file:
        raise InputError(
            "--config needs --policy: findings name a config's lines", field="--config"
        )
    if out is not None:
        check_out_shape(out, fmt)
    jsonl, parquet = discover(paths)
    effective, read = read_configs(configs)
    if out is not None:
        check_out_not_input(
            out, [*paths, *jsonl, *parquet, *([policy_file] if policy_file else []), *read]
        )
    policy = load_policy(policy_file) if policy_file else None
    frame = load_found(jsonl, parquet, named=paths, workers=workers)
    if frame.empty:
        raise InputError(f"no records: {NOT_RECORDS}", file=", ".join(paths)[:200])
    return (judge(frame, policy, configs=effective) if policy is not None else frame), policy


def read_configs(configs: Sequence[str]) -> tuple[list[EffectiveConfig], list[str]]:
    """``--config [FORMAT:]PATH`` read, and every file they read (a squid.conf's acl and
    include files too, which ``--out`` must not overwrite either); each config's reading
    notes (an include naming nothing, a PAC that asks DNS) are warnings on stderr."""
    effective = [parse_config_spec(spec) for spec in configs]
    for config in effective:
        for note in config.notes:
            print(f"netcheck: warning: {note}", file=sys.stderr, flush=True)
    read = [*(config_path(spec) for spec in configs), *(f for c in effective for f in c.files)]
    return effective, read


def config_path(spec: str) -> str:
    """The file of ``--config [FORMAT:]PATH``."""
    kind, sep, path = spec.partition(":")
    return path if sep and kind.lower() in CONFIG_FORMATS else spec


def check_out_shape(out: Path, fmt: str | None) -> None:
    """A document goes to a file (never over a folder or a device); a folder format to a
    folder (never over a file); and ``out``'s folders, where they exist, are folders."""
    for folder in Path(os.path.abspath(out)).parents:
        if os.path.lexists(folder):
            if not folder.is_dir():
                raise InputError(
                    f"{folder} is not a folder; give a path inside a folder",
                    file=str(out),
                    field="--out",
                )
            break
    if fmt in FOLDER_FORMATS:
        if out.exists() and not out.is_dir():
            raise InputError(
                f"--format {fmt} writes a folder and this is a file", file=str(out), field="--out"
            )
        return
    if out.is_dir():
        raise InputError(
            "is a folder; give a file name for the report", file=str(out), field="--out"
        )
    if out.exists() and not out.is_file():
        raise InputError("not a regular file; give a file name", file=str(out), field="--out")


def check_out_not_input(out: Path, inputs: Sequence[str]) -> None:
    """``--out`` is none of ``inputs`` and, when a folder, holds none of them."""
    target = out.resolve()
    for name in inputs:
        path = Path(name)
        resolved = path.resolve()
        same = resolved == target or _samefile(path, out)
        inside = target in resolved.parents
        if same or inside:
            what = "is" if same else "holds"
            raise InputError(
                f"{what} an input ({name}); write the report somewhere else",
                file=str(out),
                field="--out",
            )


def _samefile(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


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
    if frame.empty:
        raise InputError(f"no records: {NOT_RECORDS}")
    if fmt in FOLDER_FORMATS:
        if out is None:
            raise InputError(f"--format {fmt} writes a folder: give --out FOLDER", field="--out")
        check_out_shape(out, fmt)
        with writing(out):
            return _write_folder(frame, fmt, out)
    text = text_report(frame, policy, audience, fmt, lang)
    if out is None:
        return text
    check_out_shape(out, fmt)
    with writing(out):
        it.write_atomic(out, text)
    return [out]


@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Write ``out`` inside this block: an ``OSError`` (a read-only or full disk, no
    permission, a folder that cannot be made) becomes the ``InputError`` naming ``--out``, and
    the folders made for ``out`` that are still empty are removed, so a failed write creates
    nothing."""
    made: list[Path] = []  # ``out`` and its missing folders, deepest first
    path = Path(os.path.abspath(out))
    while not os.path.lexists(path) and path != path.parent:
        made.append(path)
        path = path.parent
    try:
        yield
    except OSError as exc:
        for folder in made:
            try:
                if os.path.lexists(folder):  # a document ``out`` was never made
                    folder.rmdir()
            except OSError:
                break  # not empty (a folder format's files): leave it and what is above
        reason = exc.strerror or str(exc)
        raise InputError(
            f"cannot write the report: {reason}", file=str(out), field="--out"
        ) from None


def write_tables(tables: audit.Audit, fmt: str, out: Path) -> list[Path]:
    """Audit tables already aggregated (by the Dask engine) into the folder ``out``, written as
    ``write_report`` writes them; no ``records/`` copy (the records are the engine's input)."""
    with writing(out):
        return _write_folder(None, fmt, out, tables)


def _write_folder(
    frame: pd.DataFrame | None, fmt: str, out: Path, tables: audit.Audit | None = None
) -> list[Path]:
    """Write into a temporary folder beside ``out``, then rename each file into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        if tables is None:
            assert frame is not None
            tables = audit.aggregate(frame)
        if fmt == "csv":
            written = audit.write_csv(tables, staging)
        else:
            written = audit.write_parquet(tables, staging)
            if frame is not None:
                written.append(ingest.write_dataset(frame, staging / "records"))
        out.mkdir(exist_ok=True)
        for path in written:
            _move_into(path, out / path.relative_to(staging))
        return [out / path.relative_to(staging) for path in written]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(source: Path, target: Path) -> None:
    """A file replaces its namesake with one rename. A folder is merged: its hive partitions
    (``date=…``) replace theirs whole, so other days already in ``target`` stay."""
    if source.is_file():
        os.replace(source, target)
        return
    target.mkdir(exist_ok=True)
    for child in sorted(source.iterdir()):
        if child.is_dir() and "=" in child.name:
            old = target / child.name
            trash = target / f".{child.name}.old"
            shutil.rmtree(trash, ignore_errors=True)
            if old.exists():
                os.replace(old, trash)
            os.replace(child, old)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            _move_into(child, target / child.name)
