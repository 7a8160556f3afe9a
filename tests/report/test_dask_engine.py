"""The audit aggregation on a real Dask cluster (a scheduler and two worker processes on
loopback, started here) gives the pandas engine's findings, matrix and reachability, byte for
byte after sorting, on a generated fleet archive: several networks (one the policy does not
know), days, probes, verdicts and connect times (a rule with ``max_rtt_ms``), in the collector's
layout ``date=…/network=…/*.parquet`` and in ``report --format parquet``'s ``date=…``.
Bad archives stop with the loader's one-line errors, raised on the client."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.errors import InputError
from netcheck.models import ProbeInfo, Result, Steps, Target, TcpStep
from netcheck.output import dump_line
from netcheck.policy.loader import load_policy
from netcheck.report import audit, dask_engine, fastjson, ingest
from netcheck.report.judge import judge
from netcheck.report.load import load
from netcheck.targets.catalogue import builtin_targets
from tests.report.test_report_load import POLICY

distributed = pytest.importorskip("distributed")

NETWORKS = ("central", "comms-office", "vpn", "sede-norte")  # sede-norte: not in the policy
OUTCOMES = (
    ("accessible", None, None),
    ("blocked", "http-blockpage", "squid"),
    ("blocked", "dns-sinkhole", None),
    ("blocked", "tcp-reset", None),
    ("blocked", "proxy-denied", "squid"),
    ("degraded", "throttled", None),
    ("unreachable", None, None),
    ("inconclusive", None, None),
)
OFFICIAL = (
    Target(url="https://www.youtube.com/@MinisterioLab", service="youtube",
           function="official_channel", official=True, category="MMED"),
    Target(url="https://x.com/MinisterioEj", service="x", function="official_channel",
           official=True, category="GRP"),
)  # fmt: skip


def fleet_lines(probes: int = 12, days: int = 5, seed: int = 15) -> dict[tuple[str, str], list]:
    """(probe, date) → record lines of one daily run, seeded."""
    rnd = random.Random(seed)
    targets = [*OFFICIAL, *builtin_targets()[:20]]
    runs: dict[tuple[str, str], list[bytes]] = {}
    for p in range(probes):
        probe_id, network = f"probe-{p:03d}", NETWORKS[p % len(NETWORKS)]
        for d in range(days):
            day = f"2026-11-{d + 10:02d}"
            lines = []
            for k, target in enumerate(rnd.sample(targets, 14)):
                verdict, technique, vendor = rnd.choice(OUTCOMES)
                failed = technique == "tcp-reset"
                tcp = TcpStep(
                    ip="192.0.2.7",
                    port=443,
                    runtime_ms=round(rnd.uniform(5, 600), 3),  # either side of max_rtt_ms 300
                    failure="connection_reset" if failed else None,
                )
                record = Result.model_validate(
                    {
                        "id": f"{probe_id}-{day}-{k:02d}",
                        "probe": ProbeInfo(
                            id=probe_id,
                            software_version="0.1.0",
                            started_at=f"{day}T08:00:00.000Z",
                            network=network,
                        ),
                        "target": target,
                        "measured_at": f"{day}T{8 + k % 10:02d}:{k:02d}:05.000Z",
                        "verdict": verdict,
                        "technique": technique,
                        "vendor": vendor,
                        "evidence": f"{verdict} ({technique or 'no technique'}) #{k % 3}",
                        "steps": Steps(tcp=[tcp]),
                    }
                )
                lines.append(dump_line(record).encode())
            runs[(probe_id, day)] = lines
    return runs


def write_collector_archive(root: Path, runs: dict[tuple[str, str], list]) -> Path:
    """``records/date=…/network=…/<probe>-<seq>.parquet`` with the columns the collector writes
    (``server/archive.py``: the decoded columns, the enrolled network, batch numbers, the
    canonical record)."""
    for seq, ((probe, day), lines) in enumerate(sorted(runs.items())):
        table = fastjson.table_from_lines(lines).drop_columns(["file_index", "line"])
        network = table.column("network")[0].as_py()
        table = table.append_column("batch_seq", pa.array([seq] * len(lines), pa.int64()))
        table = table.append_column("record", pa.array([x.decode() for x in lines]))
        folder = root / f"date={day}" / f"network={network}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"{probe}-{seq:08d}.parquet")
    return root


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with dask_engine.local_cluster(workers=2, memory_limit="1GiB") as c:
        yield c


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fleet")
    runs = fleet_lines()
    for (probe, day), lines in runs.items():
        path = root / "jsonl" / probe / day / "run.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(lines) + b"\n")
    ingest.write_dataset(load([str(root / "jsonl")]), root / "ingested")
    return {
        "collector": write_collector_archive(root / "records", runs),
        "ingested": root / "ingested",
    }


def _sorted_csv(path: Path) -> list[bytes]:
    lines = path.read_bytes().splitlines()
    return [lines[0], *sorted(lines[1:])]


@pytest.mark.parametrize("layout", ["collector", "ingested"])
@pytest.mark.parametrize("with_policy", [True, False])
def test_cluster_tables_equal_the_pandas_engine(
    client: object, archives: dict[str, Path], tmp_path: Path, layout: str, with_policy: bool
) -> None:
    source = str(archives[layout])
    policy = load_policy(POLICY) if with_policy else None
    frame = load([source])
    expected = audit.aggregate(judge(frame, policy) if policy else frame)
    got = dask_engine.aggregate_on(client, [source], policy)

    assert len(got.findings) == len(frame) == 12 * 5 * 14
    assert got.with_policy is with_policy
    if with_policy:
        assert {"self-blocking", "unenforced-block"} <= set(got.matrix["status"])
        assert got.matrix["n_compliant"].sum() > 0
        assert got.matrix["n_inconclusive"].sum() > 0
        assert "sede-norte" in set(got.matrix["network"])  # a label the policy does not know
    pandas_out = audit.write_csv(expected, tmp_path / "pandas")
    dask_out = audit.write_csv(got, tmp_path / "dask")
    assert [p.name for p in pandas_out] == [p.name for p in dask_out]
    for mine, theirs in zip(pandas_out, dask_out, strict=True):
        assert _sorted_csv(mine) == _sorted_csv(theirs), mine.name
    # and the frames themselves, values and dtypes (categories may be listed in another order)
    for name in ("findings", "matrix", "reachability"):
        left, right = _comparable(getattr(expected, name)), _comparable(getattr(got, name))
        pd.testing.assert_frame_equal(left, right, check_categorical=False)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(out[name].cat.categories.dtype)
    keys = [c for c in ("result_id", "rule", "network", "date", "service", "function") if c in out]
    return out.sort_values(keys, na_position="last").reset_index(drop=True)


def test_the_cluster_really_did_the_work(client: object, archives: dict[str, Path]) -> None:
    """Not a local fallback: tasks ran in both worker processes, not in this one."""

    def executed(dask_worker: object) -> int:
        return int(dask_worker.state.executed_count)  # type: ignore[attr-defined]

    before = client.run(executed)
    dask_engine.aggregate_on(client, [str(archives["collector"])], load_policy(POLICY))
    after = client.run(executed)
    assert len(after) == 2
    assert all(after[w] > before[w] for w in after), (before, after)


def test_shares_split_the_archive_for_both_workers(archives: dict[str, Path]) -> None:
    files = dask_engine.list_files([str(archives["collector"])])
    shares = dask_engine.cut(files, 2)
    assert len(shares) >= 2 * dask_engine.SHARES_PER_WORKER
    assert [f for share in shares for f in share] == files  # every file once, in order
    assert files[0][0].startswith(str(archives["collector"]) + "/date=2026-11-10/network=")


def test_a_bad_file_stops_with_the_loaders_error(
    client: object, archives: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "records"
    day = root / "date=2026-11-10" / "network=central"
    day.mkdir(parents=True)
    good = next((archives["collector"] / "date=2026-11-10" / "network=central").iterdir())
    table = pq.read_table(good, partitioning=None)
    verdicts = table.column("verdict")
    broken = table.set_column(
        table.schema.get_field_index("verdict"),
        "verdict",
        pc.if_else(pc.equal(pa.array(range(len(table))), 3), "maybe", verdicts),
    )
    pq.write_table(broken, day / "a.parquet")
    with pytest.raises(InputError, match="unknown verdict 'maybe'") as caught:
        dask_engine.aggregate_on(client, [str(root)], None)
    assert caught.value.file == str(day / "a.parquet")
    assert caught.value.field == "verdict"

    (day / "a.parquet").write_bytes(b"PAR1 this is not Parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        dask_engine.aggregate_on(client, [str(root)], None)


def test_a_copied_file_is_refused_not_counted_twice(
    client: object, archives: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "records"
    shutil.copytree(archives["collector"], root)
    original = sorted(root.rglob("*.parquet"))[0]
    shutil.copy(original, original.with_name("copy.parquet"))
    with pytest.raises(InputError, match="is stored twice") as caught:
        dask_engine.aggregate_on(client, [str(root)], None)
    assert "copy.parquet" in caught.value.message


def test_fsspec_urls_are_read_with_the_same_checks(archives: dict[str, Path]) -> None:
    """An object store through fsspec (its in-memory file system here: a share is read in this
    process, since another process cannot see this one's memory)."""
    import fsspec

    memory = fsspec.filesystem("memory")
    source = archives["collector"]
    for path in sorted(source.rglob("*.parquet")):
        memory.pipe(f"/fleet/{path.relative_to(source)}", path.read_bytes())
    files = dask_engine.list_files(["memory://fleet"])
    assert len(files) == len(list(source.rglob("*.parquet")))
    assert files[0][0].startswith("memory://fleet/date=")
    policy = dask_engine.Rules(load_policy(POLICY))
    part = dask_engine._share_partial(files, policy)
    assert isinstance(part, dask_engine.Share)
    local = dask_engine._share_partial(dask_engine.list_files([str(source)]), policy)
    assert isinstance(local, dask_engine.Share)
    left = local.partial.findings.drop(columns=["file"]).astype(str)
    right = part.partial.findings.drop(columns=["file"]).astype(str)
    pd.testing.assert_frame_equal(left, right)
    memory.pipe("/fleet/date=2026-11-10/network=vpn/bad.parquet", b"not parquet")
    failure = dask_engine._share_partial(dask_engine.list_files(["memory://fleet"]), policy)
    assert isinstance(failure, tuple)
    assert "not a readable Parquet file" in failure[0]


def test_cli_dask_writes_the_same_folder(
    client: object, archives: dict[str, Path], tmp_path: Path
) -> None:
    """With a squid config too: findings name its blocking line on both engines."""
    address = client.scheduler.address
    source = str(archives["collector"])
    squid = tmp_path / "squid.conf"
    squid.write_text(
        "acl redes_sociales dstdomain .youtube.com .tiktok.com\n"
        "http_access deny redes_sociales\n"
        "http_access allow all\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    args = ["report", source, "--policy", POLICY, "--audience", "audit", "--format", "csv"]
    args += ["--config", f"squid:{squid}"]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "pandas")])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "dask"), "--dask", address])
    assert done.exit_code == 0, done.output
    names = sorted(p.name for p in (tmp_path / "pandas").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "dask").iterdir())
    for name in names:
        assert _sorted_csv(tmp_path / "pandas" / name) == _sorted_csv(tmp_path / "dask" / name)
    findings = pd.read_csv(tmp_path / "dask" / "findings.csv")
    assert findings["config_line"].astype(str).str.contains("squid.conf:2").any()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dask", "localhost:8786"], "not a Dask scheduler address"),
        (["--dask", "tcp://127.0.0.1:8786", "--format", "html"], "--audience audit --format"),
        (["--dask", "tcp://127.0.0.1:8786", "--format", "csv"], "give --out FOLDER"),
    ],
)
def test_cli_dask_refusals_are_one_line(
    archives: dict[str, Path], extra: list[str], message: str
) -> None:
    done = CliRunner().invoke(
        app, ["report", str(archives["collector"]), "--audience", "audit", *extra]
    )
    assert done.exit_code == 2, done.output
    assert message in done.output


def test_cli_scheduler_out_of_reach_is_an_input_error(
    archives: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT_S", 1)
    args = ["report", str(archives["collector"]), "--audience", "audit", "--format", "csv"]
    out = tmp_path / "audit"
    done = CliRunner().invoke(app, [*args, "--out", str(out), "--dask", "tcp://127.0.0.1:9"])
    assert done.exit_code == 2, done.output
    assert "cannot reach the Dask scheduler" in done.output
    assert not out.exists()
