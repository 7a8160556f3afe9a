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
import math
import os
import secrets
import socket
import ssl
from pathlib import Path

import uvicorn

from netcheck import asgi
from netcheck.errors import InputError
from netcheck.notify.config import load_config
from netcheck.notify.notifier import Notifier, Schedule
from netcheck.policy.loader import load_policy
from netcheck.server.app import Collector, RateLimit, build_app
from netcheck.server.archive import Archiver, archive_pending
from netcheck.server.dashboard.auth import secret_key
from netcheck.server.store import Store, read_secret

log = logging.getLogger("netcheck.server")

MAX_CONNECTIONS = 1024
KEEP_ALIVE = 15


def admin_token(data: Path) -> str:
    """``DATA/admin.token``: made on first start (written whole, then renamed into place, so a
    crash never leaves an empty one), checked on every start."""
    path = data / "admin.token"
    if not path.exists() and not path.is_symlink():
        tmp = data / ".admin.token.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return read_secret(path, "the admin token")


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"not HOST:PORT: {bind!r}", field="--bind")
    return host.strip("[]") or "127.0.0.1", int(port)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, made before anything is written to the data folder: a name that
    does not resolve, an address not on this machine or a port in use is an ``InputError``
    (exit 2), not uvicorn's start-up failure after the folder was made."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot resolve {host!r}: {exc}", field="--bind") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise InputError(f"cannot listen on {host}:{port}: {why}", field="--bind") from None
    return sock


def check_tls(cert: str, key: str) -> None:
    """The certificate chain and key load together (uvicorn would fail only after start-up)."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise InputError(
            f"not a PEM certificate chain and its private key: {exc}", file=cert, field="--tls-cert"
        ) from None


def _archive_at_start(store: Store) -> int:
    try:
        return archive_pending(store)
    except OSError as exc:  # the archive's folders: unwritable, or a file where a folder goes
        why = exc.strerror or str(exc)
        raise InputError(f"cannot write the archive: {why}", file=exc.filename) from None


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
    if not math.isfinite(rate) or not math.isfinite(burst):
        raise InputError(f"not a number of batches per second: {rate}", field="--rate")
    for path, flag in ((tls_cert, "--tls-cert"), (tls_key, "--tls-key")):
        if path is not None and not Path(path).is_file():
            raise InputError("no such file", file=path, field=flag)
    if tls_cert is not None and tls_key is not None:
        check_tls(tls_cert, tls_key)
    # bad policy or notify files, or an address we cannot listen on, stop here, exit 2,
    # before anything is created
    policy = load_policy(policy_file) if policy_file else None
    notify = load_config(notify_file) if notify_file else None
    sock = listen(host, port)
    store: Store | None = None
    try:
        store = Store(data)
        token = admin_token(data)
        secret_key(data)  # the dashboard's key, checked now rather than at build_app
        archived = _archive_at_start(store)
    except BaseException:
        if store is not None:
            store.close()
        sock.close()
        raise
    collector = Collector(store, token, RateLimit(rate=rate, burst=burst), policy=policy)
    schedule = Schedule(Notifier(store, notify, policy)) if notify is not None else None
    if schedule is not None:
        collector.on_stored = schedule.poke
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if archived:
        log.info("archived %d batch(es) stored before the last stop", archived)
    bound = sock.getsockname()
    log.info("listening on %s://%s:%d", "https" if tls_cert else "http", bound[0], bound[1])
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
        uvicorn.Server(settings).run(sockets=[sock])
    finally:
        assert collector.writer is not None
        collector.writer.stop()
        archiver.stop()
        if schedule is not None:
            schedule.stop()
        store.close()
