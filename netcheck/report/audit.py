"""The auditors' tables: every finding with its evidence, a compliance matrix, reachability over
time — pandas groupbys over the whole fleet's records (probes × networks × dates).

In: the results table (``load`` + ``judge`` when a policy was given). Out: ``Audit`` (three
DataFrames), written by ``write_csv`` / ``write_parquet`` into a folder, or ``render_html``.

- ``findings``: one row per finding (= per record when a policy is given), with the record's
  ``result_id``, ``sha256`` (of the stored line), file and line, the measured outcome, the rule
  (id, file, line), the finding's evidence sentence and the config line when known. Without a
  policy there are no findings: the table holds the records' verdicts and evidence instead.
- ``matrix``: rule × network → status (the most serious kind seen: self-blocking, then
  unenforced-block, bandwidth-shortfall, inconclusive, undeclared, compliant), with counts per
  kind, first and last time a failing kind was seen. Empty without a policy.
- ``reachability``: date × service × function × network → records, accessible, blocked,
  degraded, other, and the share that loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


@dataclass(frozen=True)
class Audit:
    findings: pd.DataFrame
    matrix: pd.DataFrame
    reachability: pd.DataFrame
    with_policy: bool


def aggregate(frame: pd.DataFrame) -> Audit:
    with_policy = has_findings(frame)
    return Audit(
        findings=findings_table(frame),
        matrix=compliance_matrix(frame) if with_policy else pd.DataFrame(),
        reachability=reachability(frame),
        with_policy=with_policy,
    )


def findings_table(frame: pd.DataFrame) -> pd.DataFrame:
    if not has_findings(frame):
        return frame[RECORD_COLUMNS].rename(columns={"id": "result_id"}).reset_index(drop=True)
    out = frame[RECORD_COLUMNS + list(FINDING_COLUMNS)].rename(
        columns={"id": "result_id", "evidence": "result_evidence", "finding_evidence": "evidence"}
    )
    return out.reset_index(drop=True)


def compliance_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Long form: one row per (rule, network) with its status and counts per kind."""
    keys = ["rule", "rule_file", "rule_line", "policy_network"]
    counts = (
        frame.groupby(keys + ["kind"], observed=True, dropna=False)
        .size()
        .unstack("kind", fill_value=0)
    )
    for kind in FINDING_KINDS:
        if kind not in counts.columns:
            counts[kind] = 0
    counts = counts[list(FINDING_KINDS)]
    status = pd.Series("compliant", index=counts.index)
    for kind in reversed(SEVERITY):  # the most serious kind present is written last
        status = status.mask(counts[kind] > 0, kind)
    failing = frame[frame["kind"].isin(list(FAILING_KINDS))]
    seen = failing.groupby(keys, observed=True, dropna=False)["ts"].agg(["min", "max"])
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
    keys = ["date", "service", "function", "network"]
    verdicts = frame["verdict"].astype(str)
    parts = pd.DataFrame(
        {
            **{k: frame[k] for k in keys},
            "records": 1,
            "accessible": (verdicts == "accessible").astype("int32"),
            "blocked": (verdicts == "blocked").astype("int32"),
            "degraded": (verdicts == "degraded").astype("int32"),
        }
    )
    out = parts.groupby(keys, observed=True, dropna=False).sum().reset_index()
    out["other"] = out["records"] - out["accessible"] - out["blocked"] - out["degraded"]
    out["share_loaded"] = ((out["accessible"] + out["degraded"]) / out["records"]).round(4)
    return out


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
