"""``netcheck server``: the collector — serve it, enroll probes, revoke them, export the evidence.

In: a data folder and the sub-command's flags. Out: a running collector (``serve``), a one-time
enrollment code on stdout (``enroll``), nothing (``revoke``), or an export file (``export``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netcheck.cli import guard, stderr
from netcheck.errors import InputError

app = typer.Typer(
    help="The fleet's collector: enrollment, signed uploads, archive.", no_args_is_help=True
)

Data = Annotated[
    Path,
    typer.Option("--data", metavar="DIR", help="The collector's data folder (database, archive)."),
]


@app.command("serve")
@guard
def serve(
    data: Data,
    bind: Annotated[
        str, typer.Option("--bind", metavar="HOST:PORT", help="Address and port to listen on.")
    ] = "127.0.0.1:8443",
    tls_cert: Annotated[
        str | None,
        typer.Option("--tls-cert", metavar="FILE", help="Certificate chain (PEM) for HTTPS."),
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option("--tls-key", metavar="FILE", help="Private key (PEM) for HTTPS.")
    ] = None,
    rate: Annotated[
        float,
        typer.Option("--rate", min=0.1, metavar="N", help="Batches per second one probe may send."),
    ] = 5.0,
    policy: Annotated[
        str | None,
        typer.Option("--policy", metavar="FILE", help="Policy the dashboard compares with."),
    ] = None,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify", metavar="CONFIG", help="Send alerts and reports (notify YAML config)."
        ),
    ] = None,
) -> None:
    """Run the collector (HTTPS with --tls-cert/--tls-key, else plain HTTP behind a proxy)."""
    from netcheck.server.serve import serve as run_server

    run_server(
        data,
        bind,
        tls_cert=tls_cert,
        tls_key=tls_key,
        rate=rate,
        burst=max(4 * rate, 20),
        policy_file=policy,
        notify_file=notify,
    )


users = typer.Typer(help="Read-only dashboard users.", no_args_is_help=True)
app.add_typer(users, name="user")


@users.command("add")
@guard
def user_add(
    data: Data,
    name: Annotated[str, typer.Option("--name", metavar="N", help="The user's sign-in name.")],
) -> None:
    """Add a dashboard user (or set a new password); the password is read from stdin."""
    import sys

    from netcheck.server.dashboard.auth import add_user, check_user_name
    from netcheck.server.store import Store

    check_user_name(name)
    raw = sys.stdin.buffer.readline(8192)  # one line, never the whole of a stream
    try:
        password = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError("the password on stdin is not UTF-8 text", field="password") from None
    store = Store(data, create=False)
    try:
        new = add_user(store, name, password)
    finally:
        store.close()
    stderr.print(f"user {name} {'added' if new else 'given a new password'}", highlight=False)


@app.command("enroll")
@guard
def enroll(
    data: Data,
    network: Annotated[
        str,
        typer.Option("--network", metavar="LABEL", help="The network the new probe measures."),
    ],
    expires: Annotated[
        str,
        typer.Option("--expires", metavar="DURATION", help="Code lifetime: 30m, 24h, 7d."),
    ] = "24h",
) -> None:
    """Print a one-time enrollment code for a probe of NETWORK."""
    from netcheck.server.store import Store, check_label, expires_at, parse_duration

    check_label(network)
    seconds = parse_duration(expires)
    store = Store(data)
    try:
        code = store.create_code(network, seconds)
    finally:
        store.close()
    print(code)
    stderr.print(
        f"one-time code for network {network!r}, valid until {expires_at(seconds)}", highlight=False
    )


@app.command("revoke")
@guard
def revoke(
    data: Data,
    probe: Annotated[str, typer.Option("--probe", metavar="ID", help="The probe to revoke.")],
) -> None:
    """Stop a probe's uploads: its key is refused from now on (its records stay)."""
    from netcheck.server.store import Store

    store = Store(data, create=False)
    try:
        store.revoke(probe)
    finally:
        store.close()
    stderr.print(f"probe {probe} revoked", highlight=False)


@app.command("export")
@guard
def export(
    data: Data,
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="JSON Lines file to write (replaced).")
    ],
) -> None:
    """Write every stored record once, with its probe, batch and signature reference."""
    from netcheck.server.export import export as write_export
    from netcheck.server.store import Store

    if out.is_dir():
        raise InputError("is a folder; --out takes a file", file=str(out), field="--out")
    if (out.exists() or out.is_symlink()) and not out.is_file():
        # the export is renamed into place: over /dev/zero (as root) that replaces the device
        raise InputError(
            "not a regular file (a device, pipe or socket)", file=str(out), field="--out"
        )
    if not out.parent.is_dir():
        raise InputError("no such folder", file=str(out.parent), field="--out")
    # nothing in the data folder (database, admin token, dashboard key, archive) is an export's
    # to replace, whatever the spelling (./x, a symlink, ..)
    place = out.parent.resolve() / out.name
    for where in (place, out.resolve()):
        if where == data.resolve() or data.resolve() in where.parents:
            raise InputError(
                "is inside the collector's data folder: write the export elsewhere",
                file=str(out),
                field="--out",
            )
    store = Store(data, create=False)
    try:
        batches, records = write_export(store, out)
    finally:
        store.close()
    stderr.print(f"{records} records in {batches} batches: {out}", highlight=False)
