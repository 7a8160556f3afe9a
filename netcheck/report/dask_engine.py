"""The audit aggregation on a Dask cluster, for fleets beyond one machine.

In: a Parquet record archive — ``records/date=YYYY-MM-DD/network=LABEL/*.parquet`` as the
collector writes it, or ``date=…/part-*.parquet`` as ``report --format parquet`` writes it — named
by local path (NFS included) or by fsspec URL (``s3://…``, ``gcs://…``, ``memory://…``), an
optional policy, and the address of a ``distributed`` scheduler (``tcp://HOST:8786``). Out: the
same ``audit.Audit`` as the pandas engine (``audit.aggregate``) on the same records, or
``InputError`` naming the file of the first unreadable record, or the scheduler it cannot reach.

How the work is split. The client lists the archive's Parquet files (cheap: names and sizes) and
cuts them into shares; each share is one task on a worker, which reads its files with the report
loader's own Parquet reader (``load.read_parquet``: column projection, the same checks against
hostile files), judges them with the policy (``judge``: the policy is sent to every worker once)
and returns ``audit.Partial`` — its findings rows and its sums. The client fetches the shares'
results in file order as they finish, adds the sums up and writes the tables. So the pandas
engine and this one share every line of the audit arithmetic, and differ only in who runs it.

Why futures rather than ``dask.dataframe.read_parquet``: that reader would skip netcheck's checks
of each file (required fields, known verdicts, UTC times, field lengths), convert strings its own
way (so the two engines would disagree on types), and see the hive ``network=`` folder as a second
``network`` column beside the one in the file. A share is read, checked and judged in one task.

An archive holds each record once (the collector and ``report --format parquet`` replace a
partition whole). A record found twice (same id, same line hash: a copied file) is refused with
the files named, since the workers' sums would already have counted it twice; the pandas engine
counts such a copy once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netcheck.errors import InputError
from netcheck.policy.importers import EffectiveConfig
from netcheck.policy.loader import PolicyDoc, load_policy
from netcheck.report import audit
from netcheck.report.judge import Memo, judge
from netcheck.report.load import NOT_RECORDS, is_record_table, read_jsonl, read_parquet, to_frame

SHARE_BYTES = 32 * 1024 * 1024  # Parquet bytes per task: a share's frame stays well under 1 GB
SHARES_PER_WORKER = 4  # enough tasks for the scheduler to even out unequal files
ADDRESS = re.compile(r"^(tcp|tls)://[^\s/]+:\d{1,5}$")
CONNECT_TIMEOUT_S = 10

Failure = tuple[str, str | None, int | None, str | None]  # InputError: message, file, line, field


def check_address(address: str) -> str:
    if not ADDRESS.match(address):
        raise InputError(
            f"not a Dask scheduler address: {address[:80]!r}; give tcp://HOST:8786",
            field="--dask",
        )
    return address


def aggregate(
    sources: Sequence[str],
    policy: PolicyDoc | None,
    address: str,
    configs: Sequence[EffectiveConfig] = (),
) -> audit.Audit:
    """Connect to the scheduler at ``address`` and aggregate ``sources`` there."""
    from distributed import Client  # the cluster is optional: pip install 'netcheck[fleet]'

    check_address(address)
    try:
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=CONNECT_TIMEOUT_S, set_as_default=False
        )
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler: {exc}", field="--dask") from None
    with client:
        return aggregate_on(client, sources, policy, configs)


def aggregate_on(
    client: Any,
    sources: Sequence[str],
    policy: PolicyDoc | None,
    configs: Sequence[EffectiveConfig] = (),
) -> audit.Audit:
    """``aggregate`` with a ``distributed.Client`` already connected. ``configs``: the
    agency's real configs (``report --config``), so findings name the line that blocks."""
    files = list_files(sources)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    # one copy of the policy (and configs) per worker, not one per task
    rules = Rules(policy, tuple(configs)) if policy is not None else None
    sent = client.scatter(rules, broadcast=True) if rules is not None else None
    futures = client.map(_share_partial, cut(files, workers), rules=sent, pure=False)
    shares: list[Share] = []
    for future in futures:  # in file order, while the later shares are still being read
        shares.append(_raise_failure(future.result()))
        future.release()  # the worker may forget the share's rows once the client has them
    if sum(len(s.partial.findings) for s in shares) == 0:
        raise InputError(f"no records: {NOT_RECORDS}", file=", ".join(sources)[:200])
    combined = audit.combine([s.partial for s in shares])
    ids = np.sort(np.concatenate([s.ids for s in shares]))
    if (ids[1:] == ids[:-1]).any():  # an id seen twice (or two ids with one hash): look closer
        _refuse_copies(combined.findings)
    return audit.finish(combined)


