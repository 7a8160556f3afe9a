"""What each dashboard page shows, read from the collector's database. No HTML here.

In: the ``Store`` (tables ``latest``, ``records``, ``batches``, ``probes``), the policy the
collector was started with (or None), and the reader's language. Out: plain dataclasses the
templates lay out:

- ``board``: official channels, and service functions, × networks; each cell a state in
  words (the comms report's catalogue), the technique that blocks it and since when, linked to
  the record that says so;
- ``history``: one URL's measurements as periods of the same answer, per network;
- ``record``: one record down to its evidence and signature: probe, batch sequence, batch
  SHA-256, the record's SHA-256, and whether the batch signature and the record's place in the
  signed header check out now;
- ``probes``: enrolled probes, last upload, stale ones flagged (``metrics.STALE_SECONDS``);
- ``comparison``: the latest record of each (URL, network) compared with the policy by
  ``netcheck.policy.compare.compare_one``, what needs attention first.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from netcheck.fleet.evidence import check_signature, parse_header, sha256_hex
from netcheck.models import Result
from netcheck.policy.compare import compare_one
from netcheck.policy.findings import FAILING_KINDS, Finding
from netcheck.policy.loader import PolicyDoc
from netcheck.report.i18n import Messages
from netcheck.report.judge import display_network
from netcheck.server.dashboard.words import Words
from netcheck.server.metrics import STALE_SECONDS
from netcheck.server.store import Store

HISTORY_LIMIT = 5_000
STATE_OF = {"accessible": "ok", "blocked": "blocked", "degraded": "degraded"}


@dataclass(frozen=True)
class Cell:
    state: str  # ok | blocked | degraded | partial | unknown | none
    label: str
    how: str | None = None
    since: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class Row:
    name: str
    link: str | None
    cells: list[Cell]


@dataclass(frozen=True)
class Board:
    networks: list[str]
    channels: list[Row]
    services: list[Row]
    probes: int
    last: str | None


@dataclass(frozen=True)
class Period:
    network: str
    state: str
    label: str
    how: str | None
    first: str
    last: str
    count: int
    link: str


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    mono: bool = False


@dataclass(frozen=True)
class RecordPage:
    url: str
    state: str
    facts: list[Field]
    signature: list[Field]
    verified: bool
    steps: str


@dataclass(frozen=True)
class ProbeRow:
    id: str
    network: str
    platform: str
    enrolled: str
    last_seen: str
    records: int
    dropped: int
    status: str
    flagged: bool


@dataclass(frozen=True)
class FindingRow:
    kind: str
    kind_label: str
    attention: bool
    rule: str
    network: str
    url: str
    state: str
    label: str
    how: str | None
    evidence: str
    link: str


def record_link(probe: str, seq: int, idx: int) -> str:
    return f"/dashboard/record/{quote(probe)}/{seq}/{idx}"


def history_link(url: str) -> str:
    return "/dashboard/channel?url=" + quote(url, safe="")


def when(text: str | None, msgs: Messages) -> str | None:
    if not text:
        return None
    try:
        return msgs.date(datetime.fromisoformat(text).astimezone(UTC))
    except ValueError:
        return text


def _cell_label(state: str, words: Words) -> str:
    return words(f"state_{state}")


def _how(msgs: Messages, technique: Any, vendor: Any) -> str:
    return msgs.technique(technique or None, vendor or None)


# --- the board ----------------------------------------------------------------------------------


def _one_cell(row: dict[str, Any], msgs: Messages, words: Words) -> Cell:
    state = STATE_OF.get(row["verdict"], "unknown")
    bad = state in ("blocked", "degraded")
    return Cell(
        state=state,
        label=_cell_label(state, words),
        how=_how(msgs, row["technique"], row["vendor"]) if bad else None,
        since=words("since", when=when(row["since"], msgs)),
        link=record_link(row["probe"], row["seq"], row["idx"]),
    )


def _group_cell(rows: list[dict[str, Any]], msgs: Messages, words: Words) -> Cell:
    states = [STATE_OF.get(r["verdict"], "unknown") for r in rows]
    bad = [r for r, s in zip(rows, states, strict=True) if s in ("blocked", "degraded")]
    if all(s == "ok" for s in states):
        state = "ok"
    elif bad and len(bad) == len(rows):
        state = "blocked" if any(s == "blocked" for s in states) else "degraded"
    elif bad:
        state = "partial"
    else:
        state = "unknown"
    hows = sorted({_how(msgs, r["technique"], r["vendor"]) for r in bad})
    pick = bad[0] if bad else rows[0]
    since = min(r["since"] for r in bad) if bad else max(r["since"] for r in rows)
    return Cell(
        state=state,
        label=_cell_label(state, words),
        how="; ".join(hows) or None,
        since=words("since", when=when(since, msgs)),
        link=record_link(pick["probe"], pick["seq"], pick["idx"]),
    )


def board(store: Store, policy: PolicyDoc | None, msgs: Messages, words: Words) -> Board:
    rows = store.latest(facts=True)
    labels = sorted({r["network"] for r in rows})
    names = [display_network(n, policy) or n for n in labels]
    empty = Cell("none", words("state_none"))
    channels: list[Row] = []
    for url in sorted({r["url"] for r in rows if r["official"]}):
        by_net = {r["network"]: r for r in rows if r["url"] == url}
        cells = [_one_cell(by_net[n], msgs, words) if n in by_net else empty for n in labels]
        channels.append(Row(url, history_link(url), cells))
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        key = (str(r["service"]), str(r["function"]))
        groups.setdefault(key, {}).setdefault(r["network"], []).append(r)
    services = [
        Row(
            f"{service} · {msgs.function(function)}",
            None,
            [_group_cell(nets[n], msgs, words) if n in nets else empty for n in labels],
        )
        for (service, function), nets in sorted(groups.items())
    ]
    probes = store.query("SELECT count(*) FROM probes WHERE revoked_at IS NULL")[0][0]
    last = max((r["measured_at"] for r in rows), default=None)
    return Board(names, channels, services, int(probes), when(last, msgs))


# --- one URL's history ----------------------------------------------------------------------------


def history(
    store: Store, url: str, policy: PolicyDoc | None, msgs: Messages, words: Words
) -> list[Period]:
    """Periods of the same answer per network, each network's newest first."""
    found = store.query(
        "SELECT network, measured_at, verdict, technique, probe, seq, idx FROM records "
        "WHERE url = ? AND body IS NOT NULL ORDER BY measured_at DESC LIMIT ?",
        (url, HISTORY_LIMIT),
    )
    runs: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    for network, measured_at, verdict, technique, probe, seq, idx in found:
        state = STATE_OF.get(verdict, "unknown")
        how = _period_how(state, technique, msgs)
        run = current.get(network)
        if run is not None and (run["state"], run["how"]) == (state, how):
            run["first"] = measured_at  # rows come newest first: the period reaches back
            run["count"] += 1
            continue
        run = {
            "network": network,
            "state": state,
            "how": how,
            "first": measured_at,
            "last": measured_at,
            "count": 1,
            "link": record_link(probe, seq, idx),
        }
        current[network] = run
        runs.append(run)
    runs.sort(key=lambda r: str(r["network"]))  # stable: each network's newest stays first
    return [
        Period(
            network=display_network(r["network"], policy) or r["network"],
            state=r["state"],
            label=_cell_label(r["state"], words),
            how=r["how"],
            first=when(r["first"], msgs) or "",
            last=when(r["last"], msgs) or "",
            count=r["count"],
            link=r["link"],
        )
        for r in runs
    ]


