"""One notification cycle, and the schedule the collector runs it on.

In: the collector's database (``latest``, ``records``, ``announced``, ``outbox``, ``counters``),
the notify config and, optionally, the policy (its network names, and findings in the report).
Out: ``Notifier.cycle`` → change alerts queued (state announced in the same transaction, so
each change is queued exactly once), the comms report queued when it is due, and the outbox
delivered; ``Schedule`` → a thread that runs a cycle every ``check_every`` and at once when
the collector stores a batch (``poke``), so a change is announced within one collection cycle.
A cycle that fails is logged and the next one runs: the collector never stops for it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from netcheck.notify import alerts, mail, webhooks
from netcheck.notify.config import NotifyConfig, seconds
from netcheck.notify.outbox import Database, Delivered, Outbox, queue
from netcheck.notify.words import Words
from netcheck.policy.loader import PolicyDoc
from netcheck.report.fastjson import table_from_lines
from netcheck.report.judge import display_network, judge
from netcheck.report.load import to_frame

log = logging.getLogger("netcheck.notify")

MAX_LISTED = 50  # changes listed in one message; the rest are counted
LAST_REPORT = "notify_last_report"


@dataclass(frozen=True)
class Summary:
    changes: int
    reports: int
    delivered: Delivered


class Notifier:
    def __init__(self, db: Database, config: NotifyConfig, policy: PolicyDoc | None = None):
        self.db = db
        self.config = config
        self.policy = policy
        self.outbox = Outbox(db, config)
        self._lock = threading.Lock()  # one cycle at a time (schedule and a poke)

    # --- alerts -----------------------------------------------------------------------------

    def watched(self) -> list[dict[str, Any]]:
        return [r for r in self.db.latest(facts=True) if alerts.watched(r)]

    def check_alerts(self) -> int:
        rows = self.watched()
        announced = {
            (u, n): s for u, n, s in self.db.query("SELECT url, network, state FROM announced")
        }
        found, quiet = alerts.changes(rows, announced)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (
                "INSERT INTO announced VALUES (?, ?, ?, ?, ?) ON CONFLICT(url, network) DO "
                "UPDATE SET state = excluded.state, measured_at = excluded.measured_at, "
                "announced_at = excluded.announced_at",
                (*item, stamp),
            )
            for item in [
                *[(c.url, c.network, c.state, c.measured_at) for c in found],
                *[(b.url, b.network, b.state, b.measured_at) for b in quiet],
            ]
        ]
        if found:
            statements += self._alert_messages(found)
        if statements:
            self.db.execute(statements)
        for change in found:
            log.info("change: %s on %s is now %s", change.url, change.network, change.state)
        return len(found)

    def _named(self, change: alerts.Change) -> alerts.Change:
        return replace(change, network=display_network(change.network, self.policy) or "")

    def _alert_messages(self, found: list[alerts.Change]) -> list[tuple[str, tuple[Any, ...]]]:
        out = []
        for lang in ("es", "en"):
            w = Words(lang)
            groups = [alerts.sentences(self._named(c), lang) for c in found[:MAX_LISTED]]
            if len(found) > MAX_LISTED:
                groups.append([w("alerts_more", n=len(found) - MAX_LISTED)])
            count = len(found)
            subject = w("alerts_subject_one") if count == 1 else w("alerts_subject_many", n=count)
            title, intro = w("alerts_title"), w("alerts_intro")
            as_json = [c.as_json(alerts.how(c, lang)) for c in found]
            for r in self.config.recipients:
                if r.alerts and r.lang == lang:
                    payload = {
                        "subject": subject,
                        "lang": lang,
                        "text": mail.lines_text(title, intro, groups),
                        "html": mail.lines_html(lang, title, intro, groups),
                    }
                    out.append(queue(f"email:{r.email}", subject, payload))
            for h in self.config.webhooks:
                if h.alerts and h.lang == lang:
                    body = webhooks.payload(h.kind, "alerts", title, lang, groups, as_json)
                    out.append(queue(f"webhook:{h.url}", subject, body))
        return out

    # --- the report -------------------------------------------------------------------------

    def report_due(self, now: float) -> bool:
        every = self.config.schedule.report_every
        if every is None or not self._report_readers():
            return False
        last = dict(
            self.db.query("SELECT name, value FROM counters WHERE name = ?", (LAST_REPORT,))
        ).get(LAST_REPORT)
        return last is None or now - float(last) >= seconds(every)

    def _report_readers(self) -> bool:
        return any(r.report for r in self.config.recipients) or any(
            h.report for h in self.config.webhooks
        )

    def queue_report(self, now: float | None = None) -> int:
        """The comms report over the last ``report_days`` days, queued for every reader of it."""
        now = time.time() if now is None else now
        days = self.config.schedule.report_days
        cutoff = (datetime.fromtimestamp(now, UTC) - timedelta(days=days)).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        bodies = self.db.query(
            "SELECT body FROM records WHERE body IS NOT NULL AND measured_at >= ?", (cutoff,)
        )
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = "
                "excluded.value",
                (LAST_REPORT, int(now)),
            )
        ]
        if bodies:
            frame = to_frame(table_from_lines([str(b[0]).encode("utf-8") for b in bodies]))
            if self.policy is not None:
                frame = judge(frame, self.policy)
            statements += self._report_messages(frame, days)
        self.db.execute(statements)
        return len(statements) - 1

    def _report_messages(self, frame: Any, days: int) -> list[tuple[str, tuple[Any, ...]]]:
        out = []
        blocked_now = [r for r in self.watched() if r["official"] and r["verdict"] == "blocked"]
        channels = len({r["url"] for r in self.watched() if r["official"]})
        for lang in ("es", "en"):
            w = Words(lang)
            readers = [r for r in self.config.recipients if r.report and r.lang == lang]
            hooks = [h for h in self.config.webhooks if h.report and h.lang == lang]
            if not readers and not hooks:
                continue
            subject = w("report_subject")
            if readers:
                # the report's renderer loads only when a report is due (pandas, templates)
                from netcheck.report import comms

                built = comms.build(frame, self.policy, lang)
                payload = {
                    "subject": subject,
                    "lang": lang,
                    "text": comms.render_markdown(built),
                    "html": comms.render_html(built),
                }
                out += [queue(f"email:{r.email}", subject, payload) for r in readers]
            if hooks:
                found, _ = alerts.changes(blocked_now, {})
                groups = [
                    [
                        w(
                            "report_webhook",
                            days=days,
                            blocked=len({c.url for c in found}),
                            channels=channels,
                        )
                    ]
                ]
                groups += [alerts.sentences(self._named(c), lang) for c in found[:MAX_LISTED]]
                as_json = [c.as_json(alerts.how(c, lang)) for c in found]
                for h in hooks:
                    body = webhooks.payload(
                        h.kind, "report", w("report_title"), lang, groups, as_json
                    )
                    out.append(queue(f"webhook:{h.url}", subject, body))
        return out

    # --- a whole cycle ----------------------------------------------------------------------

    def cycle(self, *, report: bool | None = None, now: float | None = None) -> Summary:
        """Alerts, the report when due (or when ``report`` says so), then delivery."""
        now = time.time() if now is None else now
        with self._lock:
            changes = self.check_alerts()
            reports = 0
            if report or (report is None and self.report_due(now)):
                try:
                    reports = self.queue_report(now)
                except Exception:  # noqa: BLE001 - alerts already queued must still go out
                    log.exception("the comms report could not be built; alerts go out anyway")
            delivered = self.outbox.deliver()
        return Summary(changes, reports, delivered)


class Schedule:
    """The collector's notifier thread: a cycle every ``check_every`` seconds, at once after a
    stored batch (``poke``), and when a retry falls due."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.every = seconds(notifier.config.schedule.check_every)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notifier", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.notifier.cycle()
            except Exception:  # noqa: BLE001 - a failed cycle is logged; the next one runs
                log.exception("notification cycle failed")
            wait = self.every
            try:
                due = self.notifier.outbox.next_due()
            except Exception:  # noqa: BLE001 - the database may be busy; try at the usual time
                due = None
            if due is not None:
                wait = max(0.2, min(wait, due - time.time()))
            self._wake.wait(wait)
            self._wake.clear()
