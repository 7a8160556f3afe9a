"""``netcheck notify``: one notification cycle over a collector's data folder.

In: the collector's data folder, a notify config (YAML), optionally the policy. Out: change
alerts queued and sent, the comms report sent with ``--report``, and a one-line summary on
stderr. Failed deliveries stay in the collector's outbox with their next attempt time; the
collector's own schedule (``server serve --notify``) or the next ``netcheck notify`` retries
them. Exit 0 (a delivery failure is not an input error, and 1 means "something is blocked").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netcheck.cli import stderr


def notify(
    data: Annotated[
        Path, typer.Option("--data", metavar="DIR", help="The collector's data folder.")
    ],
    config: Annotated[
        str, typer.Option("--config", metavar="FILE", help="The notify config (YAML).")
    ],
    policy: Annotated[
        str | None,
        typer.Option("--policy", metavar="FILE", help="Policy: network names and findings."),
    ] = None,
    report: Annotated[
        bool | None,
        typer.Option(
            "--report/--no-report",
            help="Send the comms report now, or not at all (default: when it is due).",
        ),
    ] = None,
) -> None:
    """Send change alerts and the comms report by e-mail and webhooks, from the collector."""
    from netcheck.notify.config import load_config
    from netcheck.notify.notifier import Notifier
    from netcheck.policy.loader import load_policy
    from netcheck.server.store import Store

    settings = load_config(config)
    doc = load_policy(policy) if policy else None
    store = Store(data, create=False)
    try:
        summary = Notifier(store, settings, doc).cycle(report=report)
    finally:
        store.close()
    d = summary.delivered
    stderr.print(
        f"{summary.changes} change(s) announced, {summary.reports} report message(s) queued; "
        f"sent {d.sent}, failed {d.failed} (retried later), gave up {d.gave_up}, "
        f"waiting {d.waiting}",
        highlight=False,
    )
