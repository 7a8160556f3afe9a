"""The auditors' tables: every finding with its evidence, a compliance matrix, reachability over
time — pandas groupbys over the whole fleet's records (probes × networks × dates).

In: the results table (``load`` + ``judge`` when a policy was given). Out: ``Audit`` (three
DataFrames), written by ``write_csv`` / ``write_parquet`` into a folder, or ``render_html``.

The arithmetic is done per share of the records (``partial``: the share's findings rows and its
sums), then shares are put together (``combine``) and the tables finished (``finish``). The pandas
engine (``aggregate``) has one share, the whole table; the Dask engine (``dask_engine``) has one
per task on the cluster's workers. Same code, so the same tables, row for row.

- ``findings``: one row per finding (= per record when a policy is given), with the record's
  ``result_id``, ``sha256`` (of the stored line: for the collector's archive, the hash its
  probe signed), its probe, and from the archive the signed batch that lists it
  (``batch_seq``, ``batch_sha256``: the signature reference ``netcheck verify`` checks), file
  and line, the measured outcome, the rule
  (id, file, line), the finding's evidence sentence and the config line when known. Without a
  policy there are no findings: the table holds the records' verdicts and evidence instead.
- ``matrix``: rule × network → status (the most serious kind seen: self-blocking, then
  unenforced-block, bandwidth-shortfall, inconclusive, undeclared, compliant), with counts per
  kind, first and last time a failing kind was seen. Empty without a policy.
- ``reachability``: date × service × function × network → records, accessible, blocked,
  degraded, other, and the share that loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from netcheck.errors import InputError
from netcheck.policy.findings import FAILING_KINDS, FINDING_KINDS
from netcheck.policy.loader import PolicyDoc
from netcheck.report import charts
from netcheck.report.comms import findings_chart, overview, policy_line
from netcheck.report.i18n import messages
from netcheck.report.judge import FINDING_COLUMNS
from netcheck.report.render import render
from netcheck.report.state import has_findings, where

SEVERITY = (
    "self-blocking",
    "unenforced-block",
    "bandwidth-shortfall",
    "inconclusive",
    "undeclared",
    "compliant",
)
RECORD_COLUMNS = [
    "id",
    "sha256",
    "file",
    "line",
    "probe_id",
    "batch_seq",
    "batch_sha256",
    "network",
    "measured_at",
    "service",
    "function",
    "url",
    "official",
    "verdict",
    "technique",
    "vendor",
    "intercepted",
    "evidence",
]
HTML_FINDINGS_CAP = 500
MATRIX_KEYS = ["rule", "rule_file", "rule_line", "policy_network"]
REACH_KEYS = ["date", "service", "function", "network"]


@dataclass(frozen=True)
class Audit:
    findings: pd.DataFrame
    matrix: pd.DataFrame
    reachability: pd.DataFrame
    with_policy: bool


@dataclass(frozen=True)
class Partial:
    """The audit of one share of the records, before the shares are put together: the share's
    findings rows, its counts per (rule, network, kind), the first and last failing time per
    (rule, network), and its reachability sums. Shares combine by concatenating and summing
    (``combine``), so one process or a cluster gets the same tables (``finish``)."""

    findings: pd.DataFrame
    counts: pd.DataFrame
    seen: pd.DataFrame
    reach: pd.DataFrame
    with_policy: bool


def aggregate(frame: pd.DataFrame) -> Audit:
    """The pandas engine: the whole table is one share."""
    return finish(partial(frame))


def partial(frame: pd.DataFrame) -> Partial:
    """One share's findings rows and sums (see ``Partial``)."""
    with_policy = has_findings(frame)
    counts = seen = pd.DataFrame()
    if with_policy:
        counts = _plain(
            frame.groupby([*MATRIX_KEYS, "kind"], observed=True, dropna=False)
            .size()
            .rename("n")
            .reset_index()
        )
        failing = frame[frame["kind"].isin(list(FAILING_KINDS))]
        seen = _plain(
            failing.groupby(MATRIX_KEYS, observed=True, dropna=False)["ts"]
            .agg(["min", "max"])
            .reset_index()
        )
    return Partial(
        findings=findings_table(frame),
        counts=counts,
        seen=seen,
        reach=_plain(_reach_sums(frame)),
        with_policy=with_policy,
    )


