"""The current state per (target, network), and what to ask IT about it.

In: the results table (``load.load``, with the ``judge`` columns when a policy was given). Out:
``latest`` — one row per (service, function, url, network), the most recent measurement, with
``since``: when the current run of ``blocked`` measurements began (the first ``measured_at``
after the last measurement that was not blocked), NaT when the latest is not blocked.
``ask_it`` — the sentence that tells a communications officer what to ask IT, quoting the rule
(file:line) and, when known, the config line. All groupbys, no per-record Python.
"""

from __future__ import annotations

import pandas as pd

from netcheck.report.i18n import Messages

KEY = ["service", "function", "url", "network"]
LOADS = ("accessible", "degraded")
ABILITY_OF = {
    "view": "view",
    "official_channel": "view",
    "media": "view",
    "login": "admin",
    "admin": "admin",
    "upload": "admin",
    "api": "admin",
    "live_ingest": "stream",
}


def has_findings(frame: pd.DataFrame) -> bool:
    return "kind" in frame.columns


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The most recent record per (url, network), with its ``since`` column."""
    if frame.empty:
        out = frame.copy()
        out["since"] = pd.Series([], dtype="datetime64[us, UTC]")
        return out
    ordered = frame.sort_values("ts", kind="stable")
    last = ordered.groupby(KEY, observed=True, dropna=False, sort=False).tail(1)
    blocked = frame["verdict"] == "blocked"
    last_ok = (
        frame.loc[~blocked, KEY + ["ts"]]
        .groupby(KEY, observed=True, dropna=False)["ts"]
        .max()
        .rename("last_ok")
        .reset_index()
    )
    runs = frame.loc[blocked, KEY + ["ts"]].merge(last_ok, on=KEY, how="left")
    runs = runs[runs["last_ok"].isna() | (runs["ts"] > runs["last_ok"])]
    since = runs.groupby(KEY, observed=True, dropna=False)["ts"].min().rename("since").reset_index()
    out = last.merge(since, on=KEY, how="left")
    out.loc[out["verdict"] != "blocked", "since"] = pd.NaT
    return out.sort_values(["service", "function", "url", "network"]).reset_index(drop=True)


def where(row: pd.Series) -> str:
    """``file:line`` of the finding's rule (just the file when the line is unknown)."""
    line = row.get("rule_line")
    if line is None or pd.isna(line):
        return str(row["rule_file"])
    return f"{row['rule_file']}:{int(line)}"


def ask_it(row: pd.Series, msgs: Messages, network: str) -> str:
    """What to ask IT about a record that does not load as it should."""
    if "kind" not in row.index or pd.isna(row.get("rule")):
        return msgs.text("ask_it_no_policy", url=row["url"], network=network)
    if row["decision"] == "block" and row["kind"] == "compliant":
        return msgs.text("ask_it_policy_blocks", rule=row["rule"], where=where(row))
    if row["rule"] == "default":
        return msgs.text("ask_it_default", where=where(row))
    config = row.get("config_line")
    if config is not None and not pd.isna(config):
        return msgs.text(
            "ask_it_rule_config", rule=row["rule"], where=where(row), config_line=config
        )
    return msgs.text("ask_it_rule", rule=row["rule"], where=where(row))