def _period_how(state: str, technique: Any, msgs: Messages) -> str | None:
    return msgs.technique(technique or None) if state in ("blocked", "degraded") else None


# --- one record -----------------------------------------------------------------------------------


def record(
    store: Store,
    probe: str,
    seq: int,
    idx: int,
    policy: PolicyDoc | None,
    msgs: Messages,
    words: Words,
) -> RecordPage | None:
    rows = store.query(
        "SELECT sha256, same_as_seq, same_as_idx, body, network FROM records "
        "WHERE probe = ? AND seq = ? AND idx = ?",
        (probe, seq, idx),
    )
    if not rows:
        return None
    sha, same_seq, same_idx, body, network = rows[0]
    if body is None and same_seq is not None:  # a copy sent again: the first copy holds the text
        first = store.query(
            "SELECT body FROM records WHERE probe = ? AND seq = ? AND idx = ?",
            (probe, same_seq, same_idx),
        )
        body = first[0][0] if first else None
    batch = store.query(
        "SELECT b.sha256, b.header, b.signature, b.received_at, p.public_key FROM batches b "
        "JOIN probes p ON p.id = b.probe WHERE b.probe = ? AND b.seq = ?",
        (probe, seq),
    )
    if body is None or not batch:
        return None
    batch_sha, header, signature, received, public_key = batch[0]
    data = json.loads(body)
    listed = parse_header(header).records
    verified = (
        check_signature(public_key, header, signature)
        and idx < len(listed)
        and listed[idx] == sha == sha256_hex(body)
    )
    state = STATE_OF.get(data.get("verdict"), "unknown")
    target = data.get("target", {})
    facts = [
        Field(words("field_url"), str(target.get("url", ""))),
        Field(words("field_service"), str(target.get("service", ""))),
        Field(words("field_function"), msgs.function(str(target.get("function", "")))),
        Field(words("field_network"), display_network(network, policy) or network),
        Field(words("field_measured"), when(data.get("measured_at"), msgs) or ""),
        Field(words("field_verdict"), msgs.verdict(str(data.get("verdict", "")))),
        Field(words("field_how"), _how(msgs, data.get("technique"), data.get("vendor"))),
        Field(words("field_evidence"), str(data.get("evidence", ""))),
    ]
    signature_fields = [
        Field(words("field_probe"), probe, mono=True),
        Field(words("field_batch"), str(seq), mono=True),
        Field(words("field_batch_sha"), batch_sha, mono=True),
        Field(words("field_record_sha"), sha, mono=True),
        Field(words("field_signature"), signature, mono=True),
        Field(words("field_received"), when(received, msgs) or ""),
        Field(words("field_checked"), words("checked_ok" if verified else "checked_bad")),
    ]
    steps = json.dumps(data.get("steps", {}), indent=2, ensure_ascii=False)
    return RecordPage(str(target.get("url", "")), state, facts, signature_fields, verified, steps)


