"""``netcheck server serve``: the collector on uvicorn, with its limits, over HTTPS or plain HTTP.

In: a data folder, a bind address, optionally a TLS certificate and key. Out: a running server
until SIGINT/SIGTERM. Limits are uvicorn's settings (connections, keep-alive, incomplete-event
size) plus one it lacks, a deadline on every request head (``netcheck.asgi``), so slow-loris
clients cannot hold every slot. Without
``--tls-cert`` the collector speaks plain HTTP and says so loudly at start: that is only right
behind a reverse proxy that terminates TLS.

The admin token (for ``/metrics`` and the read API) is created on first start in
``DATA/admin.token`` (mode 0600) and never logged. ``--policy`` gives the dashboard its
comparison; ``--notify`` starts the notifier (``netcheck.notify``): change alerts checked after
every stored batch and every ``check_every``, the comms report every ``report_every``.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import uvicorn

from netcheck import asgi
from netcheck.errors import InputError
from netcheck.notify.config import load_config
from netcheck.notify.notifier import Notifier, Schedule
from netcheck.policy.loader import load_policy
from netcheck.server.app import Collector, RateLimit, build_app
from netcheck.server.archive import Archiver, archive_pending
from netcheck.server.store import Store

log = logging.getLogger("netcheck.server")

MAX_CONNECTIONS = 1024
KEEP_ALIVE = 15


def admin_token(data: Path) -> str:
    path = data / "admin.token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"not HOST:PORT: {bind!r}", field="--bind")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve(
    data: Path,
    bind: str,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    rate: float = 5.0,
    burst: float = 20.0,
    policy_file: str | None = None,
    notify_file: str | None = None,
) -> None:
    host, port = parse_bind(bind)
    if (tls_cert is None) != (tls_key is None):
        raise InputError("--tls-cert and --tls-key go together", field="--tls-cert")
    for path in (tls_cert, tls_key):
        if path is not None and not Path(path).is_file():
            raise InputError("no such file", file=path)
    # bad policy or notify files stop here, exit 2, before anything is created
    policy = load_policy(policy_file) if policy_file else None
    notify = load_config(notify_file) if notify_file else None
    store = Store(data)
    archived = archive_pending(store)
    token = admin_token(data)
    collector = Collector(store, token, RateLimit(rate=rate, burst=burst), policy=policy)
    schedule = Schedule(Notifier(store, notify, policy)) if notify is not None else None
    if schedule is not None:
        collector.on_stored = schedule.poke
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if archived:
        log.info("archived %d batch(es) stored before the last stop", archived)
    if tls_cert is None:
        log.warning(
            "PLAIN HTTP on %s:%d: batches, enrollment codes and the admin token travel in clear; "
            "only run this behind a reverse proxy that terminates TLS",
            host,
            port,
        )
    settings = asgi.config(
        build_app(collector),
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_connections=MAX_CONNECTIONS,
        keep_alive=KEEP_ALIVE,
    )
    archiver = Archiver(store).start()
    if schedule is not None:
        schedule.start()
    try:
        uvicorn.Server(settings).run()
    finally:
        assert collector.writer is not None
        collector.writer.stop()
        archiver.stop()
        if schedule is not None:
            schedule.stop()
        store.close()