def combine(parts: Sequence[Partial]) -> Partial:
    """Shares put together: rows concatenated, counts summed, first/last failing times kept."""
    if len(parts) == 1:
        return parts[0]
    with_policy = parts[0].with_policy
    counts = seen = pd.DataFrame()
    if with_policy:
        counts = _regroup([p.counts for p in parts], [*MATRIX_KEYS, "kind"], {"n": "sum"})
        seen = _regroup([p.seen for p in parts], MATRIX_KEYS, {"min": "min", "max": "max"})
    sums = dict.fromkeys(("records", "accessible", "blocked", "degraded"), "sum")
    return Partial(
        findings=concat_rows([p.findings for p in parts]),
        counts=counts,
        seen=seen,
        reach=_regroup([p.reach for p in parts], REACH_KEYS, sums),
        with_policy=with_policy,
    )


def finish(part: Partial) -> Audit:
    return Audit(
        findings=part.findings.reset_index(drop=True),
        matrix=compliance_matrix(part) if part.with_policy else pd.DataFrame(),
        reachability=_reachability(part.reach),
        with_policy=part.with_policy,
    )


def findings_table(frame: pd.DataFrame) -> pd.DataFrame:
    if not has_findings(frame):
        return frame[RECORD_COLUMNS].rename(columns={"id": "result_id"}).reset_index(drop=True)
    out = frame[RECORD_COLUMNS + list(FINDING_COLUMNS)].rename(
        columns={"id": "result_id", "evidence": "result_evidence", "finding_evidence": "evidence"}
    )
    return out.reset_index(drop=True)


def compliance_matrix(part: Partial) -> pd.DataFrame:
    """Long form: one row per (rule, network) with its status and counts per kind."""
    counts = part.counts.set_index([*MATRIX_KEYS, "kind"])["n"].unstack("kind", fill_value=0)
    for kind in FINDING_KINDS:
        if kind not in counts.columns:
            counts[kind] = 0
    counts = counts[list(FINDING_KINDS)].astype("int64")
    status = pd.Series("compliant", index=counts.index)
    for kind in reversed(SEVERITY):  # the most serious kind present is written last
        status = status.mask(counts[kind] > 0, kind)
    seen = part.seen.set_index(MATRIX_KEYS)
    out = counts.rename(columns={k: f"n_{k}" for k in FINDING_KINDS})
    out.insert(0, "status", status)
    out.insert(1, "records", counts.sum(axis=1))
    out = out.join(seen.rename(columns={"min": "first_failing", "max": "last_failing"}))
    out = out.reset_index().rename(columns={"policy_network": "network"})
    out.columns.name = None
    return out.sort_values(["rule_line", "rule", "network"], na_position="last").reset_index(
        drop=True
    )


def matrix_wide(matrix: pd.DataFrame) -> pd.DataFrame:
    """rule × network → status, for people."""
    if matrix.empty:
        return matrix
    m = matrix.assign(
        where=matrix["rule_file"].astype(str)
        + matrix["rule_line"].map(lambda n: "" if pd.isna(n) else f":{int(n)}")
    )
    wide = m.pivot_table(
        index=["rule", "where"],
        columns="network",
        values="status",
        aggfunc="first",
        observed=True,
    )
    order = {str(r): i for i, r in enumerate(dict.fromkeys(m["rule"]))}
    wide = wide.reset_index().sort_values("rule", key=lambda s: s.astype(str).map(order))
    wide.columns.name = None
    return wide.reset_index(drop=True)


def reachability(frame: pd.DataFrame) -> pd.DataFrame:
    return _reachability(_plain(_reach_sums(frame)))


def _reach_sums(frame: pd.DataFrame) -> pd.DataFrame:
    verdicts = frame["verdict"]
    parts = pd.DataFrame(
        {
            **{k: frame[k] for k in REACH_KEYS},
            "records": np.ones(len(frame), dtype="int64"),
            "accessible": (verdicts == "accessible").to_numpy("int64"),
            "blocked": (verdicts == "blocked").to_numpy("int64"),
            "degraded": (verdicts == "degraded").to_numpy("int64"),
        }
    )
    return parts.groupby(REACH_KEYS, observed=True, dropna=False).sum().reset_index()


