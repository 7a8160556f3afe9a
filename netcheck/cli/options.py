"""Flags several commands share (``run``, ``targets list``, ``browse``, ``agent``): one
declaration each, so a flag reads and behaves the same wherever it appears.

In: nothing. Out: ``Annotated`` parameter types for typer; a command declares
``service: Services = None`` and gets the flag, its metavar and its help. Importing this module
costs only typer (it is on the start-up path of ``targets list``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# --- what to measure ----------------------------------------------------------------------------
TargetFiles = Annotated[
    list[str] | None,
    typer.Option(
        "--targets",
        metavar="FILE",
        help="YAML targets file or Citizen Lab CSV (repeatable); adds to the catalogue.",
    ),
]
Services = Annotated[
    list[str] | None,
    typer.Option("--service", metavar="SERVICE", help="Only this service (repeatable)."),
]
Functions = Annotated[
    list[str] | None,
    typer.Option("--function", metavar="FUNCTION", help="Only this function (repeatable)."),
]

# --- how to reach it: resolvers, trust, proxy ---------------------------------------------------
Resolvers = Annotated[
    list[str] | None,
    typer.Option(
        "--resolver",
        metavar="IP[:PORT]",
        help="A resolver to use instead of the system's (repeatable).",
    ),
]
CaBundle = Annotated[
    str | None,
    typer.Option("--ca-bundle", metavar="FILE", help="Public trust anchors (default: certifi)."),
]
LocalCa = Annotated[
    str | None,
    typer.Option(
        "--local-ca",
        metavar="FILE",
        help="Local/corporate anchors (default: what the OS store adds).",
    ),
]
AllowNets = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-net", metavar="CIDR", help="Network whose DNS answers are legitimate (repeatable)."
    ),
]
Proxy = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        metavar="URL",
        help="Proxy URL, 'auto' (with --pac) or 'none'. Default: the environment's.",
    ),
]
Pac = Annotated[str | None, typer.Option("--pac", metavar="FILE|URL", help="PAC file path or URL.")]
Timeout = Annotated[
    float, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds per step.")
]

# --- where the records go -----------------------------------------------------------------------
ResultsOut = Annotated[
    Path | None,
    typer.Option(
        "--out",
        metavar="FILE",
        help="JSON Lines file (appended). Default: results/netcheck-<UTC>.jsonl",
    ),
]
RecordsJson = Annotated[bool, typer.Option("--json", help="Print the records on stdout.")]

# --- how to judge it ----------------------------------------------------------------------------
FingerprintFiles = Annotated[
    list[str] | None,
    typer.Option(
        "--fingerprints",
        metavar="FILE",
        help="Extra fingerprints, OONI CSV format (repeatable).",
    ),
]


# --- files named by flags, checked before any reader opens them --------------------------------
def refuse_unreadable(**files: str | None) -> None:
    """Refuse a file flag (``ca_bundle="x.pem"``; the flag is ``--ca-bundle``) that names a
    FIFO, a socket or a device: the readers behind ``--ca-bundle``, ``--local-ca`` and ``--pac``
    open it as a file, and a FIFO with no writer keeps ``open()`` waiting for ever. A ``--pac``
    URL must be one (an unclosed ``[`` or a port of 99999 reached httpx and came back as a
    crash). ``stat`` never blocks; a missing file is left to the reader's own message."""
    import os
    import stat

    from netcheck.errors import InputError
    from netcheck.netaddr import http_url_problem

    for name, path in files.items():
        flag = "--" + name.replace("_", "-")
        if not path:
            continue
        if flag == "--pac" and path.lower().startswith(("http://", "https://")):
            problem = http_url_problem(path)
            if problem is not None:
                raise InputError(problem, field=flag)
            continue
        if flag == "--pac":
            path = os.path.expanduser(path.removeprefix("file://"))
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise InputError("not a regular file (a pipe, socket or device)", file=path, field=flag)
