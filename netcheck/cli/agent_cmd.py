"""``netcheck agent``: a probe on a staff machine that measures on a schedule and uploads.

``enroll`` makes the Ed25519 key pair here (the private key never leaves the state folder) and
registers the public key with a one-time code; ``run`` measures like ``netcheck run`` (same
flags) and delivers; ``upload`` signs and delivers existing results files; ``status`` says how
delivery goes; ``install`` writes the service definition for systemd, launchd or Windows.
"""

from __future__ import annotations

import inspect
import json
import shutil
import sys
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from netcheck.cli import guard, run_cmd, stderr
from netcheck.errors import InputError

app = typer.Typer(
    help="A probe on a staff machine: scheduled runs, spool, signed uploads.", no_args_is_help=True
)

State = Annotated[
    Path | None,
    typer.Option(
        "--state",
        metavar="DIR",
        help="The agent's folder (key, spool). Default: the OS's per-machine data folder.",
    ),
]


def _state(folder: Path | None) -> Path:
    from netcheck.agent.state import default_state_dir

    return folder or default_state_dir()


@app.command("enroll")
@guard
def enroll(
    server: Annotated[str, typer.Option("--server", metavar="URL", help="The collector's URL.")],
    code: Annotated[
        str, typer.Option("--code", metavar="CODE", help="One-time code from `server enroll`.")
    ],
    state: State = None,
    ca_bundle: Annotated[
        str | None,
        typer.Option(
            "--ca-bundle", metavar="FILE", help="CA for the collector (default: the OS store)."
        ),
    ] = None,
) -> None:
    """Make this machine's key pair and register it with the collector."""
    from netcheck.agent.state import KEY_FILE, STATE_FILE, AgentState
    from netcheck.agent.uplink import enroll as register
    from netcheck.agent.uplink import tls_verify
    from netcheck.fleet.evidence import new_key, public_b64, save_private
    from netcheck.netaddr import http_url_problem

    folder = _state(state)
    if folder.exists() and not folder.is_dir():
        raise InputError("not a folder", file=str(folder), field="--state")
    if (folder / STATE_FILE).exists() or (folder / KEY_FILE).exists():
        raise InputError("already enrolled here; use another --state folder", file=str(folder))
    problem = http_url_problem(server)
    if problem is not None:
        raise InputError(problem, field="--server")
    if not code.strip() or not code.isprintable():
        raise InputError("the one-time code from `server enroll` is one word", field="--code")
    if ca_bundle is not None:
        if not Path(ca_bundle).is_file():
            raise InputError("no such file", file=ca_bundle, field="--ca-bundle")
        tls_verify(ca_bundle)  # a file that is not a PEM CA bundle stops here
    key = new_key()
    probe, network = register(server, code.strip(), public_b64(key), ca_bundle)
    # the folder only once the collector said yes: a refused enrollment leaves nothing behind
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise InputError(f"cannot make the folder: {exc.strerror}", file=str(folder)) from None
    save_private(key, folder / KEY_FILE)
    AgentState(
        server=server.rstrip("/"), probe_id=probe, network=network, ca_bundle=ca_bundle
    ).save(folder)
    stderr.print(f"enrolled: probe {probe} in network {network!r}", highlight=False)


def _cycle(folder: Path, options: Any) -> int:
    from netcheck.agent.cycle import keep_and_deliver, measure

    results = measure(folder, options, lambda text: stderr.print(text, highlight=False))
    report = keep_and_deliver(folder, results)
    d = report.delivery
    stderr.print(
        f"measured {report.measured}, signed {report.batches} batch(es), delivered {d.sent}, "
        f"waiting {d.left}" + (f"; dropped {report.dropped}" if report.dropped else ""),
        highlight=False,
    )
    if d.stopped:
        stderr.print(f"delivery stopped: {d.stopped}", highlight=False)
    return 0


def run(
    state: State = None,
    once: Annotated[bool, typer.Option("--once", help="One cycle, then exit.")] = False,
    every: Annotated[
        str, typer.Option("--every", metavar="DURATION", help="Time between cycles: 30m, 1h.")
    ] = "1h",
    jitter: Annotated[
        str,
        typer.Option("--jitter", metavar="DURATION", help="Random extra wait (machines spread)."),
    ] = "10m",
    **flags: Any,
) -> None:
    """Measure like `netcheck run` (same flags), keep the results, deliver them; repeat."""
    from netcheck.agent.cycle import lower_priority, sleep_until_next
    from netcheck.agent.spool import Spool
    from netcheck.agent.state import load_key, load_state
    from netcheck.server.store import parse_duration

    folder = _state(state)
    # enrolled, key and spool readable? (exit 2 before any packet otherwise)
    load_state(folder)
    load_key(folder)
    every_s = parse_duration(every, field="--every", minimum=60)
    jitter_s = parse_duration(jitter, field="--jitter", minimum=0)
    options = run_cmd.run_options(flags)
    # a spool made by an earlier cycle must read back; a first run's is made when it has
    # records, so a bad flag (checked by the cycle's plan) leaves the folder as it was
    if any((folder / name).exists() for name in ("spool", "outbox")):
        Spool(folder).check()
    lower_priority()
    while True:
        _cycle(folder, options)
        if once:
            return
        sleep_until_next(every_s, jitter_s)


