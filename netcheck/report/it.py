"""IT's view: Prometheus text exposition (for node_exporter's textfile collector) and JSON.

In: the results table (``load`` + ``judge`` when a policy was given). Out: ``prometheus_text`` —
gauges from the latest measurement per (target, network):

- ``netcheck_target_up{service,function,network,technique,url}`` 1 when it loads (accessible or
  degraded), else 0; ``technique`` is empty when nothing was detected;
- ``netcheck_goodput_mbps{service,network}`` only when records carry a goodput figure (``run
  --bandwidth`` stores it under ``bandwidth.goodput_mbps``);
- ``netcheck_findings{kind,network}`` findings per kind (only with a policy);
- ``netcheck_last_run_timestamp_seconds{network}`` when the network was last measured.

No timestamps on samples (the textfile collector rejects them). ``it_json`` has the same facts
with the rule behind each finding. The file should be written atomically (``write_atomic``):
node_exporter may read it at any moment.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from netcheck.policy.loader import PolicyDoc
from netcheck.report.state import has_findings, latest, where

_HELP = {
    "netcheck_target_up": "1 when the target loads from the network in the latest measurement.",
    "netcheck_goodput_mbps": "Measured goodput towards the service, Mbit/s.",
    "netcheck_findings": "Findings in the latest measurement per target, by kind and network.",
    "netcheck_last_run_timestamp_seconds": "When the network was last measured (Unix time).",
}


def escape_label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: dict[str, object], value: float) -> str:
    inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:.17g}"


def _family(name: str, samples: Iterable[str]) -> list[str]:
    lines = list(samples)
    if not lines:
        return []
    return [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} gauge", *lines]


def _text(value: Any) -> str:
    """A pandas cell as label text: missing (None, NaN, NA) is empty."""
    return "" if value is None or pd.isna(value) else str(value)


def prometheus_text(frame: pd.DataFrame) -> str:
    now = latest(frame)
    out: list[str] = []
    up = (
        _sample(
            "netcheck_target_up",
            {
                "service": r.service,
                "function": r.function,
                "network": _text(r.network),
                "technique": _text(r.technique),
                "url": r.url,
            },
            1.0 if r.verdict in ("accessible", "degraded") else 0.0,
        )
        for r in now.itertuples(index=False)
    )
    out += _family("netcheck_target_up", up)
    goodput = (
        now[now["goodput_mbps"].notna()]
        .groupby(["service", "network"], observed=True, dropna=False)["goodput_mbps"]
        .mean()
    )
    out += _family(
        "netcheck_goodput_mbps",
        (
            _sample(
                "netcheck_goodput_mbps",
                {"service": r["service"], "network": _text(r["network"])},
                float(r["goodput_mbps"]),
            )
            for r in goodput.reset_index().to_dict("records")
        ),
    )
    if has_findings(now):
        counts = now.groupby(["kind", "policy_network"], observed=True, dropna=False).size()
        out += _family(
            "netcheck_findings",
            (
                _sample(
                    "netcheck_findings",
                    {"kind": r["kind"], "network": _text(r["policy_network"])},
                    float(r["count"]),
                )
                for r in counts.reset_index(name="count").to_dict("records")
            ),
        )
    last = frame.groupby("network", observed=True, dropna=False)["ts"].max()
    out += _family(
        "netcheck_last_run_timestamp_seconds",
        (
            _sample("netcheck_last_run_timestamp_seconds", {"network": _text(n)}, ts.timestamp())
            for n, ts in last.items()
        ),
    )
    return "\n".join(out) + "\n"


def it_json(frame: pd.DataFrame, policy: PolicyDoc | None) -> str:
    now = latest(frame)
    with_policy = has_findings(now)
    targets = []
    for _, r in now.iterrows():
        item: dict[str, object] = {
            "service": r["service"],
            "function": r["function"],
            "url": r["url"],
            "network": _text(r["network"]) or None,
            "up": r["verdict"] in ("accessible", "degraded"),
            "verdict": r["verdict"],
            "technique": _text(r["technique"]) or None,
            "vendor": _text(r["vendor"]) or None,
            "measured_at": r["measured_at"],
            "blocked_since": None if pd.isna(r["since"]) else r["since"].isoformat(),
            "result_id": r["id"],
            "sha256": r["sha256"],
        }
        if with_policy:
            item["finding"] = {
                "kind": r["kind"],
                "rule": r["rule"],
                "where": where(r),
                "config_line": _text(r["config_line"]) or None,
                "evidence": r["finding_evidence"],
            }
        targets.append(item)
    doc = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy": None if policy is None else policy.file,
        "records": len(frame),
        "targets": targets,
        "findings": (
            {str(k): int(v) for k, v in now["kind"].value_counts().items() if v}
            if with_policy
            else None
        ),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write then rename, so a reader (node_exporter) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
