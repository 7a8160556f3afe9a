"""Change alerts: which official channels and admin consoles became blocked or unblocked.

In: the collector's latest state of each (URL, network) and the state last announced for it
(table ``announced``). Out: ``changes`` → the ``Change`` list to announce and the rows to
write back; ``sentences`` → each change in words, in the reader's language (the technique in
the comms report's words, plus the probe's own evidence and the record that says so).

Rules, so that an alert is an accusation worth reading and never a repeated one:
- only official channels and admin consoles (function ``admin``) are watched;
- ``blocked`` is announced when first seen and whenever it follows an announced ``ok``;
  ``ok`` is announced only after an announced ``blocked`` (the first ``ok`` is a silent
  baseline);
- an ``inconclusive``, ``unreachable`` or ``degraded`` measurement changes nothing: the probe
  could not say, so the last announced state stands;
- a state already announced is not announced again, however many batches repeat it.
Pure: no I/O; ``notifier`` reads and writes the tables around it in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from netcheck.notify.words import Words
from netcheck.report.i18n import messages

WATCHED_FUNCTIONS = ("admin",)
STATE_OF = {"blocked": "blocked", "accessible": "ok"}


@dataclass(frozen=True)
class Change:
    url: str
    network: str
    service: str
    function: str
    official: bool
    state: str  # blocked | ok
    technique: str | None
    vendor: str | None
    evidence: str
    measured_at: str
    since: str
    probe: str
    seq: int
    idx: int

    def as_json(self, how: str) -> dict[str, Any]:
        return {
            "url": self.url,
            "network": self.network,
            "service": self.service,
            "function": self.function,
            "official": self.official,
            "state": self.state,
            "technique": self.technique,
            "vendor": self.vendor,
            "how": how,
            "evidence": self.evidence,
            "since": self.since,
            "measured_at": self.measured_at,
            "record": {"probe": self.probe, "seq": self.seq, "idx": self.idx},
        }


@dataclass(frozen=True)
class Baseline:
    """A state to remember without announcing it (the first ``ok`` of a channel)."""

    url: str
    network: str
    state: str
    measured_at: str


def watched(row: Mapping[str, Any]) -> bool:
    return bool(row["official"]) or row["function"] in WATCHED_FUNCTIONS


def changes(
    latest: Iterable[Mapping[str, Any]], announced: Mapping[tuple[str, str], str]
) -> tuple[list[Change], list[Baseline]]:
    """What to announce, and what to remember silently (see the module docstring).
    ``latest`` rows carry the ``latest`` table's columns plus ``evidence`` and ``vendor``."""
    out: list[Change] = []
    quiet: list[Baseline] = []
    for row in latest:
        state = STATE_OF.get(str(row["verdict"]))
        if state is None or not watched(row):
            continue
        key = (str(row["url"]), str(row["network"]))
        before = announced.get(key)
        if before == state:
            continue
        if before is None and state == "ok":
            quiet.append(Baseline(key[0], key[1], state, str(row["measured_at"])))
            continue
        out.append(
            Change(
                url=key[0],
                network=key[1],
                service=str(row["service"] or ""),
                function=str(row["function"] or ""),
                official=bool(row["official"]),
                state=state,
                technique=row.get("technique"),
                vendor=row.get("vendor"),
                evidence=str(row.get("evidence") or ""),
                measured_at=str(row["measured_at"]),
                since=str(row["since"]),
                probe=str(row["probe"]),
                seq=int(row["seq"]),
                idx=int(row["idx"]),
            )
        )
    out.sort(key=lambda c: (c.state != "blocked", c.url, c.network))
    return out, quiet


def _date(text: str, lang: str) -> str:
    try:
        return messages(lang).date(datetime.fromisoformat(text).astimezone(UTC))
    except ValueError:
        return text


def how(change: Change, lang: str) -> str:
    return messages(lang).technique(change.technique, change.vendor)


def sentences(change: Change, lang: str) -> list[str]:
    """The change in words: what happened, then the evidence and the record that says so."""
    w = Words(lang)
    what = w("what_channel" if change.official else "what_admin", service=change.service)
    key = "alert_blocked" if change.state == "blocked" else "alert_unblocked"
    head = w(
        key,
        what=what,
        url=change.url,
        network=change.network,
        since=_date(change.since, lang),
        how=how(change, lang),
    )
    lines = [head]
    if change.evidence:
        lines.append(w("alert_evidence", evidence=change.evidence))
    lines.append(
        w(
            "alert_record",
            probe=change.probe,
            seq=change.seq,
            idx=change.idx,
            when=_date(change.measured_at, lang),
        )
    )
    return lines