@dataclass(frozen=True)
class Rules:
    """What a share is judged against: the policy and the configs that name blocking lines."""

    policy: PolicyDoc
    configs: tuple[EffectiveConfig, ...] = ()


@dataclass(frozen=True)
class Share:
    """What a worker sends back for one share: its partial audit, and a 64-bit hash of each
    record id (sorting those is how the client looks for a record stored twice, cheaply)."""

    partial: audit.Partial
    ids: np.ndarray


def _refuse_copies(findings: pd.DataFrame) -> None:
    """A record stored twice (same id, same line hash) would be counted twice in the sums the
    workers made; the pandas engine would count it once. Say so rather than differ."""
    twice = findings[findings.duplicated(["result_id", "sha256"], keep=False)]
    if twice.empty:
        return  # same id, other content: two records, as the pandas engine counts them
    first = twice[twice["result_id"] == twice["result_id"].iloc[0]]
    files = " and ".join(dict.fromkeys(str(f) for f in first["file"]))
    raise InputError(
        f"record {str(first['result_id'].iloc[0])[:80]!r} is stored twice ({files[:300]}); "
        "an archive holds each record once: remove the copy",
        file=str(first["file"].iloc[-1]),
    )


@contextlib.contextmanager
def local_cluster(workers: int = 2, memory_limit: str = "2GiB") -> Iterator[Any]:
    """A client of a cluster on this machine: a scheduler and ``workers`` single-threaded worker
    processes on loopback, no dashboard (tests, benchmarks, one big machine)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=memory_limit,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


# --- listing and cutting -------------------------------------------------------------------------


Entry = tuple[str, str, int, str]  # label (as the user spelled it), path in its fs, size, source


def list_files(sources: Sequence[str]) -> list[Entry]:
    """Every Parquet file under ``sources``, sorted within each source."""
    found: list[Entry] = []
    for source in sources:
        fs, root = _filesystem(source)
        try:
            if fs.isfile(root):
                found.append((source, root, int(fs.size(root)), source))
                continue
            listed = fs.find(root, detail=True)
        except OSError as exc:
            raise InputError(f"cannot list: {exc}", file=source) from None
        here = [
            (_label(source, root, path), path, int(listed[path].get("size") or 0), source)
            for path in sorted(listed)
            if path.endswith(".parquet") and "/." not in path  # not a writer's .tmp file
        ]
        if not here:
            raise InputError(f"no Parquet files here; {NOT_RECORDS}", file=source)
        found.extend(here)
    return found


def _filesystem(source: str) -> tuple[Any, str]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(source)
    except (ValueError, ImportError) as exc:  # unknown protocol, or its package missing
        raise InputError(f"cannot open: {exc}", file=source) from None
    return fs, root


def _label(source: str, root: str, path: str) -> str:
    """Name a file as the pandas engine does: the source as given, then the path below it."""
    rest = os.path.relpath(path, root) if path != root else ""
    return f"{source.rstrip('/')}/{rest}" if rest else source


def cut(files: Sequence[Entry], workers: int) -> list[list[Entry]]:
    """Consecutive files in shares of at most ``SHARE_BYTES``, and at least
    ``SHARES_PER_WORKER`` shares per worker when there are files enough."""
    total = sum(entry[2] for entry in files)
    limit = max(1, min(SHARE_BYTES, total // max(1, workers * SHARES_PER_WORKER)))
    shares: list[list[Entry]] = []
    share: list[Entry] = []
    size_now = 0
    for entry in files:
        if share and size_now + entry[2] > limit:
            shares.append(share)
            share, size_now = [], 0
        share.append(entry)
        size_now += entry[2]
    if share:
        shares.append(share)
    return shares


# --- on the workers ------------------------------------------------------------------------------


def _share_partial(share: list[Entry], rules: Rules | None) -> Share | Failure:
    """Read, check and judge one share of files; ``InputError`` travels back as a tuple
    (pickling would drop its keyword arguments)."""
    import pyarrow as pa

    try:
        tables = []
        systems: dict[str, Any] = {}
        for label, path, _, source in share:
            if source not in systems:
                fs = _filesystem(source)[0]
                systems[source] = None if _is_local(fs) else _arrow_fs(fs)
            arrow_fs = systems[source]
            if is_record_table(path, arrow_fs):
                tables.append(read_parquet(path, arrow_fs, label=label))
        if tables:
            frame = to_frame(pa.concat_tables(tables, promote_options="permissive"))
        else:
            frame = to_frame(read_jsonl([]))
        if rules is not None:
            frame = judge(frame, rules.policy, _memo(rules), configs=rules.configs)
        ids = pd.util.hash_pandas_object(frame["id"], index=False).to_numpy(np.uint64)
        return Share(audit.partial(frame), ids)
    except InputError as exc:
        return (exc.message, exc.file, exc.line, exc.field)


_MEMOS: dict[int, tuple[Rules, Memo]] = {}


def _memo(rules: Rules) -> Memo:
    """One memo per ``Rules`` object a worker holds (the scattered copy lives as long as the
    report): the findings of the outcomes it has judged for earlier shares."""
    held = _MEMOS.get(id(rules))
    if held is None or held[0] is not rules:
        _MEMOS.clear()  # a new report: the last one's answers are of no use
        held = _MEMOS[id(rules)] = (rules, {})
    return held[1]


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _arrow_fs(fs: Any) -> Any:
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    return PyFileSystem(FSSpecHandler(fs))


def _raise_failure(value: Any) -> Any:
    if isinstance(value, tuple):
        message, file, line, field = value
        raise InputError(message, file=file, line=line, field=field)
    return value


# --- the command's side --------------------------------------------------------------------------


def report_on_cluster(
    sources: Sequence[str],
    policy_file: str | None,
    audience: str,
    fmt: str,
    out: Path | None,
    address: str,
    configs: Sequence[str] = (),
) -> list[Path]:
    """``netcheck report --audience audit --dask ADDRESS``: every check first (flags, inputs,
    ``--out``, the policy), then the aggregation on the cluster, then the folder written as
    ``report.make`` writes it."""
    from netcheck.report.make import (
        FOLDER_FORMATS,
        check_out_not_input,
        check_out_shape,
        read_configs,
        write_tables,
    )

    check_address(address)
    if audience != "audit" or fmt not in FOLDER_FORMATS:
        raise InputError(
            "--dask makes the audit tables: use --audience audit --format csv or parquet",
            field="--dask",
        )
    if out is None:
        raise InputError(f"--format {fmt} writes a folder: give --out FOLDER", field="--out")
    check_out_shape(out, fmt)
    local = [label for label, *_ in list_files(sources) if "://" not in label]
    given = [s for s in sources if "://" not in s]
    if configs and not policy_file:
        raise InputError(
            "--config needs --policy: findings name a config's lines", field="--config"
        )
    effective, read = read_configs(configs)
    check_out_not_input(out, [*given, *local, *([policy_file] if policy_file else []), *read])
    policy = load_policy(policy_file) if policy_file else None
    return write_tables(aggregate(sources, policy, address, effective), fmt, out)
