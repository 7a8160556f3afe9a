"""The current state per (target, network), and how a group of targets answers.

In: the results table (``load.load``, with the ``judge`` columns when a policy was given). Out:
``latest`` — one row per (service, function, url, network), the most recent measurement, with
``since``: when the current run of ``blocked`` measurements began (the first ``measured_at``
after the last measurement that was not blocked), NaT when the latest is not blocked; and
``trouble_since``: the same for "does not load fully" (blocked, degraded, unreachable...), NaT
when the latest loads fully. ``answer_of`` — what a set of targets says about a service function
on a network (works / works in part / does not work / could not be checked). ``where`` — the
rule's place as ``file:line`` (``short``: the file's name only, for the comms report, which
never shows a machine's path). ``page_failures`` — of a ``degraded`` page from browser mode,
the requests of the service's own domains that the network blocked (the ``browser_failed``
column).
Groupbys on the table; per-row Python only for the few rows the report names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pandas as pd

KEY = ["service", "function", "url", "network"]
LOADS = ("accessible", "degraded")
BAD = ("blocked", "degraded")
#: what a communications officer does with a catalogue function
ABILITY_OF = {
    "view": "view",
    "official_channel": "view",
    "media": "view",
    "login": "admin",
    "admin": "admin",
    "api": "admin",
    "upload": "publish",
    "live_ingest": "stream",
}
ABILITIES = ("view", "admin", "publish", "stream")
#: answers in the order a reader should meet them: what needs action first
ANSWERS = ("no", "partial", "unknown", "yes")


def has_findings(frame: pd.DataFrame) -> bool:
    return "kind" in frame.columns


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The most recent record per (url, network), with its ``since`` and ``trouble_since``."""
    if frame.empty:
        out = frame.copy()
        out["since"] = pd.Series([], dtype="datetime64[us, UTC]")
        out["trouble_since"] = pd.Series([], dtype="datetime64[us, UTC]")
        return out
    ordered = frame.sort_values("ts", kind="stable")
    last = ordered.groupby(KEY, observed=True, dropna=False, sort=False).tail(1)
    out = last.merge(_run_start(frame, frame["verdict"] == "blocked", "since"), on=KEY, how="left")
    out = out.merge(
        _run_start(frame, frame["verdict"] != "accessible", "trouble_since"), on=KEY, how="left"
    )
    out.loc[out["verdict"] != "blocked", "since"] = pd.NaT
    out.loc[out["verdict"] == "accessible", "trouble_since"] = pd.NaT
    return out.sort_values(KEY).reset_index(drop=True)


def _run_start(frame: pd.DataFrame, inside: pd.Series, name: str) -> pd.DataFrame:
    """Per KEY, the first ``ts`` of the latest unbroken run of rows where ``inside`` holds."""
    last_out = (
        frame.loc[~inside, KEY + ["ts"]]
        .groupby(KEY, observed=True, dropna=False)["ts"]
        .max()
        .rename("last_out")
        .reset_index()
    )
    runs = frame.loc[inside, KEY + ["ts"]].merge(last_out, on=KEY, how="left")
    runs = runs[runs["last_out"].isna() | (runs["ts"] > runs["last_out"])]
    return runs.groupby(KEY, observed=True, dropna=False)["ts"].min().rename(name).reset_index()


def answer_of(verdicts: Sequence[str]) -> str:
    """``yes`` when every target loads fully, ``no`` when none loads and some are blocked,
    ``partial`` when some load and others are blocked or slowed, else ``unknown`` (nothing
    blocked, but something could not be measured)."""
    if all(v == "accessible" for v in verdicts):
        return "yes"
    if "blocked" in verdicts and not any(v in LOADS for v in verdicts):
        return "no"
    if any(v in BAD for v in verdicts):
        return "partial"
    return "unknown"


def file_name(path: object) -> str:
    """The file's name without the folders of the machine that made the report."""
    return PurePath(str(path)).name


def where(row: pd.Series, *, short: bool = False) -> str:
    """``file:line`` of the finding's rule (just the file when the line is unknown); ``short``
    keeps the file's name only, for readers outside IT."""
    line = row.get("rule_line")
    name = file_name(row["rule_file"]) if short else str(row["rule_file"])
    if line is None or pd.isna(line):
        return name
    return f"{name}:{int(line)}"


@dataclass(frozen=True)
class PageFailure:
    """A request a page needed and the network blocked (``browser.failed[]``, in short)."""

    type: str
    host: str
    technique: str
    vendor: str | None


def page_failures(row: Mapping[str, Any]) -> list[PageFailure]:
    """What made a ``degraded`` page from browser mode degraded: failed requests of the service's
    own domains (not the document) with a technique netcheck measured on their host. Empty for
    any other row: a throttled service, an ads-only failure, a request netcheck reached."""
    raw = row.get("browser_failed")
    if row.get("verdict") != "degraded" or not isinstance(raw, str):
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        return []  # a Parquet copy from elsewhere: no sentence rather than a crash
    out = []
    for item in items if isinstance(items, list) else ():
        if not (isinstance(item, list) and len(item) == 5):
            continue
        kind, host, technique, vendor, party = item
        if party == "own" and kind != "document" and technique and host:
            out.append(PageFailure(str(kind), str(host), str(technique), vendor and str(vendor)))
    return out
