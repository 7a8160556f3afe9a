"""``netcheck lab up|run|down|status``: the simulated agency network (root, Linux).

A thin shell over ``netcheck.lab``: ``up`` builds the namespaces and applies a scenario, ``run``
measures scenarios with the real probe inside the client namespace and exits 0 only when every
scenario reported what it should, ``down`` removes everything (idempotent), ``status`` shows
what is running. Progress goes to stderr; ``status --json`` prints JSON on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from netcheck.cli import guard, stderr, stdout
from netcheck.errors import InputError
from netcheck.lab import scenarios, topology
from netcheck.lab.lifecycle import DEFAULT_STATE, Lab

app = typer.Typer(help="The agency-network lab (root, Linux).", no_args_is_help=True)

StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir", metavar="DIR", help="Where configs, CA files, logs and results live."
    ),
]


#: what only the lab writes at the top of its state folder (``Lab._build``: targets.yaml and
#: pki/ first, control.token, daemons' pids/, built.json last)
_LAB_MARKS = ({"built.json"}, {"control.token"}, {"pids"}, {"targets.yaml", "pki"})


def _lab_folder(state_dir: Path) -> Path:
    """``--state-dir`` as the lab may use it: absent, empty, or a folder the lab made. ``down``
    deletes the folder and kills the pids it finds in it, so a mistyped ``--state-dir ~`` or
    ``.`` must stop here (exit 2), not wipe someone's files. Root first: the lab needs it for
    everything, and an unprivileged user may not even see into the folder."""
    topology.require_root()
    if not state_dir.exists() and not state_dir.is_symlink():
        return state_dir
    if not state_dir.is_dir():
        raise InputError("not a folder", file=str(state_dir), field="--state-dir")
    try:
        names = {p.name for p in state_dir.iterdir()}
    except OSError as exc:
        raise InputError(f"cannot list it: {exc.strerror}", file=str(state_dir)) from None
    if names and not any(mark <= names for mark in _LAB_MARKS):
        raise InputError(
            "not a lab state folder (the lab would delete it): give an empty or new folder",
            file=str(state_dir),
            field="--state-dir",
        )
    return state_dir


@app.command("up")
@guard
def up(
    scenario: Annotated[
        str,
        typer.Option("--scenario", metavar="NAME", help="Scenario to apply (see `lab status`)."),
    ] = "clean",
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Build the namespaces, start the services and apply one scenario."""
    picked = scenarios.select(scenario)
    if len(picked) != 1:
        raise InputError("lab up applies exactly one scenario", field="--scenario")
    chosen = picked[0]
    lab = Lab(_lab_folder(state_dir))
    with lab.locked():
        lab.up(chosen)
    stderr.print(
        f"lab up: scenario {chosen.name}; configs in {lab.configs(chosen.name)}",
        highlight=False,
        soft_wrap=True,
    )
    stderr.print(f"probe profile: {state_dir / 'profile.json'}", highlight=False)


@app.command("run")
@guard
def run(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", metavar="NAMES", help="A scenario, a comma-separated list, or 'all'."
        ),
    ] = "all",
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Also copy each scenario's JSONL here."),
    ] = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Run the probe in the lab for each scenario; exit 0 iff every scenario matched."""
    from netcheck.lab.runner import run_scenario

    chosen = scenarios.select(scenario)
    if out is not None and (out.exists() or out.is_symlink()) and not out.is_dir():
        # refused before the lab is built, not after its first scenario
        raise InputError("not a folder", file=str(out), field="--out")
    lab = Lab(_lab_folder(state_dir))
    failed = 0
    with lab.locked():
        if not lab.healthy():
            lab.up(chosen[0])
        for item in chosen:
            result = run_scenario(lab, item, out)
            mark = "ok  " if result.ok else "FAIL"
            stdout.print(
                f"{mark} {item.name:<24} {len(result.records):>3} targets "
                f"{result.seconds:5.1f}s  {item.description}",
                highlight=False,
                markup=False,
            )
            for outcome in result.outcomes:
                if not outcome.ok:
                    stdout.print(
                        f"     {outcome.url}: expected {outcome.expected}, "
                        f"reported {outcome.reported}",
                        highlight=False,
                        markup=False,
                    )
            failed += 0 if result.ok else 1
    stdout.print(f"scenarios matched: {len(chosen) - failed}/{len(chosen)}", highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command("down")
@guard
def down(
    keep_files: Annotated[
        bool, typer.Option("--keep-files", help="Keep configs, logs and results.")
    ] = False,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Stop every lab process and delete the namespaces (safe to repeat, also after a crash)."""
    lab = Lab(_lab_folder(state_dir))
    with lab.locked():
        lab.down(keep_files=keep_files)
    stderr.print("lab down")


@app.command("status")
@guard
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Show namespaces, daemons and the applied scenario; list the scenarios."""
    lab = Lab(state_dir)
    info = lab.status()
    info["scenarios"] = {s.name: s.description for s in scenarios.load().values()}
    if json_out:
        print(json.dumps(info, indent=2))
        return
    for key in ("state", "namespaces", "scenario", "daemons"):
        stdout.print(f"{key}: {info[key]}", highlight=False, markup=False)
    for name, description in scenarios.load().items():
        stdout.print(f"  {name:<24} {description.description}", highlight=False, markup=False)