def _reachability(sums: pd.DataFrame) -> pd.DataFrame:
    # sorted by value, not by category codes (which follow the order records were read in)
    out = sums.sort_values(REACH_KEYS, na_position="last").reset_index(drop=True)
    out["other"] = out["records"] - out["accessible"] - out["blocked"] - out["degraded"]
    out["share_loaded"] = ((out["accessible"] + out["degraded"]) / out["records"]).round(4)
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Key columns as their values' own dtype: each share has its own categories, and small
    tables of sums are cheaper to put together as plain values."""
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            frame[name] = column.astype(column.cat.categories.dtype)
    return frame


def _regroup(frames: Sequence[pd.DataFrame], keys: list[str], how: dict[str, str]) -> pd.DataFrame:
    rows = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
    if rows.empty:
        return rows
    return rows.groupby(keys, dropna=False, sort=False).agg(how).reset_index()


def concat_rows(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Row tables of several shares as one; a categorical column stays categorical (the union of
    the shares' categories) instead of falling back to one Python string per row."""
    frames = [f for f in frames if len(f)] or list(frames[:1])
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    columns: dict[str, object] = {}
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            columns[name] = union_categoricals(parts, ignore_order=True)
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


# --- writing ----------------------------------------------------------------------------------


def _folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError("the audit tables go into a folder; this is a file", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_csv(audit: Audit, out: Path) -> list[Path]:
    folder = _folder(out)
    written = [folder / ("findings.csv" if audit.with_policy else "records.csv")]
    audit.findings.to_csv(written[0], index=False)
    if audit.with_policy:
        written.append(folder / "compliance_matrix.csv")
        matrix_wide(audit.matrix).to_csv(written[-1], index=False)
        written.append(folder / "compliance_counts.csv")
        audit.matrix.to_csv(written[-1], index=False)
    written.append(folder / "reachability.csv")
    audit.reachability.to_csv(written[-1], index=False)
    return written


def write_parquet(audit: Audit, out: Path) -> list[Path]:
    folder = _folder(out)
    written = [folder / ("findings.parquet" if audit.with_policy else "records.parquet")]
    audit.findings.to_parquet(written[0], index=False)
    if audit.with_policy:
        written.append(folder / "compliance_matrix.parquet")
        audit.matrix.to_parquet(written[-1], index=False)
    written.append(folder / "reachability.parquet")
    audit.reachability.to_parquet(written[-1], index=False)
    return written


def render_html(frame: pd.DataFrame, audit: Audit, policy: PolicyDoc | None, lang: str) -> str:
    msgs = messages(lang)
    attention = audit.findings
    if audit.with_policy:
        attention = attention[attention["kind"].isin([k for k in SEVERITY if k != "compliant"])]
    else:
        attention = attention[attention["verdict"] != "accessible"]
    daily = audit.reachability.groupby("date", observed=True)[
        ["accessible", "blocked", "degraded", "other"]
    ].sum()
    dates = [str(d) for d in daily.index]
    reach_chart = charts.stacked_columns(
        msgs.text("reach_heading"),
        dates,
        [
            (msgs.verdict("accessible"), charts.PALETTE["ok"], daily["accessible"].tolist()),
            (msgs.verdict("blocked"), charts.PALETTE["blocked"], daily["blocked"].tolist()),
            (
                msgs.text("legend_other"),
                charts.PALETTE["other"],
                (daily["degraded"] + daily["other"]).tolist(),
            ),
        ],
    )
    shown = attention.head(HTML_FINDINGS_CAP).astype(object)
    shown = shown.where(shown.notna(), None)
    if audit.with_policy:
        shown["where"] = [where(r) for _, r in shown.iterrows()]
    return render(
        "audit.html.j2",
        html=True,
        m=msgs,
        lang=lang,
        intro=msgs.text("audit_intro", **overview(frame, msgs)),
        policy_line=policy_line(policy, msgs),
        matrix=matrix_wide(audit.matrix),
        charts=[reach_chart, findings_chart(frame, msgs)],
        findings=shown.to_dict("records"),
        findings_more=(
            msgs.text("findings_more", shown=len(shown), total=len(attention))
            if len(attention) > len(shown)
            else None
        ),
        with_policy=audit.with_policy,
    )