#: `agent run` takes every flag of `netcheck run` but these (the agent decides them)
_NOT_FOR_AGENT = {"out", "json_out", "network", "probe_id"}


def _with_run_flags(fn: Any) -> Any:
    """Give ``fn`` (``agent run``) every flag of ``netcheck run`` but ``_NOT_FOR_AGENT``: typer
    reads the signature and the resolved annotations, so the flags stay one definition."""
    mine = typing.get_type_hints(fn, include_extras=True)
    theirs = typing.get_type_hints(run_cmd.run, include_extras=True)
    own = [
        p.replace(annotation=mine[name])
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind != p.VAR_KEYWORD
    ]
    shared = [
        p.replace(kind=p.KEYWORD_ONLY, annotation=theirs[name])
        for name, p in inspect.signature(run_cmd.run).parameters.items()
        if name not in _NOT_FOR_AGENT
    ]
    fn.__signature__ = inspect.Signature([*own, *shared], return_annotation=None)
    fn.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
    return fn


app.command("run")(guard(_with_run_flags(run)))


@app.command("upload")
@guard
def upload(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE.jsonl", help="Results files to sign and send.")
    ],
    state: State = None,
) -> None:
    """Sign and upload existing results files (sites that carry files by hand, migrations)."""
    from netcheck import output
    from netcheck.agent.cycle import keep_and_deliver
    from netcheck.agent.state import load_state

    folder = _state(state)
    enrolled = load_state(folder)
    results = []
    for path in files:
        for result in output.read_results(str(path)):
            if result.probe.network not in (None, enrolled.network):
                raise InputError(
                    f"a record of network {result.probe.network!r}; this probe is enrolled in "
                    f"{enrolled.network!r} (the collector would refuse it)",
                    file=str(path),
                    field="probe.network",
                )
            results.append(result)
    report = keep_and_deliver(folder, results)
    stderr.print(
        f"{len(results)} records signed in {report.batches} batch(es); delivered "
        f"{report.delivery.sent}, waiting {report.delivery.left}",
        highlight=False,
    )
    if report.delivery.stopped:
        raise InputError(f"delivery stopped: {report.delivery.stopped}")


@app.command("status")
@guard
def status(
    state: State = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Server, probe id, spool size, last upload, last error."""
    from netcheck.agent.state import status as read_status

    info = read_status(_state(state))
    if json_out:
        print(json.dumps(info))
        return
    for key, value in info.items():
        print(f"{key:>16}: {value if value is not None else '-'}")


@app.command("install")
@guard
def install(
    state: State = None,
    systemd: Annotated[
        bool, typer.Option("--systemd", help="A systemd service and timer.")
    ] = False,
    launchd: Annotated[bool, typer.Option("--launchd", help="A launchd plist (macOS).")] = False,
    windows_task: Annotated[
        bool, typer.Option("--windows-task", help="A Task Scheduler XML (Windows).")
    ] = False,
    every: Annotated[
        str, typer.Option("--every", metavar="DURATION", help="Time between runs.")
    ] = "1h",
    jitter: Annotated[
        str, typer.Option("--jitter", metavar="DURATION", help="Random extra wait.")
    ] = "10m",
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Where to write the files.")
    ] = Path("."),
) -> None:
    """Write the service definition for this OS (or the one chosen) and say how to enable it."""
    from netcheck.agent import install as defs
    from netcheck.server.store import parse_duration

    if state is not None and any(not c.isprintable() for c in str(state)):
        # a line break would end the unit's ExecStart= and start a directive of its own
        raise InputError("a folder name without control characters", field="--state")
    chosen = [
        n for n, on in (("systemd", systemd), ("launchd", launchd), ("windows", windows_task)) if on
    ]
    if len(chosen) > 1:
        raise InputError("choose one of --systemd, --launchd, --windows-task")
    kind = (
        chosen[0]
        if chosen
        else {"win32": "windows", "darwin": "launchd"}.get(sys.platform, "systemd")
    )
    exe = shutil.which("netcheck") or sys.argv[0]
    command = (
        [exe] if exe.endswith(("netcheck", "netcheck.exe")) else [sys.executable, "-m", "netcheck"]
    )
    folder = (
        str(state) if state else {"systemd": "/var/lib/netcheck-agent"}.get(kind, str(_state(None)))
    )
    make = {"systemd": defs.systemd, "launchd": defs.launchd, "windows": defs.windows_task}[kind]
    files = make(
        command,
        folder,
        parse_duration(every, field="--every", minimum=60),
        parse_duration(jitter, field="--jitter", minimum=0),
    )
    if not out.is_dir():
        raise InputError("not a folder", file=str(out), field="--out")
    for name, text in files.files.items():
        (out / name).write_text(text, encoding="utf-8")
        stderr.print(f"wrote {out / name}", highlight=False)
    stderr.print("to enable it:", highlight=False)
    for line in files.enable:
        print(line)
