"""The outbox: every notification is queued in the collector's database, then delivered with
retries, so a mail server or webhook that is down delays a message but never loses it, and
never stops the collector.

In: the collector's database (table ``outbox``) and the notify config (how to reach each
destination). Out: ``queue`` → the SQL that adds one message (the caller runs it in the same
transaction as the state it announces); ``Outbox.deliver`` → sends what is due and reschedules
what failed: attempt *n* waits ``first × 2^(n-1)`` (±20 % jitter, at most ``longest``); after
``attempts`` failures the message is marked given up. Each failure and each give-up is logged
with the destination and the error; nothing here raises to the caller.

Destinations are ``email:ADDRESS`` and ``webhook:URL``; one no longer in the config is given up
at once (its credentials and kind are gone with it).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from netcheck.notify import mail, webhooks
from netcheck.notify.config import NotifyConfig, seconds

log = logging.getLogger("netcheck.notify")


class Database(Protocol):
    """What the notifier needs of the collector's ``Store``."""

    def query(self, sql: str, args: tuple[Any, ...] = ...) -> list[Any]: ...

    def execute(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None: ...

    def latest(self, *, facts: bool = ...) -> list[dict[str, Any]]: ...


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def queue(destination: str, subject: str, payload: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    return (
        "INSERT INTO outbox (destination, subject, payload, created_at, next_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (destination, subject, json.dumps(payload, ensure_ascii=False), now_text(), time.time()),
    )


@dataclass(frozen=True)
class Delivered:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    waiting: int = 0


class Outbox:
    def __init__(self, db: Database, config: NotifyConfig) -> None:
        self.db = db
        self.config = config
        self.first = seconds(config.retry.first)
        self.longest = seconds(config.retry.longest)

    def backoff(self, attempts: int) -> float:
        wait = min(self.longest, self.first * 2.0 ** max(0, attempts - 1))
        return float(wait * random.uniform(0.8, 1.2))

    def send(self, destination: str, payload: dict[str, Any]) -> None:
        kind, _, where = destination.partition(":")
        if kind == "email":
            if self.config.smtp is None or not any(
                r.email == where for r in self.config.recipients
            ):
                raise LookupError("no longer a recipient in the notify config")
            mail.send(self.config.smtp, self.config.smtp_password, where, payload)
            return
        hook = next((h for h in self.config.webhooks if h.url == where), None)
        if kind != "webhook" or hook is None:
            raise LookupError("no longer a destination in the notify config")
        webhooks.post(hook.url, payload, hook.ca_bundle)

    def deliver(self, now: float | None = None) -> Delivered:
        """Send every message that is due; never raises."""
        now = time.time() if now is None else now
        due = self.db.query(
            "SELECT id, destination, subject, payload, attempts FROM outbox "
            "WHERE sent_at IS NULL AND gave_up = 0 AND next_at <= ? ORDER BY id",
            (now,),
        )
        sent = failed = gave_up = 0
        for row_id, destination, subject, payload, attempts in due:
            shown = _shown(destination)
            try:
                self.send(destination, json.loads(payload))
            except LookupError as exc:
                gave_up += 1
                log.error("gave up on %r to %s: %s", subject, shown, exc)
                self._update(row_id, attempts + 1, str(exc), gave_up=True)
            except Exception as exc:  # noqa: BLE001 - any failure of a peer is retried, never fatal
                attempts += 1
                error = f"{type(exc).__name__}: {exc}"[:500]
                if attempts >= self.config.retry.attempts:
                    gave_up += 1
                    log.error(
                        "gave up on %r to %s after %d attempts: %s", subject, shown, attempts, error
                    )
                    self._update(row_id, attempts, error, gave_up=True)
                else:
                    failed += 1
                    wait = self.backoff(attempts)
                    log.warning(
                        "delivery of %r to %s failed (attempt %d, next in %.0f s): %s",
                        subject,
                        shown,
                        attempts,
                        wait,
                        error,
                    )
                    self._update(row_id, attempts, error, next_at=time.time() + wait)
            else:
                sent += 1
                log.info("sent %r to %s", subject, shown)
                self.db.execute(
                    [
                        (
                            "UPDATE outbox SET sent_at = ?, attempts = ? WHERE id = ?",
                            (now_text(), attempts + 1, row_id),
                        )
                    ]
                )
        waiting = self.db.query(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND gave_up = 0"
        )[0][0]
        return Delivered(sent, failed, gave_up, int(waiting))

    def _update(
        self,
        row_id: int,
        attempts: int,
        error: str,
        *,
        gave_up: bool = False,
        next_at: float | None = None,
    ) -> None:
        self.db.execute(
            [
                (
                    "UPDATE outbox SET attempts = ?, last_error = ?, gave_up = ?, "
                    "next_at = coalesce(?, next_at) WHERE id = ?",
                    (attempts, error, int(gave_up), next_at, row_id),
                )
            ]
        )

    def next_due(self) -> float | None:
        row = self.db.query("SELECT min(next_at) FROM outbox WHERE sent_at IS NULL AND gave_up = 0")
        return float(row[0][0]) if row and row[0][0] is not None else None


def _shown(destination: str) -> str:
    """A destination for the log: a webhook URL's path holds its secret, so only the host."""
    kind, _, where = destination.partition(":")
    if kind == "webhook":
        host = where.split("://", 1)[-1].split("/", 1)[0]
        return f"webhook {host}"
    return destination
