"""Findings for a whole results table: the policy engine run once per distinct outcome.

In: the table from ``load.load`` and a ``PolicyDoc``. Out: the same table with the finding
columns in ``FINDING_COLUMNS`` added (kind, rule, rule_file, rule_line, decision,
official_channel, policy_network, finding_evidence, config_line, config_how).

A finding depends on the target, the probe's network and the measured outcome (verdict,
technique, vendor), plus, for rules with ``requires.max_rtt_ms``, the record's fastest TCP
connect. So ``netcheck.policy.compare.compare_one`` (the one place that decides a finding's kind)
runs once per distinct combination, on a stand-in ``Result`` carrying just those fields, and the
answers are spread back over the rows by index. A million records from a fleet make a few hundred
calls. Connect times are compared at 1 ms resolution (rounded up) to keep the combinations few.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from netcheck.models import ProbeInfo, Result, Steps, Target, TcpStep
from netcheck.policy.compare import compare_one
from netcheck.policy.decide import decide, request_for_target
from netcheck.policy.findings import Finding
from netcheck.policy.importers import EffectiveConfig
from netcheck.policy.loader import PolicyDoc, resolve_network

FINDING_COLUMNS = (
    "kind",
    "rule",
    "rule_file",
    "rule_line",
    "decision",
    "official_channel",
    "policy_network",
    "finding_evidence",
    "config_line",
    "config_how",
)
_OUTCOME = (
    "url",
    "service",
    "function",
    "official",
    "category",
    "network",
    "verdict",
    "technique",
    "vendor",
    "intercepted",
)


Memo = dict[tuple[object, ...], object]


def judge(
    frame: pd.DataFrame,
    policy: PolicyDoc,
    memo: Memo | None = None,
    configs: Sequence[EffectiveConfig] = (),
) -> pd.DataFrame:
    """``frame`` with one finding per record (see the module docstring). ``memo``: answers kept
    from earlier calls with the same policy (a Dask worker judges many shares of one fleet, and
    each share holds nearly every distinct outcome). ``configs``: the agency's real configs, so
    a blocked record names the config line that blocks it (``config_line``, ``config_how``)."""
    memo = {} if memo is None else memo
    out = frame.copy(deep=False)
    if frame.empty:
        for name in FINDING_COLUMNS:
            out[name] = pd.Series([], dtype="object")
        return out
    codes = outcome_codes(frame)
    first = _first_of_each(codes)
    # the few rows the policy engine sees, as dicts: ``frame.iloc[i]`` builds a Series of every
    # column per call, which cost more than all the policy decisions together
    outcomes = _rows(frame, first)
    needs_rtt = np.array([_needs_rtt(row, policy, memo) for row in outcomes], dtype=bool)
    tcp = frame["tcp_ms"].to_numpy(np.float64, na_value=np.nan)
    rtt = np.where(needs_rtt[codes] & ~np.isnan(tcp), np.ceil(np.nan_to_num(tcp)), -1.0)
    combined = codes * 1_000_000 + np.clip(rtt, -1, 999_998).astype(np.int64) + 1
    inverse, _ = pd.factorize(combined)
    first = _first_of_each(inverse)
    found = [
        _finding_row(row, float(rtt[i]), policy, memo, configs)
        for row, i in zip(_rows(frame, first), first, strict=True)
    ]
    table = pd.DataFrame(found, columns=list(FINDING_COLUMNS))
    for name in FINDING_COLUMNS:
        values = table[name]
        if name == "rule_line":
            out[name] = pd.array(values.to_numpy(object), dtype="Int64").take(inverse)
        elif name == "official_channel":
            out[name] = values.to_numpy(bool)[inverse]
        else:
            cats, labels = pd.factorize(values, use_na_sentinel=True)
            out[name] = pd.Categorical.from_codes(cats[inverse], categories=labels)
    return out


def _first_of_each(codes: np.ndarray) -> np.ndarray:
    """The row where each code first appears, in code order: the codes come from ``factorize``,
    which numbers values in order of appearance (a hash pass; ``np.unique`` sorts the rows)."""
    firsts: np.ndarray = pd.Series(codes).drop_duplicates().index.to_numpy()
    return firsts


def outcome_codes(frame: pd.DataFrame) -> np.ndarray:
    """One integer per distinct (target, network, outcome), from the columns' codes."""
    key = np.zeros(len(frame), dtype=np.int64)
    for name in _OUTCOME:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy(np.int64) + 1
            size = len(column.cat.categories) + 1
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            codes, size = codes.astype(np.int64) + 1, len(uniques) + 1
        key, _ = pd.factorize(key * size + codes)
        key = key.astype(np.int64)
    return key


