"""Delivery: the comms report by e-mail and webhooks, and change alerts, from the collector.

In: the collector's database and a notify config (``config.load_config``). Out: messages
queued in the database's outbox and delivered with retries. ``alerts`` decides what changed
(pure), ``words`` says it in Spanish or English, ``mail`` and ``webhooks`` format and send,
``outbox`` queues and retries, ``notifier`` runs a cycle and the collector's schedule.
"""

from __future__ import annotations