# --- probes ---------------------------------------------------------------------------------------


def probes(store: Store, policy: PolicyDoc | None, msgs: Messages, words: Words) -> list[ProbeRow]:
    now = time.time()
    out = []
    for p in store.probes():
        seen = p["last_seen"]
        if p["revoked_at"] is not None:
            status, flagged = words("probe_revoked"), False
        elif seen is None:
            status, flagged = words("probe_never"), True
        elif now - seen > STALE_SECONDS:
            status, flagged = words("probe_stale", hours=STALE_SECONDS // 3600), True
        else:
            status, flagged = words("probe_ok"), False
        last = datetime.fromtimestamp(seen, UTC).isoformat() if seen is not None else None
        out.append(
            ProbeRow(
                id=p["id"],
                network=display_network(p["network"], policy) or p["network"],
                platform=str(p["platform"] or ""),
                enrolled=when(p["enrolled_at"], msgs) or "",
                last_seen=when(last, msgs) or "—",
                records=int(p["records"]),
                dropped=int(p["dropped"]),
                status=status,
                flagged=flagged,
            )
        )
    return out


# --- the policy comparison ------------------------------------------------------------------------


class FindingCache:
    """Findings keyed by record (probe, seq, idx): a stored record never changes, so each is
    parsed and compared once, not on every page view."""

    MAX = 20_000

    def __init__(self) -> None:
        self._found: dict[tuple[str, int, int], Finding] = {}
        self._lock = threading.Lock()

    def finding(self, key: tuple[str, int, int], body: str, policy: PolicyDoc) -> Finding:
        with self._lock:
            hit = self._found.get(key)
        if hit is not None:
            return hit
        found = compare_one(Result.model_validate_json(body), policy)
        with self._lock:
            if len(self._found) >= self.MAX:
                self._found.clear()
            self._found[key] = found
        return found


def comparison(
    store: Store, policy: PolicyDoc, cache: FindingCache, msgs: Messages, words: Words
) -> list[FindingRow]:
    rows = store.query(
        "SELECT l.probe, l.seq, l.idx, l.network, r.body FROM latest l JOIN records r "
        "ON r.probe = l.probe AND r.seq = l.seq AND r.idx = l.idx ORDER BY l.url, l.network"
    )
    out = []
    for probe, seq, idx, network, body in rows:
        f = cache.finding((probe, seq, idx), body, policy)
        state = STATE_OF.get(f.verdict, "unknown")
        # the policy file's name, not the collector's path to it (a reader has no use for it)
        name = PurePath(f.rule_file).name if f.rule_file else ""
        where = f"{name}:{f.rule_line}" if name and f.rule_line else name
        out.append(
            FindingRow(
                kind=f.kind,
                kind_label=msgs.kind(f.kind),
                attention=f.kind in FAILING_KINDS,
                rule=f"{f.rule} ({where})" if where else f.rule,
                network=display_network(network, policy) or network,
                url=f.target.url,
                state=state,
                label=_cell_label(state, words),
                how=_how(msgs, f.technique, f.vendor) if state != "ok" else None,
                evidence=f.evidence,
                link=record_link(probe, seq, idx),
            )
        )
    out.sort(key=lambda r: (not r.attention, r.kind, r.url, r.network))
    return out