def network_names(policy: PolicyDoc | None) -> dict[str, str]:
    """Policy network id → its human name (the id when it has none)."""
    if policy is None:
        return {}
    return {n.id: n.name or n.id for n in policy.policy.networks}


def display_network(label: str | None, policy: PolicyDoc | None) -> str | None:
    """A probe's network label as people call it: the policy's name for it, else the label."""
    if policy is None or not label:
        return label
    net = resolve_network(policy.policy, label)
    return network_names(policy).get(net or "", label)


_STAND_IN = ("id", "probe_id", "measured_at", "evidence", *_OUTCOME)


def _rows(frame: pd.DataFrame, index: np.ndarray) -> list[dict[str, object]]:
    rows = frame[list(_STAND_IN)].take(index).to_dict("records")
    return [{str(k): v for k, v in row.items()} for row in rows]


def _target(row: dict[str, object]) -> Target:
    return Target(
        url=str(row["url"]),
        service=str(row["service"]),
        function=str(row["function"]),
        official=bool(row["official"]),
        category=_str(row["category"]),
    )


def _needs_rtt(row: dict[str, object], policy: PolicyDoc, memo: Memo) -> bool:
    key = ("needs_rtt", *_outcome_key(row))
    if key not in memo:
        memo[key] = _decide_rtt(row, policy)
    return bool(memo[key])


def _finding_row(
    row: dict[str, object],
    rtt: float,
    policy: PolicyDoc,
    memo: Memo,
    configs: Sequence[EffectiveConfig] = (),
) -> Sequence[object]:
    """The finding's columns; a finding depends only on the outcome columns and the rtt."""
    key = ("finding", rtt, *_outcome_key(row))
    if key not in memo:
        memo[key] = _row(_finding(row, rtt, policy, configs))
    found: Sequence[object] = memo[key]  # type: ignore[assignment]
    return found


def _outcome_key(row: dict[str, object]) -> tuple[object, ...]:
    # missing values as None: NaN is not equal to itself, so it would never find its answer
    return tuple(
        _str(row[name]) if name != "official" and name != "intercepted" else bool(row[name])
        for name in _OUTCOME
    )


def _decide_rtt(row: dict[str, object], policy: PolicyDoc) -> bool:
    target = _target(row)
    network = resolve_network(policy.policy, _str(row["network"]))
    decision = decide(policy, request_for_target(target, network), official=target.official)
    return decision.requirements is not None and decision.requirements.max_rtt_ms is not None


def _finding(
    row: dict[str, object], rtt: float, policy: PolicyDoc, configs: Sequence[EffectiveConfig] = ()
) -> Finding:
    tcp = [TcpStep(ip="0.0.0.0", port=443, runtime_ms=rtt)] if rtt >= 0 else []
    # model_construct: the fields come from a loaded table, not from a person; a technique this
    # version does not know must still be compared, not rejected
    stand_in = Result.model_construct(
        id=str(row["id"]),
        probe=ProbeInfo(
            id=str(row["probe_id"]),
            software_version="",
            started_at="",
            network=_str(row["network"]),
        ),
        target=_target(row),
        measured_at=str(row["measured_at"]),
        verdict=str(row["verdict"]),  # type: ignore[arg-type]
        technique=_str(row["technique"]),  # type: ignore[arg-type]
        vendor=_str(row["vendor"]),
        intercepted=bool(row["intercepted"]),
        evidence=str(row["evidence"]),
        steps=Steps(tcp=tcp),
    )
    return compare_one(stand_in, policy, configs=configs)


def _row(f: Finding) -> Sequence[object]:
    return (
        f.kind,
        f.rule,
        f.rule_file,
        f.rule_line,
        f.decision,
        f.official_channel,
        f.network,
        f.evidence,
        f.config_line,
        f.config_how,
    )


def _str(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)
